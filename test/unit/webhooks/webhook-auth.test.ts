import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  checkWebhookAuth,
  parseSignature,
  rawBody,
  readHeader,
  verifySignature,
  verifyToken,
} from '../../../shared/http/webhook-auth'
import { createHarness, sign } from './support'

/** A change to one of body, signature or secret that makes the triple differ from the signed one. */
const tamper = fc.record({
  body: fc.uint8Array({ minLength: 0, maxLength: 512 }),
  secret: fc.string({ minLength: 1, maxLength: 40 }),
  target: fc.constantFrom('body', 'signature', 'secret'),
  position: fc.nat(),
  flip: fc.integer({ min: 1, max: 255 }),
  extra: fc.uint8Array({ minLength: 1, maxLength: 8 }),
})

type Tamper = typeof tamper extends fc.Arbitrary<infer T> ? T : never

function tampered(input: Tamper): {
  body: Uint8Array
  header: string
  secrets: string[]
} {
  const signature = Buffer.from(sign(input.body, input.secret), 'hex')
  let body = Buffer.from(input.body)
  let secret = input.secret
  if (input.target === 'body') {
    if (body.length === 0) body = Buffer.from(input.extra)
    else {
      const i = input.position % body.length
      body[i] = (body[i] ?? 0) ^ input.flip
    }
  } else if (input.target === 'signature') {
    const i = input.position % signature.length
    signature[i] = (signature[i] ?? 0) ^ input.flip
  } else {
    secret = `${secret}${String.fromCharCode(33 + (input.flip % 90))}`
  }
  return { body, header: signature.toString('hex'), secrets: [secret] }
}

describe('verifySignature', () => {
  it('accepts the exact HMAC of the body under any active secret', () => {
    const body = Buffer.from('{"event":"x","data":{}}')
    expect(verifySignature(body, sign(body, 'b'), ['a', 'b'])).toBe(true)
    expect(verifySignature(body, `sha256=${sign(body, 'a')}`, ['a', 'b'])).toBe(true)
    expect(verifySignature(body, ` ${sign(body, 'a')} `, ['a'])).toBe(true)
    expect(verifySignature(body, sign(body, 'c'), ['a', 'b'])).toBe(false)
    expect(verifySignature(body, sign(body, 'a'), [])).toBe(false)
  })

  it('refuses any change to body, signature or secret (property, 10,000 runs)', () => {
    fc.assert(
      fc.property(tamper, (input) => {
        const t = tampered(input)
        expect(verifySignature(t.body, t.header, t.secrets)).toBe(false)
        // The untampered triple is accepted, so the refusal is about the change.
        expect(verifySignature(input.body, sign(input.body, input.secret), [input.secret])).toBe(true)
      }),
      { numRuns: 10_000 },
    )
  })

  it('never throws on arbitrary header strings (property)', () => {
    const body = Buffer.from('{}')
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (header) => {
        expect(verifySignature(body, header, ['s'])).toBe(false)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe('tamper property through the real handler chain', () => {
  it('answers 401 and accepts nothing for tampered deliveries (300 runs)', async () => {
    const h = createHarness({ platformSecret: 'handler-secret' })
    const envelope = fc.record({
      id: fc.string({ minLength: 1, maxLength: 12 }),
      event: fc.constantFrom('channel_live', 'client_created', 'made_up'),
      note: fc.string({ maxLength: 40 }),
    })
    await fc.assert(
      fc.asyncProperty(
        envelope,
        fc.constantFrom('body', 'signature', 'secret'),
        fc.nat(),
        async (e, target, position) => {
          const body = JSON.stringify({ id: e.id, event: e.event, data: { note: e.note } })
          let sent = body
          let signature = sign(body, 'handler-secret')
          if (target === 'body') sent = `${body} `
          else if (target === 'secret') signature = sign(body, 'handler-secret2')
          else {
            const i = position % signature.length
            const c = signature[i] === '0' ? '1' : '0'
            signature = signature.slice(0, i) + c + signature.slice(i + 1)
          }
          const res = await h.post(sent, { unsigned: true, headers: { 'x-360dialog-signature': signature } })
          expect(res.statusCode).toBe(401)
        },
      ),
      { numRuns: 300 },
    )
    expect(h.store.allEvents()).toHaveLength(0)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ unauthorized: 300 })
  })
})

describe('parseSignature', () => {
  it.each([
    ['', null],
    ['abc', null],
    ['g'.repeat(64), null],
    ['a'.repeat(63), null],
    ['a'.repeat(65), null],
    ['a'.repeat(10_000), null],
    ['sha256=', null],
    [`SHA256=${'a'.repeat(64)}`, 32],
    ['a'.repeat(64), 32],
  ])('parses %j to %s bytes', (header, size) => {
    const parsed = parseSignature(header)
    expect(parsed === null ? null : parsed.length).toBe(size)
  })
})

describe('readHeader', () => {
  it('finds a header whatever the case of its name', () => {
    expect(readHeader({ headers: { 'X-360Dialog-Signature': 'v' } }, 'x-360dialog-signature')).toEqual({
      kind: 'one',
      value: 'v',
    })
  })

  it('prefers multiValueHeaders and reports two values as duplicated', () => {
    expect(readHeader({ headers: { a: 'x' }, multiValueHeaders: { A: ['x', 'y'] } }, 'a')).toEqual({
      kind: 'duplicated',
    })
    expect(readHeader({ headers: { a: 'x', A: 'y' } }, 'a')).toEqual({ kind: 'duplicated' })
    expect(readHeader({ headers: null, multiValueHeaders: null }, 'a')).toEqual({ kind: 'missing' })
  })
})

describe('rawBody and verifyToken', () => {
  it('decodes base64 and rejects oversized bodies before decoding', () => {
    expect(rawBody(Buffer.from('hé').toString('base64'), true).toString('utf8')).toBe('hé')
    expect(() => rawBody('A'.repeat(400_000), true)).toThrow('Request body too large')
    expect(rawBody(null, false).length).toBe(0)
  })

  it('compares tokens of any length without throwing', () => {
    expect(verifyToken('abc', 'abc')).toBe(true)
    expect(verifyToken('abcd', 'abc')).toBe(false)
    expect(verifyToken('', 'abc')).toBe(false)
    expect(verifyToken('x'.repeat(5_000), 'x'.repeat(5_000))).toBe(false)
  })

  it('checks the token before the signature and skips the signature when it is off', () => {
    const body = Buffer.from('{}')
    const good = { headers: { 'x-webhook-token': 't', 'x-360dialog-signature': sign(body, 's') } }
    expect(checkWebhookAuth(body, good, { signature: 'required', secrets: ['s'], token: 't' })).toBeNull()
    expect(checkWebhookAuth(body, { headers: {} }, { signature: 'off', secrets: [], token: 't' })).toBe(
      'missing_token',
    )
    expect(
      checkWebhookAuth(
        body,
        { headers: { 'x-webhook-token': 't' } },
        { signature: 'off', secrets: [], token: 't' },
      ),
    ).toBeNull()
  })
})

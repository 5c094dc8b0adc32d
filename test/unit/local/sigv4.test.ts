import { createHash } from 'node:crypto'
import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import { describe, expect, it } from 'vitest'
import { type SignedRequest, verifySigV4 } from '../../../local/sigv4'

const cred = {
  accessKeyId: 'AKIDTEST',
  secretAccessKey: 'test-secret',
  principalArn: 'arn:aws:iam::1:user/t',
}
const NOW = new Date('2026-01-15T10:00:00Z')
const opts = { credentials: [cred], region: 'us-east-1', service: 'execute-api', now: NOW }

async function sign(
  req: { method: string; path: string; query?: Record<string, string>; body?: string },
  o: { secret?: string; region?: string; service?: string; at?: Date } = {},
): Promise<SignedRequest> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: cred.accessKeyId, secretAccessKey: o.secret ?? cred.secretAccessKey },
    region: o.region ?? 'us-east-1',
    service: o.service ?? 'execute-api',
    sha256: Sha256,
  })
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port: 3000,
      path: req.path,
      query: req.query ?? {},
      headers: { host: '127.0.0.1:3000', 'content-type': 'application/json' },
      body: req.body,
    },
    { signingDate: o.at ?? NOW },
  )
  const headers = Object.fromEntries(
    Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), String(v)]),
  )
  return {
    method: req.method,
    path: req.path,
    query: req.query ?? {},
    headers,
    body: Buffer.from(req.body ?? ''),
  }
}

describe('verifySigV4', () => {
  it('accepts a correctly signed request and reports the principal', async () => {
    const r = await verifySigV4(
      await sign({ method: 'POST', path: '/clients/a/channels/b/cancellation', body: '{}' }),
      opts,
    )
    expect(r).toEqual({ ok: true, principalArn: cred.principalArn, accessKeyId: cred.accessKeyId })
  })

  it('accepts query parameters in any order', async () => {
    const req = await sign({ method: 'GET', path: '/channels', query: { limit: '5', clientId: 'x' } })
    expect((await verifySigV4(req, opts)).ok).toBe(true)
  })

  it.each([
    ['a wrong secret', { secret: 'nope' }],
    ['a wrong region', { region: 'eu-west-1' }],
    ['a wrong service', { service: 'lambda' }],
    ['a timestamp over 5 minutes old', { at: new Date(NOW.getTime() - 5 * 60_000 - 1000) }],
    ['a timestamp over 5 minutes ahead', { at: new Date(NOW.getTime() + 5 * 60_000 + 1000) }],
  ])('refuses %s', async (_name, o) => {
    expect((await verifySigV4(await sign({ method: 'GET', path: '/clients' }, o), opts)).ok).toBe(false)
  })

  it('refuses a tampered body, method, path or query', async () => {
    const good = await sign({
      method: 'POST',
      path: '/clients/a/channels/b/cancellation',
      body: '{"reason":"x"}',
    })
    const bodyHash = createHash('sha256').update('{"reason":"y"}').digest('hex')
    const tampered: SignedRequest[] = [
      { ...good, body: Buffer.from('{"reason":"y"}') },
      {
        ...good,
        body: Buffer.from('{"reason":"y"}'),
        headers: { ...good.headers, 'x-amz-content-sha256': bodyHash },
      },
      { ...good, method: 'DELETE' },
      { ...good, path: '/clients/a/channels/c/cancellation' },
      { ...good, query: { x: '1' } },
    ]
    for (const t of tampered) expect((await verifySigV4(t, opts)).ok).toBe(false)
  })

  it('refuses missing, malformed and unknown-key authorization', async () => {
    const good = await sign({ method: 'GET', path: '/clients' })
    const { authorization, ...noAuth } = good.headers
    expect((await verifySigV4({ ...good, headers: noAuth }, opts)).ok).toBe(false)
    expect(
      (await verifySigV4({ ...good, headers: { ...good.headers, authorization: 'Bearer x' } }, opts)).ok,
    ).toBe(false)
    const otherKey = (authorization ?? '').replace('AKIDTEST', 'AKIDOTHER')
    expect(
      (await verifySigV4({ ...good, headers: { ...good.headers, authorization: otherKey } }, opts)).ok,
    ).toBe(false)
  })
})

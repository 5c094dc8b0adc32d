import { describe, expect, it, vi } from 'vitest'
import { ConflictError, UpstreamError, ValidationError } from '../../../shared/domain/errors'
import { type Answer, errorAnswer, isReplayableCode, ok as okAnswer } from '../../../shared/http/answers'
import {
  compose,
  idempotencyKeyHeader,
  makeIdempotent,
  parseIdempotencyKey,
  type WriteRequest,
} from '../../../shared/http/idempotency'
import { canonicalJson, hashRequest } from '../../../shared/services/idempotency/idempotency'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'

const ok = (): Answer => okAnswer(202, { a: 1 })

function setup(): { deps: { store: MemoryStore; clock: FakeClock }; store: MemoryStore; clock: FakeClock } {
  const store = new MemoryStore()
  const clock = new FakeClock()
  return { deps: { store, clock }, store, clock }
}

function request(body: unknown = { reason: 'r' }): WriteRequest<unknown> {
  return {
    principal: 'arn:p',
    params: { id: 'x' },
    key: 'k1',
    body,
    attempt: {
      action: 'op',
      subject: 's',
      principal: 'arn:p',
      idempotencyKey: 'k1',
      requestHash: null,
      upstreamStatus: null,
      details: {},
    },
  }
}

/** The handler wrapped in the idempotency middleware, as the write routes use it. */
function idempotent(
  deps: { store: MemoryStore; clock: FakeClock },
  run: (req: WriteRequest<unknown>) => Promise<Answer>,
): (req: WriteRequest<unknown>) => Promise<Answer> {
  return compose(
    run,
    makeIdempotent<unknown>(deps, { operation: 'op', method: 'POST', path: () => '/x', lockMs: 1000 }),
  )
}

describe('Idempotency-Key parsing', () => {
  it.each([['a'], ['x'.repeat(255)], ['3f1c-uuid-like-0001'], ['with inner space'], ['~!@#$%^&*()']])(
    'accepts %j',
    (key) => {
      expect(parseIdempotencyKey(key)).toBe(key)
    },
  )

  it.each([
    [undefined, 'missing_idempotency_key'],
    ['', 'missing_idempotency_key'],
    ['x'.repeat(256), 'invalid_idempotency_key'],
    [' leading', 'invalid_idempotency_key'],
    ['trailing ', 'invalid_idempotency_key'],
    ['tab\tinside', 'invalid_idempotency_key'],
    ['ünïcode', 'invalid_idempotency_key'],
    ['line\nbreak', 'invalid_idempotency_key'],
  ])('refuses %j with %s', (key, code) => {
    expect(() => parseIdempotencyKey(key)).toThrow(ValidationError)
    try {
      parseIdempotencyKey(key)
    } catch (err) {
      expect((err as ValidationError).code).toBe(code)
    }
  })

  it('finds the header in any case', () => {
    expect(idempotencyKeyHeader({ 'IDEMPOTENCY-KEY': 'a' })).toBe('a')
    expect(idempotencyKeyHeader({ 'idempotency-key': 'b' })).toBe('b')
    expect(idempotencyKeyHeader({ other: 'c' })).toBeUndefined()
    expect(idempotencyKeyHeader(null)).toBeUndefined()
  })
})

describe('request hash', () => {
  it('is the same for equal bodies whatever the key order or spacing', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
    )
    expect(hashRequest('post', '/x', { reason: 'r', a: 1 })).toBe(
      hashRequest('POST', '/x', { a: 1, reason: 'r' }),
    )
    expect(hashRequest('POST', '/x', undefined)).toBe(hashRequest('POST', '/x', {}))
  })

  it('differs by method, path and body', () => {
    const base = hashRequest('POST', '/x', { reason: 'r' })
    expect(hashRequest('DELETE', '/x', { reason: 'r' })).not.toBe(base)
    expect(hashRequest('POST', '/y', { reason: 'r' })).not.toBe(base)
    expect(hashRequest('POST', '/x', { reason: 's' })).not.toBe(base)
  })
})

describe('makeIdempotent', () => {
  it('runs once and answers the stored response byte for byte to the same request, marked as a replay', async () => {
    const { deps } = setup()
    const run = vi.fn(async () => ok())
    const handler = idempotent(deps, run)
    const first = await handler(request())
    const second = await handler(request())
    expect(first.headers).not.toHaveProperty('idempotent-replayed')
    expect(second.headers['idempotent-replayed']).toBe('true')
    expect(second.body).toBe(first.body)
    expect(second.statusCode).toBe(202)
    expect(run).toHaveBeenCalledTimes(1)
  })

  it('refuses the same key with another request (422) without running', async () => {
    const { deps } = setup()
    await idempotent(deps, async () => ok())(request())
    const run = vi.fn(async () => ok())
    const other = idempotent(deps, run)(request({ reason: 'other' }))
    await expect(other).rejects.toThrow(ConflictError)
    await expect(other).rejects.toMatchObject({ code: 'idempotency_key_reused' })
    expect(errorAnswer(await other.catch((e: unknown) => e)).statusCode).toBe(422)
    expect(run).not.toHaveBeenCalled()
  })

  it('answers 409 while the first attempt holds the key, and lets a retry take over an expired lock', async () => {
    const { deps, clock } = setup()
    let release: () => void = () => undefined
    const slow = idempotent(
      deps,
      () =>
        new Promise<Answer>((resolve) => {
          release = () => resolve(ok())
        }),
    )(request())
    await Promise.resolve()
    await expect(idempotent(deps, async () => ok())(request())).rejects.toMatchObject({
      code: 'idempotency_key_in_flight',
    })
    clock.advance(1001)
    const takeover = vi.fn(async () => okAnswer(202, { takeover: true }))
    const taken = await idempotent(deps, takeover)(request())
    expect(taken.body).toBe('{"takeover":true}')
    expect(takeover).toHaveBeenCalledTimes(1)
    release()
    await slow
  })

  it('releases the key after an answer that is not final, so that a retry runs again', async () => {
    const { deps } = setup()
    const unavailable = errorAnswer(
      new UpstreamError('x', { upstreamStatus: 0, retryable: true, code: 'upstream_outcome_unknown' }),
    )
    const run = vi.fn().mockResolvedValueOnce(unavailable).mockResolvedValueOnce(ok())
    const handler = idempotent(deps, run)
    expect((await handler(request())).statusCode).toBe(503)
    expect((await handler(request())).statusCode).toBe(202)
    expect(run).toHaveBeenCalledTimes(2)
  })

  it('keeps a refusal for replay', async () => {
    const { deps } = setup()
    const refused = errorAnswer(new UpstreamError('no', { upstreamStatus: 400, retryable: false }))
    const run = vi.fn().mockResolvedValue(refused)
    const handler = idempotent(deps, run)
    expect((await handler(request())).statusCode).toBe(502)
    const again = await handler(request())
    expect(again.statusCode).toBe(502)
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(run).toHaveBeenCalledTimes(1)
  })

  it('releases the key when the work throws', async () => {
    const { deps } = setup()
    await expect(
      idempotent(deps, async () => {
        throw new Error('boom')
      })(request()),
    ).rejects.toThrow('boom')
    const again = await idempotent(deps, async () => ok())(request())
    expect(again.headers).not.toHaveProperty('idempotent-replayed')
  })

  it('keeps 4xx and upstream refusals for replay; not 409, 429 or other 5xx', () => {
    expect(
      (
        [
          'invalid_body',
          'channel_not_found',
          'idempotency_key_reused',
          'upstream_rejected',
          'revoke_not_applied',
        ] as const
      ).map(isReplayableCode),
    ).toEqual([true, true, true, true, true])
    expect(
      (
        [
          'already_cancelled',
          'cancellation_in_flight',
          'rate_limited',
          'internal_error',
          'upstream_outcome_unknown',
          'upstream_rate_limited',
          'upstream_lookup_failed',
        ] as const
      ).map(isReplayableCode),
    ).toEqual([false, false, false, false, false, false, false])
  })
})

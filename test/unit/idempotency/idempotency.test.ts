import { describe, expect, it, vi } from 'vitest'
import { ConflictError, UnprocessableError, ValidationError } from '../../../shared/domain/errors'
import type { StoredResponse } from '../../../shared/domain/types'
import {
  canonicalJson,
  hashRequest,
  idempotencyKeyHeader,
  isFinalResponse,
  parseIdempotencyKey,
  withIdempotency,
} from '../../../shared/services/idempotency/idempotency'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'

const ok: StoredResponse = {
  statusCode: 202,
  headers: { 'content-type': 'application/json' },
  body: '{"a":1}',
}
const req = { scope: 'arn:p|op', key: 'k1', requestHash: 'h1' }

function setup(): { deps: { store: MemoryStore; clock: FakeClock }; store: MemoryStore; clock: FakeClock } {
  const store = new MemoryStore()
  const clock = new FakeClock()
  return { deps: { store, clock }, store, clock }
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

describe('withIdempotency', () => {
  it('runs once and answers the stored response byte for byte to the same request', async () => {
    const { deps } = setup()
    const run = vi.fn(async () => ok)
    const first = await withIdempotency(deps, req, run, { lockMs: 1000 })
    const second = await withIdempotency(deps, req, run, { lockMs: 1000 })
    expect(first).toEqual({ response: ok, replayed: false })
    expect(second.replayed).toBe(true)
    expect(second.response.body).toBe(ok.body)
    expect(second.response.statusCode).toBe(202)
    expect(run).toHaveBeenCalledTimes(1)
  })

  it('refuses the same key with another request (422) without running', async () => {
    const { deps } = setup()
    await withIdempotency(deps, req, async () => ok, { lockMs: 1000 })
    const run = vi.fn(async () => ok)
    await expect(withIdempotency(deps, { ...req, requestHash: 'h2' }, run, { lockMs: 1000 })).rejects.toThrow(
      UnprocessableError,
    )
    expect(run).not.toHaveBeenCalled()
  })

  it('answers 409 while the first attempt holds the key, and lets a retry take over an expired lock', async () => {
    const { deps, clock } = setup()
    let release: () => void = () => undefined
    const slow = withIdempotency(
      deps,
      req,
      () =>
        new Promise<StoredResponse>((resolve) => {
          release = () => resolve(ok)
        }),
      { lockMs: 1000 },
    )
    await Promise.resolve()
    await expect(withIdempotency(deps, req, async () => ok, { lockMs: 1000 })).rejects.toThrow(ConflictError)
    clock.advance(1001)
    const takeover = vi.fn(async () => ({ ...ok, body: '{"takeover":true}' }))
    const taken = await withIdempotency(deps, req, takeover, { lockMs: 1000 })
    expect(taken.response.body).toBe('{"takeover":true}')
    expect(takeover).toHaveBeenCalledTimes(1)
    release()
    await slow
  })

  it('releases the key after a non-final response so that a retry runs again', async () => {
    const { deps } = setup()
    const unavailable: StoredResponse = { statusCode: 503, headers: {}, body: '{}' }
    const run = vi.fn().mockResolvedValueOnce(unavailable).mockResolvedValueOnce(ok)
    expect((await withIdempotency(deps, req, run, { lockMs: 1000 })).response.statusCode).toBe(503)
    expect((await withIdempotency(deps, req, run, { lockMs: 1000 })).response.statusCode).toBe(202)
    expect(run).toHaveBeenCalledTimes(2)
  })

  it('releases the key when the work throws', async () => {
    const { deps } = setup()
    await expect(
      withIdempotency(
        deps,
        req,
        async () => {
          throw new Error('boom')
        },
        { lockMs: 1000 },
      ),
    ).rejects.toThrow('boom')
    const again = await withIdempotency(deps, req, async () => ok, { lockMs: 1000 })
    expect(again.replayed).toBe(false)
  })

  it('keeps 2xx, 4xx and 502 for replay; not 409, 429 or other 5xx', () => {
    const r = (statusCode: number): StoredResponse => ({ statusCode, headers: {}, body: '' })
    expect([200, 202, 400, 404, 422, 502].map((s) => isFinalResponse(r(s)))).toEqual([
      true,
      true,
      true,
      true,
      true,
      true,
    ])
    expect([409, 429, 500, 503].map((s) => isFinalResponse(r(s)))).toEqual([false, false, false, false])
  })
})

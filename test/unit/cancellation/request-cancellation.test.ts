import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import { CLIENT_B, createApiHarness, OTHER_PRINCIPAL, PRINCIPAL } from '../api/support'

const refused = (): Error =>
  new UpstreamError('partner API POST /x refused with 400', {
    upstreamStatus: 400,
    retryable: false,
    upstreamMessage: 'Channel cannot be cancelled now',
  })
const ambiguous = (): Error =>
  new UpstreamError('partner API POST /x timed out; outcome unknown', {
    upstreamStatus: 0,
    retryable: true,
    code: 'upstream_ambiguous',
  })

const parse = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>

describe('requestCancellation: accepted', () => {
  it('sends one upstream request, records the cancellation, applies the channel and answers 202', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    h.sink.events.length = 0
    const res = await h.request(h.input({ channelId: ch.id, body: '{"reason":"customer left"}' }))
    expect(res.replayed).toBe(false)
    expect(res.response.statusCode).toBe(202)
    const body = parse(res.response.body)
    expect(body).toMatchObject({
      channelId: ch.id,
      clientId: ch.client_id,
      state: 'confirmed',
      requestedBy: PRINCIPAL,
      requestedAt: '2026-01-15T10:00:00.000Z',
      idempotencyKey: 'key-1',
      reason: 'customer left',
      terminatesAt: '2026-01-31T23:59:59Z',
      confirmedAt: '2026-01-15T10:00:00.000Z',
    })
    expect(body).not.toHaveProperty('inFlight')
    expect(body).not.toHaveProperty('version')
    expect(h.api.callCount('requestCancellation')).toBe(1)
    expect((await h.storedChannel(ch.id))?.lifecycle).toBe('pending_deletion')
    expect((await h.storedChannel(ch.id))?.source).toBe('api')
    // The record is stored `unknown` while the call is in flight (its events follow what is stored);
    // the returned channel confirms it.
    expect(h.sink.events.map((e) => [e.detailType, e.detail.from, e.detail.to, e.detail.source])).toEqual([
      ['Cancellation State Changed', null, 'unknown', 'api'],
      ['Channel Lifecycle Changed', 'live', 'pending_deletion', 'api'],
      ['Cancellation State Changed', 'unknown', 'confirmed', 'api'],
    ])
    // Two record writes: the lock (version 1), then the call's answer, confirmation included (version 2);
    // applying the channel leaves the record to the request holding its lock.
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({
      upstreamStatus: 200,
      inFlight: null,
      version: 2,
    })
    const audit = h.store.allAudit()
    expect(audit.map((a) => [a.outcome, a.httpStatus])).toEqual([
      ['upstream_call_started', null],
      ['accepted', 202],
    ])
    expect(audit[1]).toMatchObject({
      subject: `channel#${ch.id}`,
      action: 'cancellation.request',
      principal: PRINCIPAL,
      idempotencyKey: 'key-1',
      upstreamStatus: 200,
    })
    expect(audit[1]?.requestHash).toMatch(/^[0-9a-f]{64}$/)
  })

  it('records `requested` when upstream has not set terminated_at yet', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    vi.spyOn(h.api, 'requestCancellation').mockResolvedValueOnce({
      ...ch,
      modified_at: '2025-03-03T00:00:00Z',
    })
    const res = await h.request(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(202)
    expect(parse(res.response.body)).toMatchObject({
      state: 'requested',
      terminatesAt: null,
      confirmedAt: null,
    })
  })

  it('answers the same key and request with the first response byte for byte, without a new call', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const first = await h.request(h.input({ channelId: ch.id, body: '{"reason":"x"}' }))
    h.clock.advance(60_000)
    const again = await h.request(h.input({ channelId: ch.id, body: '{ "reason" : "x" }' }))
    expect(again.replayed).toBe(true)
    expect(again.response).toEqual(first.response)
    expect(h.api.callCount('requestCancellation')).toBe(1)
    expect(h.store.allAudit().at(-1)).toMatchObject({ outcome: 'replayed', httpStatus: 202 })
  })

  it('looks an unknown channel up upstream, stores it, and then cancels it', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel({}, { stored: false })
    const res = await h.request(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(202)
    expect(h.api.callCount('findChannel')).toBe(1)
    expect(h.api.callCount('requestCancellation')).toBe(1)
    expect(await h.storedChannel(ch.id)).not.toBeNull()
  })
})

describe('requestCancellation: refused before anything is sent', () => {
  it('refuses a missing or invalid key with 400 and stores nothing', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const begin = vi.spyOn(h.store.idempotency, 'begin')
    for (const key of [undefined, '', 'ü', 'x'.repeat(256)]) {
      await expect(h.request(h.input({ channelId: ch.id, idempotencyKey: key }))).resolves.toMatchObject({
        status: 400,
      })
    }
    expect(begin).not.toHaveBeenCalled()
    expect(await h.store.cancellations.get(ch.id)).toBeNull()
    expect(h.api.callCount('requestCancellation')).toBe(0)
    expect(h.store.allAudit().map((a) => [a.outcome, a.httpStatus])).toEqual([
      ['missing_idempotency_key', 400],
      ['missing_idempotency_key', 400],
      ['invalid_idempotency_key', 400],
      ['invalid_idempotency_key', 400],
    ])
  })

  it('accepts a reason of exactly 500 characters (counted as characters, not UTF-16 units)', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const reason = '😀'.repeat(500)
    const res = await h.request(h.input({ channelId: ch.id, body: JSON.stringify({ reason }) }))
    expect(res.response.statusCode).toBe(202)
  })

  it('refuses any body that is not {"reason": string ≤ 500} with 400, storing and sending nothing', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const begin = vi.spyOn(h.store.idempotency, 'begin')
    const bad = fc.oneof(
      // an extra field next to a valid reason
      fc
        .tuple(
          fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== 'reason' && k !== '__proto__'),
          fc.jsonValue(),
          fc.option(fc.string({ maxLength: 50 }), { nil: undefined }),
        )
        .map(([k, v, reason]) => JSON.stringify({ ...(reason === undefined ? {} : { reason }), [k]: v })),
      // an overlong reason
      fc
        .string({ minLength: 501, maxLength: 700, unit: 'grapheme' })
        .map((reason) => JSON.stringify({ reason })),
      // a reason that is not a string
      fc
        .oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.object())
        .map((reason) => JSON.stringify({ reason })),
      // not an object at all, or not JSON
      fc
        .oneof(
          fc.jsonValue().filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)),
          fc.string(),
        )
        .map((v) =>
          typeof v === 'string' && !v.trim().startsWith('{') && v.trim() !== '' ? v : JSON.stringify(v),
        )
        .filter((s) => s.trim() !== ''),
    )
    await fc.assert(
      fc.asyncProperty(
        bad,
        fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme-ascii' }),
        async (body, key) => {
          const k = key.trim() === '' ? 'k' : key.trim()
          const res = h.request(h.input({ channelId: ch.id, body, idempotencyKey: k }))
          await expect(res).resolves.toMatchObject({ status: 400 })
        },
      ),
      { numRuns: 1500 },
    )
    expect(begin).not.toHaveBeenCalled()
    expect(await h.store.cancellations.get(ch.id)).toBeNull()
    expect(h.api.callCount('requestCancellation')).toBe(0)
    expect(h.api.callCount('findChannel')).toBe(0)
    expect(h.store.allAudit().every((a) => a.httpStatus === 400 && a.outcome === 'invalid_body')).toBe(true)
  })

  it('answers 404 for an unknown channel or another client’s, with no upstream cancellation', async () => {
    const h = createApiHarness()
    const mine = await h.addChannel()
    const theirs = await h.addChannel({ client_id: CLIENT_B.id })
    const upstreamOnly = await h.addChannel({ client_id: CLIENT_B.id }, { stored: false })
    for (const channelId of ['Nope00CH', theirs.id, upstreamOnly.id]) {
      const res = await h.request(h.input({ channelId, idempotencyKey: `k-${channelId}` }))
      expect(res.response.statusCode).toBe(404)
      expect(parse(res.response.body)).toEqual({
        error: { code: 'channel_not_found', message: 'Channel not found for this client' },
      })
    }
    expect(h.api.callCount('requestCancellation')).toBe(0)
    expect(await h.store.cancellations.get(mine.id)).toBeNull()
  })

  it('answers 400 invalid_id for a malformed id before any read, budget use or upstream call', async () => {
    const h = createApiHarness({ env: { CANCELLATION_BUDGET_PER_HOUR: '1' } })
    const budget = vi.spyOn(h.store.ops, 'consumeBudget')
    const read = vi.spyOn(h.store.channels, 'get')
    const begin = vi.spyOn(h.store.idempotency, 'begin')
    for (const channelId of ['../etc', 'a'.repeat(129), 'x'.repeat(2100), 'sp ace', 'ümlaut']) {
      const res = await h.request(h.input({ channelId, idempotencyKey: 'k-bad' }))
      expect(res.status).toBe(400)
      expect(res.code).toBe('invalid_id')
    }
    expect(budget).not.toHaveBeenCalled()
    expect(read).not.toHaveBeenCalled()
    expect(begin).not.toHaveBeenCalled()
    expect(h.api.calls).toHaveLength(0)
    // 128 characters is still an id.
    expect((await h.request(h.input({ channelId: 'a'.repeat(128), idempotencyKey: 'k-ok' }))).status).toBe(
      404,
    )
  })

  it('answers 409 with the existing record when the channel is already pending deletion or terminated', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id, idempotencyKey: 'first' }))
    const res = await h.request(
      h.input({ channelId: ch.id, idempotencyKey: 'second', principal: OTHER_PRINCIPAL }),
    )
    expect(res.response.statusCode).toBe(409)
    const body = parse(res.response.body)
    expect(body['error']).toMatchObject({ code: 'already_cancelled' })
    expect(body['cancellation']).toMatchObject({ state: 'confirmed', idempotencyKey: 'first' })

    const terminated = await h.addChannel({ terminated_at: '2025-12-31T23:59:59Z' })
    const t = await h.request(h.input({ channelId: terminated.id, idempotencyKey: 'third' }))
    expect(t.response.statusCode).toBe(409)
    expect(parse(t.response.body)['cancellation']).toBeNull()
    expect(h.api.callCount('requestCancellation')).toBe(1)
  })

  it('reads the channel again after an existing record, so a channel read before it cannot start a second call', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const before = await h.storedChannel(ch.id)
    await h.request(h.input({ channelId: ch.id, idempotencyKey: 'first' }))
    // The channel read side by side with the record answers the state from before the first call
    // (as when it reaches the store just before the first request's writes).
    const get = vi.spyOn(h.store.channels, 'get').mockResolvedValueOnce(before)
    const res = await h.request(
      h.input({ channelId: ch.id, idempotencyKey: 'second', principal: OTHER_PRINCIPAL }),
    )
    expect(res.response.statusCode).toBe(409)
    expect(parse(res.response.body)['error']).toMatchObject({ code: 'already_cancelled' })
    expect(get).toHaveBeenCalledTimes(2)
    expect(h.api.callCount('requestCancellation')).toBe(1)
  })

  it('answers 409 while another key holds the channel’s upstream-call lock', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    let finish: () => void = () => undefined
    const original = h.api.requestCancellation.bind(h.api)
    vi.spyOn(h.api, 'requestCancellation').mockImplementationOnce(
      (c, id) => new Promise((resolve) => (finish = () => resolve(original(c, id)))),
    )
    const first = h.request(h.input({ channelId: ch.id, idempotencyKey: 'a' }))
    await vi.waitFor(() => expect(h.api.requestCancellation).toHaveBeenCalledTimes(1))
    const second = await h.request(h.input({ channelId: ch.id, idempotencyKey: 'b' }))
    expect(second.response.statusCode).toBe(409)
    expect(parse(second.response.body)).toMatchObject({ error: { code: 'cancellation_in_flight' } })
    const sameKey = h.request(h.input({ channelId: ch.id, idempotencyKey: 'a' }))
    await expect(sameKey).resolves.toMatchObject({ status: 409, code: 'idempotency_key_in_flight' })
    finish()
    expect((await first).response.statusCode).toBe(202)
    expect(h.api.requestCancellation).toHaveBeenCalledTimes(1)
  })

  it('refuses the same key with another channel or body (422)', async () => {
    const h = createApiHarness()
    const a = await h.addChannel()
    const b = await h.addChannel()
    await h.request(h.input({ channelId: a.id, body: '{"reason":"x"}' }))
    await expect(h.request(h.input({ channelId: b.id, body: '{"reason":"x"}' }))).resolves.toMatchObject({
      status: 422,
      code: 'idempotency_key_reused',
    })
    await expect(h.request(h.input({ channelId: a.id, body: '{"reason":"y"}' }))).resolves.toMatchObject({
      status: 422,
    })
    expect(h.api.callCount('requestCancellation')).toBe(1)
    expect(h.store.allAudit().filter((e) => e.httpStatus === 422)).toHaveLength(2)
  })

  it('answers 429 with Retry-After over the budget, sends nothing, and keeps the key usable', async () => {
    const h = createApiHarness({ env: { CANCELLATION_BUDGET_PER_HOUR: '2' } })
    const chans = [await h.addChannel(), await h.addChannel(), await h.addChannel()]
    for (const [i, c] of chans.slice(0, 2).entries()) {
      await h.request(h.input({ channelId: c.id, idempotencyKey: `k${i}` }))
    }
    const over = await h.request(h.input({ channelId: chans[2]!.id, idempotencyKey: 'k2' }))
    expect(over.response.statusCode).toBe(429)
    expect(over.response.headers['retry-after']).toBe('3600')
    expect(parse(over.response.body)).toMatchObject({ error: { code: 'rate_limited' } })
    expect(h.api.callCount('requestCancellation')).toBe(2)
    expect(h.store.allAudit().at(-1)).toMatchObject({ outcome: 'rate_limited', httpStatus: 429 })
    // Another principal has its own budget; the same principal may go on in the next window.
    const other = await h.request(
      h.input({ channelId: chans[2]!.id, idempotencyKey: 'k2', principal: OTHER_PRINCIPAL }),
    )
    expect(other.response.statusCode).toBe(202)
    h.clock.advance(3_600_000)
    const later = await h.request(h.input({ channelId: chans[2]!.id, idempotencyKey: 'k2' }))
    expect(later.response.statusCode).toBe(409)
  })
})

describe('requestCancellation: upstream failures', () => {
  it('answers an upstream 429 with 503 and Retry-After, records `failed`, and lets the same key retry', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    h.api.failNext(
      'requestCancellation',
      () =>
        new UpstreamError('partner API POST /x rate limited', {
          upstreamStatus: 429,
          retryable: true,
          code: 'upstream_rate_limited',
          retryAfterSeconds: 12,
        }),
    )
    const res = await h.request(h.input({ channelId: ch.id }))
    expect(res.status).toBe(503)
    expect(res.code).toBe('upstream_rate_limited')
    expect(res.response.headers['retry-after']).toBe('12')
    // Nothing happened upstream: `failed`, not `unknown`, so a retry needs no read first.
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({
      state: 'failed',
      upstreamStatus: 429,
      inFlight: null,
    })
    expect(h.store.allAudit().at(-1)).toMatchObject({ outcome: 'upstream_rate_limited', httpStatus: 503 })
    const retry = await h.request(h.input({ channelId: ch.id }))
    expect(retry.replayed).toBe(false)
    expect(retry.status).toBe(202)
    expect(h.api.callCount('findChannel')).toBe(0)
    expect(h.api.callCount('requestCancellation')).toBe(2)
  })

  it('records `failed` and answers 502 with upstream’s message on a 4xx, and replays that', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    h.api.failNext('requestCancellation', refused)
    const res = await h.request(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(502)
    expect(parse(res.response.body)).toEqual({
      error: {
        code: 'upstream_rejected',
        message: 'Upstream refused the cancellation: Channel cannot be cancelled now',
      },
    })
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({
      state: 'failed',
      upstreamStatus: 400,
      upstreamMessage: 'Channel cannot be cancelled now',
      inFlight: null,
    })
    const again = await h.request(h.input({ channelId: ch.id }))
    expect(again).toMatchObject({ response: res.response, replayed: true })
    // A new key may try again after a refusal.
    const retry = await h.request(h.input({ channelId: ch.id, idempotencyKey: 'key-2' }))
    expect(retry.response.statusCode).toBe(202)
    expect(h.api.callCount('requestCancellation')).toBe(2)
  })

  it('records `unknown` and answers 503 on an ambiguous outcome; a retry reads upstream and makes no new call when it did cancel', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    // The call reached upstream and cancelled, but the answer was lost.
    vi.spyOn(h.api, 'requestCancellation').mockImplementationOnce(async (clientId, channelId) => {
      h.api.channels.set(channelId, {
        ...h.api.channels.get(channelId)!,
        terminated_at: '2026-01-31T23:59:59Z',
        modified_at: '2026-01-15T10:00:00Z',
      })
      void clientId
      throw ambiguous()
    })
    const res = await h.request(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(503)
    expect(parse(res.response.body)).toEqual({
      error: { code: 'upstream_outcome_unknown', message: 'Temporarily unavailable, please retry' },
    })
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({ state: 'unknown', inFlight: null })

    const retry = await h.request(h.input({ channelId: ch.id }))
    expect(retry.response.statusCode).toBe(202)
    expect(parse(retry.response.body)).toMatchObject({
      state: 'confirmed',
      terminatesAt: '2026-01-31T23:59:59Z',
    })
    expect(h.api.requestCancellation).toHaveBeenCalledTimes(1)
    expect(h.store.allAudit().at(-1)).toMatchObject({ outcome: 'resolved_without_new_call', httpStatus: 202 })
  })

  it('sends a new call after an ambiguous outcome when upstream shows no cancellation', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    h.api.failNext('requestCancellation', ambiguous)
    expect((await h.request(h.input({ channelId: ch.id }))).response.statusCode).toBe(503)
    const retry = await h.request(h.input({ channelId: ch.id, idempotencyKey: 'other' }))
    expect(retry.response.statusCode).toBe(202)
    expect(h.api.callCount('findChannel')).toBe(1)
    expect(h.api.callCount('requestCancellation')).toBe(2)
  })

  it('lets a retry take over after a crash mid-call, resolving by reading upstream first', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    // A crash: the upstream call never returns and the function dies.
    vi.spyOn(h.api, 'requestCancellation').mockImplementationOnce(() => new Promise(() => undefined))
    void h.request(h.input({ channelId: ch.id }))
    await vi.waitFor(() => expect(h.api.requestCancellation).toHaveBeenCalledTimes(1))
    await expect(h.request(h.input({ channelId: ch.id }))).resolves.toMatchObject({ status: 409 })
    h.clock.advance(10 * 60_000)
    const retry = await h.request(h.input({ channelId: ch.id }))
    expect(retry.response.statusCode).toBe(202)
    expect(h.api.callCount('findChannel')).toBe(1)
    expect(h.api.requestCancellation).toHaveBeenCalledTimes(2)
  })

  it('answers a retry of its own accepted request with 202 even after the stored key expired', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const first = await h.request(h.input({ channelId: ch.id }))
    // The idempotency record is gone (TTL); the cancellation record still names the key.
    await h.store.idempotency.release(`${PRINCIPAL}|cancellation.request`, 'key-1')
    const again = await h.request(h.input({ channelId: ch.id }))
    expect(first.response.statusCode).toBe(202)
    expect(again.response.statusCode).toBe(202)
    expect(h.api.callCount('requestCancellation')).toBe(1)
  })

  it('never puts upstream bodies, stack traces or secrets in the response', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    h.api.failNext(
      'requestCancellation',
      () =>
        new UpstreamError('partner API POST /partners/testPA/... refused with 403 key=canary-partner-key', {
          upstreamStatus: 403,
          retryable: false,
          upstreamMessage: 'Forbidden\n\u0000at Object.<anonymous> (/var/task/index.js:1:1)',
        }),
    )
    const res = await h.request(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(502)
    expect(res.response.body).not.toContain('canary-partner-key')
    expect(res.response.body).not.toContain('/partners/')
    expect(res.response.body).not.toContain('\\u0000')
    expect(res.response.body).not.toContain('\\n')
  })
})

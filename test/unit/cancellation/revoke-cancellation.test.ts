import { describe, expect, it, vi } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import { EXTERNAL_REQUESTER } from '../../../shared/services/cancellation/revoke-cancellation'
import { createApiHarness, PRINCIPAL } from '../api/support'

const parse = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>

describe('revokeCancellation', () => {
  it('revokes a pending cancellation upstream with one call, records `revoked` and answers 200', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    h.sink.events.length = 0
    const res = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'revoke-1' }))
    expect(res.response.statusCode).toBe(200)
    expect(parse(res.response.body)).toMatchObject({ state: 'revoked', terminatesAt: null, channelId: ch.id })
    expect(h.api.callCount('revokeCancellation')).toBe(1)
    expect((await h.storedChannel(ch.id))?.lifecycle).toBe('live')
    expect(h.sink.events.map((e) => [e.detailType, e.detail.from, e.detail.to])).toEqual([
      ['Channel Lifecycle Changed', 'pending_deletion', 'live'],
      ['Cancellation State Changed', 'confirmed', 'revoked'],
    ])
    expect(
      h.store
        .allAudit()
        .slice(-2)
        .map((a) => [a.action, a.outcome, a.httpStatus]),
    ).toEqual([
      ['cancellation.revoke', 'upstream_call_started', null],
      ['cancellation.revoke', 'revoked', 200],
    ])
    const again = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'revoke-1' }))
    expect(again).toMatchObject({ response: res.response, replayed: true })
  })

  it('answers 409 when nothing is pending, sending no revoke', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const res = await h.revoke(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(409)
    expect(parse(res.response.body)).toEqual({
      error: { code: 'nothing_pending', message: 'No cancellation is pending for this channel' },
      cancellation: null,
    })
    expect(h.api.callCount('revokeCancellation')).toBe(0)
  })

  it('revokes a cancellation made outside PartnerOps, creating its record', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel({ terminated_at: '2026-01-31T23:59:59Z' })
    const res = await h.revoke(h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(200)
    expect(parse(res.response.body)).toMatchObject({ state: 'revoked', requestedBy: EXTERNAL_REQUESTER })
  })

  it('marks a record revoked when upstream shows the cancellation already gone (e.g. an earlier ambiguous revoke)', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    h.api.channels.set(ch.id, {
      ...h.api.channels.get(ch.id)!,
      terminated_at: null,
      modified_at: '2026-01-15T11:00:00Z',
    })
    const res = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r' }))
    expect(res.response.statusCode).toBe(409)
    expect(parse(res.response.body)['cancellation']).toMatchObject({ state: 'revoked' })
    expect(h.api.callCount('revokeCancellation')).toBe(0)
  })

  it('keeps the cancellation as it was on an upstream refusal (502); an ambiguous outcome (503) leaves it `unknown`', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    h.api.failNext(
      'revokeCancellation',
      () => new UpstreamError('x', { upstreamStatus: 400, retryable: false, upstreamMessage: 'Too late' }),
      () => new UpstreamError('x', { upstreamStatus: 504, retryable: true }),
    )
    const refused = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'a' }))
    expect(refused.response.statusCode).toBe(502)
    expect(parse(refused.response.body)).toMatchObject({
      error: { message: 'Upstream refused the revoke: Too late' },
    })
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({
      state: 'confirmed',
      inFlight: null,
      upstreamStatus: 400,
      upstreamMessage: 'Too late',
    })
    const unknown = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'b' }))
    expect(unknown.response.statusCode).toBe(503)
    expect(unknown.code).toBe('upstream_outcome_unknown')
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({ state: 'unknown', inFlight: null })
  })

  it('refuses a missing key (400) and an unknown channel (404) without any upstream call', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const find = vi.spyOn(h.api, 'findChannel')
    await expect(h.revoke(h.input({ channelId: ch.id, idempotencyKey: undefined }))).resolves.toMatchObject({
      status: 400,
    })
    await expect(h.revoke(h.input({ channelId: ch.id, body: '{"force":true}' }))).resolves.toMatchObject({
      status: 400,
    })
    const res = await h.revoke(h.input({ channelId: 'Unknown0CH' }))
    expect(res.response.statusCode).toBe(404)
    expect(find).toHaveBeenCalledTimes(1)
    expect(h.api.callCount('revokeCancellation')).toBe(0)
    expect(h.store.allAudit().map((a) => a.principal)).toEqual([PRINCIPAL, PRINCIPAL, PRINCIPAL])
  })

  it('answers 502 revoke_not_applied and keeps the record when upstream still shows terminated_at after the revoke', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    const before = await h.store.cancellations.get(ch.id)
    // Upstream answers 200 but the cancellation stands: the answer and the read right after both show it.
    vi.spyOn(h.api, 'revokeCancellation').mockImplementationOnce(async () =>
      structuredClone(h.api.channels.get(ch.id)!),
    )
    const res = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r1' }))
    expect(res.status).toBe(502)
    expect(res.code).toBe('revoke_not_applied')
    const after = await h.store.cancellations.get(ch.id)
    expect(after).toMatchObject({ state: 'confirmed', terminatesAt: before?.terminatesAt, inFlight: null })
    expect((await h.storedChannel(ch.id))?.lifecycle).toBe('pending_deletion')
    expect(h.sink.events.filter((e) => e.detail.to === 'revoked')).toHaveLength(0)
    expect(h.store.allAudit().at(-1)).toMatchObject({ outcome: 'revoke_not_applied', httpStatus: 502 })
  })

  it('trusts a read right after the revoke when upstream’s answer is stale', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    const stale = structuredClone(h.api.channels.get(ch.id)!)
    const real = h.api.revokeCancellation.bind(h.api)
    vi.spyOn(h.api, 'revokeCancellation').mockImplementationOnce(async (clientId, channelId) => {
      await real(clientId, channelId)
      return stale
    })
    const res = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r1' }))
    expect(res.status).toBe(200)
    expect(parse(res.response.body)).toMatchObject({ state: 'revoked' })
    expect(h.api.callCount('findChannel')).toBe(2)
  })

  it('answers 503 and records `unknown` when the outcome cannot be read, and resolves it by reading before any retry', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    const real = h.api.revokeCancellation.bind(h.api)
    vi.spyOn(h.api, 'revokeCancellation').mockImplementationOnce(async (clientId, channelId) => {
      await real(clientId, channelId)
      throw new UpstreamError('partner API revoke timed out; outcome unknown', {
        upstreamStatus: 0,
        retryable: true,
        code: 'upstream_ambiguous',
      })
    })
    const res = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r1' }))
    expect(res.status).toBe(503)
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({ state: 'unknown', inFlight: null })
    // The retry (same key: a 503 is not kept) reads upstream first, sees the revoke applied, sends nothing.
    const retry = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r1' }))
    expect(retry.status).toBe(200)
    expect(parse(retry.response.body)).toMatchObject({ state: 'revoked' })
    expect(h.api.callCount('revokeCancellation')).toBe(1)
  })

  it('answers an upstream 429 on a revoke with 503 and Retry-After, leaving the cancellation as it was', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await h.request(h.input({ channelId: ch.id }))
    h.api.failNext(
      'revokeCancellation',
      () =>
        new UpstreamError('rate limited', {
          upstreamStatus: 429,
          retryable: true,
          code: 'upstream_rate_limited',
        }),
    )
    const res = await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r1' }))
    expect(res.status).toBe(503)
    expect(res.response.headers['retry-after']).toBe('30')
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({ state: 'confirmed', inFlight: null })
    expect((await h.revoke(h.input({ channelId: ch.id, idempotencyKey: 'r1' }))).status).toBe(200)
  })
})

import { describe, expect, it, vi } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import { requestCancellation } from '../../../shared/services/cancellation/request-cancellation'
import {
  EXTERNAL_REQUESTER,
  revokeCancellation,
} from '../../../shared/services/cancellation/revoke-cancellation'
import { createApiHarness, PRINCIPAL } from '../api/support'

const parse = (body: string): Record<string, unknown> => JSON.parse(body) as Record<string, unknown>

describe('revokeCancellation', () => {
  it('revokes a pending cancellation upstream with one call, records `revoked` and answers 200', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await requestCancellation(h.deps, h.input({ channelId: ch.id }))
    h.sink.events.length = 0
    const res = await revokeCancellation(h.deps, h.input({ channelId: ch.id, idempotencyKey: 'revoke-1' }))
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
    const again = await revokeCancellation(h.deps, h.input({ channelId: ch.id, idempotencyKey: 'revoke-1' }))
    expect(again).toEqual({ response: res.response, replayed: true })
  })

  it('answers 409 when nothing is pending, sending no revoke', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const res = await revokeCancellation(h.deps, h.input({ channelId: ch.id }))
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
    const res = await revokeCancellation(h.deps, h.input({ channelId: ch.id }))
    expect(res.response.statusCode).toBe(200)
    expect(parse(res.response.body)).toMatchObject({ state: 'revoked', requestedBy: EXTERNAL_REQUESTER })
  })

  it('marks a record revoked when upstream shows the cancellation already gone (e.g. an earlier ambiguous revoke)', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await requestCancellation(h.deps, h.input({ channelId: ch.id }))
    h.api.channels.set(ch.id, {
      ...h.api.channels.get(ch.id)!,
      terminated_at: null,
      modified_at: '2026-01-15T11:00:00Z',
    })
    const res = await revokeCancellation(h.deps, h.input({ channelId: ch.id, idempotencyKey: 'r' }))
    expect(res.response.statusCode).toBe(409)
    expect(parse(res.response.body)['cancellation']).toMatchObject({ state: 'revoked' })
    expect(h.api.callCount('revokeCancellation')).toBe(0)
  })

  it('keeps the cancellation as it was on an upstream refusal (502) or an ambiguous outcome (503)', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    await requestCancellation(h.deps, h.input({ channelId: ch.id }))
    h.api.failNext(
      'revokeCancellation',
      () => new UpstreamError('x', { upstreamStatus: 400, retryable: false, upstreamMessage: 'Too late' }),
      () => new UpstreamError('x', { upstreamStatus: 504, retryable: true }),
    )
    const refused = await revokeCancellation(h.deps, h.input({ channelId: ch.id, idempotencyKey: 'a' }))
    expect(refused.response.statusCode).toBe(502)
    expect(parse(refused.response.body)).toMatchObject({
      error: { message: 'Upstream refused the revoke: Too late' },
    })
    const unknown = await revokeCancellation(h.deps, h.input({ channelId: ch.id, idempotencyKey: 'b' }))
    expect(unknown.response.statusCode).toBe(503)
    expect(await h.store.cancellations.get(ch.id)).toMatchObject({ state: 'confirmed', inFlight: null })
  })

  it('refuses a missing key (400) and an unknown channel (404) without any upstream call', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const find = vi.spyOn(h.api, 'findChannel')
    await expect(
      revokeCancellation(h.deps, h.input({ channelId: ch.id, idempotencyKey: undefined })),
    ).rejects.toMatchObject({ status: 400 })
    await expect(
      revokeCancellation(h.deps, h.input({ channelId: ch.id, body: '{"force":true}' })),
    ).rejects.toMatchObject({ status: 400 })
    const res = await revokeCancellation(h.deps, h.input({ channelId: 'Unknown0CH' }))
    expect(res.response.statusCode).toBe(404)
    expect(find).toHaveBeenCalledTimes(1)
    expect(h.api.callCount('revokeCancellation')).toBe(0)
    expect(h.store.allAudit().map((a) => a.principal)).toEqual([PRINCIPAL, PRINCIPAL, PRINCIPAL])
  })
})

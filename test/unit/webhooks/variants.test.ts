import { describe, expect, it } from 'vitest'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import { applyChannel } from '../../../shared/services/state/apply-upstream'
import { bodyOf, createHarness, FIXTURE_EVENTS, type Harness } from './support'

/** The fixture channel of channel_live, as a plain object to cut down. */
const LIVE = FIXTURE_EVENTS.channel_live?.data as Record<string, unknown>
const CLIENT = FIXTURE_EVENTS.client_created?.data as Record<string, unknown>

let n = 0
async function deliver(h: Harness, event: string, data: unknown, extra: Record<string, unknown> = {}) {
  const res = await h.deliver(JSON.stringify({ id: `v${++n}`, event, data, ...extra }))
  expect(res.statusCode).toBe(200)
  const key = bodyOf(res).eventKey as string
  return (await h.store.events.get(key)) ?? undefined
}

/** A channel body with only these fields (and its ids). */
const minimal = (patch: Record<string, unknown> = {}) => ({ id: 'Min1CH', client_id: 'Min1CL', ...patch })

describe('real-world webhook variants (README, Webhooks)', () => {
  it('applies channel_permission_granted like the other channel events', async () => {
    const h = createHarness()
    const event = await deliver(h, 'channel_permission_granted', {
      ...LIVE,
      id: 'Perm1CH',
      status: 'ready',
      account_mode: 'sandbox',
      integration: { enabled: true, app_id: '555', state: 'running' },
    })
    expect(event).toMatchObject({ status: 'applied', reason: null })
    expect(await h.store.channels.get('Perm1CH')).toMatchObject({
      lifecycle: 'onboarding',
      source: 'webhook',
    })
    expect(h.changes()).toEqual([
      expect.objectContaining({
        detailType: 'Channel Discovered',
        detail: expect.objectContaining({ channelId: 'Perm1CH', to: 'onboarding' }),
      }),
    ])
  })

  it('applies a client_created whose client sits only under data.client', async () => {
    const h = createHarness()
    const { id, ...rest } = CLIENT
    const event = await deliver(h, 'client_created', { client: { id, ...rest } })
    expect(event).toMatchObject({ status: 'applied' })
    expect(await h.store.clients.get(id as string)).toMatchObject({ name: 'Casa Verde Tours' })
    // A channel-shaped body: the client id from client_id when the embedded client has none.
    const other = await deliver(h, 'client_created', {
      id: 'SomeCH',
      client_id: 'Other1CL',
      client: { name: 'Other Ltd' },
    })
    expect(other).toMatchObject({ status: 'applied' })
    expect(await h.store.clients.get('Other1CL')).toMatchObject({ name: 'Other Ltd' })
  })

  it('takes channel_live without account_mode as live, and discovers the channel as live, not draft', async () => {
    const h = createHarness()
    const event = await deliver(
      h,
      'channel_live',
      minimal({ status: 'ready', availability_status: 'ready', setup_info: { phone_number: 4930111 } }),
    )
    expect(event).toMatchObject({ status: 'applied' })
    expect(await h.store.channels.get('Min1CH')).toMatchObject({
      lifecycle: 'live',
      accountMode: null,
      phoneNumber: '4930111',
    })
    expect(h.changes()[0]?.detail).toMatchObject({ to: 'live' })
  })

  it('lets a present field win over the event name', async () => {
    const h = createHarness()
    await deliver(h, 'channel_live', minimal({ account_mode: 'sandbox' }))
    expect((await h.store.channels.get('Min1CH'))?.lifecycle).toBe('draft')
    await deliver(h, 'cancellation_request', minimal({ id: 'Min2CH', terminated_at: '2025-01-01T00:00:00Z' }))
    expect((await h.store.channels.get('Min2CH'))?.lifecycle).toBe('terminated')
  })

  it('takes cancellation_request without terminated_at as pending deletion, cancellation_processed as terminated', async () => {
    const h = createHarness()
    await deliver(h, 'channel_live', minimal({ account_mode: 'live' }), { timestamp: '2025-06-01T00:00:00Z' })
    await deliver(h, 'cancellation_request', minimal())
    expect(await h.store.channels.get('Min1CH')).toMatchObject({
      lifecycle: 'pending_deletion',
      terminatedAt: null,
    })
    h.clock.advance(60_000)
    await deliver(h, 'cancellation_processed', minimal())
    expect((await h.store.channels.get('Min1CH'))?.lifecycle).toBe('terminated')
  })

  it('finds the channel under data.channel with the client beside it, and turns numeric ids into strings', async () => {
    const h = createHarness()
    const event = await deliver(h, 'channel_ready', {
      channel: { id: 9001, status: 'ready', account_mode: 'sandbox', integration: { app_id: 104148 } },
      client: { id: 77, name: 'Numbers GmbH', partner_payload: 'tenant:9' },
    })
    expect(event).toMatchObject({ status: 'applied' })
    expect(await h.store.channels.get('9001')).toMatchObject({
      clientId: '77',
      appId: '104148',
      companyName: 'Numbers GmbH',
      partnerPayload: 'tenant:9',
      lifecycle: 'onboarding',
    })
  })

  it('stores and serves hub_status and cancelled_at, deciding only where terminated_at is absent', async () => {
    const h = createHarness()
    await deliver(h, 'channel_live', minimal({ account_mode: 'live', hub_status: 'pending_deletion' }))
    expect(await h.store.channels.get('Min1CH')).toMatchObject({
      lifecycle: 'pending_deletion',
      hubStatus: 'pending_deletion',
      cancelledAt: null,
    })
    await deliver(
      h,
      'channel_live',
      minimal({
        id: 'Min2CH',
        account_mode: 'live',
        hub_status: 'deleted',
        terminated_at: '2026-12-31T00:00:00Z',
      }),
    )
    expect(await h.store.channels.get('Min2CH')).toMatchObject({
      lifecycle: 'pending_deletion',
      hubStatus: 'deleted',
    })
    await deliver(
      h,
      'channel_live',
      minimal({ id: 'Min3CH', account_mode: 'live', cancelled_at: '2025-06-01T00:00:00Z' }),
    )
    expect(await h.store.channels.get('Min3CH')).toMatchObject({
      lifecycle: 'pending_deletion',
      cancelledAt: '2025-06-01T00:00:00Z',
    })
  })

  it('keeps unknown fields in the stored raw event and does not reject for them', async () => {
    const h = createHarness()
    const event = await deliver(h, 'channel_running', minimal({ is_on_biz_app: true, brand_new: { x: 1 } }), {
      webhook_version: 3,
    })
    expect(event).toMatchObject({ status: 'applied' })
    expect(JSON.parse(event?.body ?? '{}')).toMatchObject({
      webhook_version: 3,
      data: { brand_new: { x: 1 } },
    })
  })

  it('attaches a channel that names no client to the client it is stored under, and keeps it unmatched when unknown', async () => {
    const h = createHarness()
    const unknown = await deliver(h, 'channel_live', { id: 'Lone1CH', account_mode: 'live' })
    expect(unknown).toMatchObject({ status: 'rejected' })
    expect(unknown?.reason).toMatch(/^channel_not_found: names no client/)
    await applyChannel(
      h.deps,
      { id: 'Lone1CH', client_id: 'Home1CL', account_mode: 'sandbox' } as UpstreamChannel,
      {
        source: 'poll',
        kind: 'snapshot',
        receivedAt: '2025-06-01T00:00:00Z',
      },
    )
    const known = await deliver(h, 'channel_live', { id: 'Lone1CH', account_mode: 'live' })
    expect(known).toMatchObject({ status: 'applied' })
    expect(await h.store.channels.get('Lone1CH')).toMatchObject({ clientId: 'Home1CL', lifecycle: 'live' })
  })

  it('applies channel_permission_revoked like the other channel events and marks the key permission missing', async () => {
    const h = createHarness()
    const event = await deliver(h, 'channel_permission_revoked', minimal())
    expect(event).toMatchObject({ status: 'applied' })
    expect(await h.store.channels.get('Min1CH')).toMatchObject({ keyStatus: 'permission_missing' })
  })
})

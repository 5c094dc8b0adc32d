import { describe, expect, it } from 'vitest'
import type { CancellationRecord } from '../../../shared/domain/types'
import { applyWebhookEvent, UNMATCHED_REASON } from '../../../shared/services/webhooks/apply-webhook-event'
import { bodyOf, createHarness, FIXTURE_EVENTS, type Harness } from './support'

const ORDER = [
  'client_created',
  'channel_created',
  'channel_submitted',
  'channel_ready',
  'channel_running',
  'channel_live',
  'cancellation_request',
  'cancellation_revoke',
  'cancellation_processed',
  'account_violation',
  'account_restriction',
  'template_messaging_enabled',
  'template_messaging_disabled',
  'waba_template_status_changed',
]

function cancellation(channelId: string, clientId: string): CancellationRecord {
  return {
    channelId,
    clientId,
    state: 'requested',
    requestedBy: 'arn:aws:iam::000000000000:user/ops',
    requestedAt: '2025-06-12T14:00:00.000Z',
    idempotencyKey: 'k1',
    reason: null,
    terminatesAt: null,
    confirmedAt: null,
    upstreamStatus: 202,
    upstreamMessage: null,
    updatedAt: '2025-06-12T14:00:00.000Z',
    inFlight: null,
    version: 1,
  }
}

async function postFixture(h: Harness, name: string): Promise<string> {
  const res = await h.deliver(JSON.stringify(FIXTURE_EVENTS[name]))
  expect(res.statusCode).toBe(200)
  const key = bodyOf(res).eventKey as string
  return (await h.store.events.get(key))?.status ?? 'missing'
}

describe('every fixture event type through the handler', () => {
  it('applies each known type, stores the unknown one, and keeps every record', async () => {
    const h = createHarness()
    // Before the cancellation's end date, so a requested cancellation is pending deletion.
    h.clock.set('2025-06-12T15:00:00.000Z')
    await h.store.cancellations.put(cancellation('Mn3Bv6CH', 'Zq09LmT4CL'), null)
    const statuses: Record<string, string> = {}
    for (const name of ORDER) statuses[name] = await postFixture(h, name)
    expect(statuses).toEqual({
      ...Object.fromEntries(ORDER.map((n) => [n, 'applied'])),
      waba_template_status_changed: 'unknown_type',
    })
    expect(await h.store.clients.get('Zq09LmT4CL')).toMatchObject({
      name: 'Casa Verde Tours',
      maxChannels: 1,
      source: 'webhook',
    })
    expect(await h.store.channels.get('Rt5Yu8CH')).toMatchObject({ status: 'ready', lifecycle: 'draft' })
    expect(await h.store.channels.get('Pq7Wx2CH')).toMatchObject({
      status: 'live',
      lifecycle: 'live',
      templateMessaging: 'enabled',
    })
    expect(await h.store.channels.get('Mn3Bv6CH')).toMatchObject({
      lifecycle: 'live',
      terminatedAt: null,
      violation: { type: 'SCAM', restricted: true, at: '2025-04-02T07:31:00Z' },
      templateMessaging: 'disabled',
    })
    expect(await h.store.channels.get('Jk4Hg1CH')).toMatchObject({
      lifecycle: 'terminated',
      cancellationProcessed: true,
    })
    expect((await h.store.cancellations.get('Mn3Bv6CH'))?.state).toBe('revoked')
    const cancellationChanges = h
      .changes()
      .filter((c) => c.detailType === 'Cancellation State Changed')
      .map((c) => `${c.detail.from}->${c.detail.to}`)
    // The first is the test's own write of the requested record: the stream sees every write.
    expect(cancellationChanges).toEqual(['null->requested', 'requested->confirmed', 'confirmed->revoked'])
    expect(h.changes().filter((c) => c.detailType === 'Client Discovered')).toHaveLength(1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 14, applied: 13, unknown: 1 })
  })

  it('marks a cancellation_request as pending deletion and confirms the requested record', async () => {
    const h = createHarness()
    h.clock.set('2025-06-12T15:00:00.000Z')
    await h.store.cancellations.put(cancellation('Mn3Bv6CH', 'Zq09LmT4CL'), null)
    await postFixture(h, 'cancellation_request')
    expect((await h.store.channels.get('Mn3Bv6CH'))?.lifecycle).toBe('pending_deletion')
    expect(await h.store.cancellations.get('Mn3Bv6CH')).toMatchObject({
      state: 'confirmed',
      terminatesAt: '2025-06-30T23:59:59Z',
    })
  })

  it('ignores an event older than the stored state and marks it stale', async () => {
    const h = createHarness()
    expect(await postFixture(h, 'channel_ready')).toBe('applied')
    expect(await postFixture(h, 'channel_created')).toBe('stale')
    expect((await h.store.channels.get('Rt5Yu8CH'))?.status).toBe('ready')
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 2, applied: 1, stale: 1 })
  })
})

describe('applyWebhookEvent', () => {
  const at = { receivedAt: '2025-07-01T12:00:00.000Z' }

  async function seeded(): Promise<Harness> {
    const h = createHarness()
    await postFixture(h, 'channel_live')
    return h
  }

  it('keeps both of two notices about one channel applied at the same time', async () => {
    const h = await seeded()
    const notice = (event: string, timestamp: string): Parameters<typeof applyWebhookEvent>[1] => ({
      event,
      data: {
        client_id: 'Kd82nQ1zCL',
        channel_id: 'Pq7Wx2CH',
        phone_number: '4930111222',
        violation_type: 'SCAM',
      },
      timestamp,
    })
    const results = await Promise.all([
      applyWebhookEvent(h.deps, notice('account_violation', '2025-04-02T07:30:00Z'), at),
      applyWebhookEvent(h.deps, notice('template_messaging_disabled', '2025-04-02T07:31:00Z'), at),
    ])
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied'])
    const channel = await h.store.channels.get('Pq7Wx2CH')
    expect(channel?.violation?.type).toBe('SCAM')
    expect(channel?.templateMessaging).toBe('disabled')
  })

  it('tolerates a channel-like object with client fields in client_created', async () => {
    const h = createHarness()
    const out = await applyWebhookEvent(
      h.deps,
      {
        event: 'client_created',
        data: FIXTURE_EVENTS.channel_created?.data as Record<string, unknown>,
        timestamp: '2025-03-10T10:00:01Z',
      },
      at,
    )
    expect(out.status).toBe('applied')
    expect(await h.store.clients.get('Kd82nQ1zCL')).toMatchObject({
      name: 'Bäckerei Sonnenschein',
      contactEmail: 'ops@sonnenschein.example.test',
    })
  })

  it('matches a notice without channel id by phone number, with or without +', async () => {
    const h = await seeded()
    const phone = (await h.store.channels.get('Pq7Wx2CH'))?.phoneNumber
    expect(phone).toBeTruthy()
    const out = await applyWebhookEvent(
      h.deps,
      {
        event: 'account_violation',
        data: { phone_number: `+${phone}`, violation_type: 'SPAM' },
        timestamp: '2025-04-01T00:00:00Z',
      },
      at,
    )
    expect(out.status).toBe('applied')
    expect((await h.store.channels.get('Pq7Wx2CH'))?.violation).toEqual({
      type: 'SPAM',
      restricted: false,
      at: '2025-04-01T00:00:00Z',
    })
  })

  it('rejects a notice for a channel we do not know, as unmatched and replayable', async () => {
    const h = await seeded()
    const out = await applyWebhookEvent(
      h.deps,
      { event: 'account_restriction', data: { channel_id: 'Nope00CH', phone_number: '1' }, timestamp: null },
      at,
    )
    expect(out).toMatchObject({ status: 'rejected', unmatched: true })
    expect(out.reason).toMatch(new RegExp(`^${UNMATCHED_REASON}`))
  })

  it('rejects a notice that names no channel at all', async () => {
    const h = await seeded()
    const out = await applyWebhookEvent(h.deps, { event: 'template_messaging_enabled', data: {} }, at)
    expect(out).toMatchObject({ status: 'rejected', unmatched: false })
  })

  it('orders template-messaging notices by their own time, whatever the channel facts say', async () => {
    const h = await seeded()
    const notice = (event: string, timestamp: string) =>
      applyWebhookEvent(h.deps, { event, data: { channel_id: 'Pq7Wx2CH' }, timestamp }, at)
    expect((await notice('template_messaging_disabled', '2025-05-02T00:00:00Z')).status).toBe('applied')
    expect((await notice('template_messaging_enabled', '2025-05-01T00:00:00Z')).status).toBe('stale')
    expect((await h.store.channels.get('Pq7Wx2CH'))?.templateMessaging).toBe('disabled')
    expect((await notice('template_messaging_enabled', '2025-05-03T00:00:00Z')).status).toBe('applied')
    expect((await h.store.channels.get('Pq7Wx2CH'))?.templateMessaging).toBe('enabled')
  })

  it('keeps a restriction once seen, even when an older one arrives after a newer violation', async () => {
    const h = await seeded()
    const notice = (event: string, timestamp: string, type: string) =>
      applyWebhookEvent(
        h.deps,
        { event, data: { channel_id: 'Pq7Wx2CH', violation_type: type }, timestamp },
        at,
      )
    await notice('account_violation', '2025-05-02T00:00:00Z', 'SPAM')
    expect((await notice('account_restriction', '2025-05-01T00:00:00Z', 'SCAM')).status).toBe('applied')
    expect((await h.store.channels.get('Pq7Wx2CH'))?.violation).toEqual({
      type: 'SPAM',
      restricted: true,
      at: '2025-05-02T00:00:00Z',
    })
  })

  it('does not move the channel order key, so later upstream facts still apply', async () => {
    const h = await seeded()
    const before = (await h.store.channels.get('Pq7Wx2CH'))?.orderKey
    await applyWebhookEvent(
      h.deps,
      { event: 'account_violation', data: { channel_id: 'Pq7Wx2CH' }, timestamp: '2030-01-01T00:00:00Z' },
      at,
    )
    expect((await h.store.channels.get('Pq7Wx2CH'))?.orderKey).toBe(before)
  })

  it('rejects channel data that does not fit with a reason naming the field', async () => {
    const h = createHarness()
    const out = await applyWebhookEvent(
      h.deps,
      { event: 'channel_ready', data: { id: 'X1', client_id: 'C1', account_mode: 42 } },
      at,
    )
    expect(out.status).toBe('rejected')
    expect(out.reason).toContain('account_mode')
  })
})

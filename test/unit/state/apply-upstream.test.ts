import { describe, expect, it } from 'vitest'
import { rehash } from '../../../shared/domain/mapping'
import type { CancellationRecord } from '../../../shared/domain/types'
import {
  type UpstreamChannel,
  upstreamChannelSchema,
  upstreamClientSchema,
} from '../../../shared/domain/upstream'
import { applyChannel, applyClient } from '../../../shared/services/state/apply-upstream'
import { changeFeed } from '../../fakes/change-feed'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import fixtures from '../../fixtures/partner-api.json'

const live = upstreamChannelSchema.parse(fixtures.channels.live)
const setup = () => {
  const store = new MemoryStore()
  // The events the publisher derives from the store's writes: applyChannel itself publishes nothing.
  const events = changeFeed(store)
  const clock = new FakeClock('2025-04-01T00:00:00Z')
  return { store, events, clock, deps: { store, clock } }
}
const withTime = (
  c: UpstreamChannel,
  modified: string,
  patch: Partial<UpstreamChannel> = {},
): UpstreamChannel => ({
  ...c,
  ...patch,
  modified_at: modified,
})

describe('applyChannel', () => {
  it('stores a new channel with its derived lifecycle and announces it once', async () => {
    const { deps, store, events } = setup()
    const r = await applyChannel(deps, live, { source: 'poll', kind: 'snapshot' })
    expect(r.outcome).toBe('written')
    expect((await store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')
    expect(events.events.map((e) => e.detailType)).toEqual(['Channel Discovered'])
    expect(events.events[0]?.detail).toMatchObject({
      channelId: 'Pq7Wx2CH',
      from: null,
      to: 'live',
      source: 'poll',
    })
  })

  it('writes nothing and publishes nothing when the same fact arrives again', async () => {
    const { deps, store, events } = setup()
    await applyChannel(deps, live, { source: 'webhook', kind: 'channel_live' })
    const writes = store.stats.writes
    const again = await applyChannel(deps, live, { source: 'webhook', kind: 'channel_live' })
    expect(again.outcome).toBe('unchanged')
    expect(store.stats.writes).toBe(writes)
    expect(events.events).toHaveLength(1)
  })

  it('advances the stored order key for an unchanged fact that orders later, without events', async () => {
    const { deps, store, events } = setup()
    const t = '2025-03-01T00:00:00Z'
    await applyChannel(deps, withTime(live, t), { source: 'webhook', kind: 'channel_live' })
    const revoke = await applyChannel(deps, withTime(live, t), {
      source: 'webhook',
      kind: 'cancellation_revoke',
    })
    expect(revoke.outcome).toBe('unchanged')
    expect((await store.channels.get('Pq7Wx2CH'))?.orderKey).toBe(`${new Date(t).toISOString()}#70`)
    // The request (#60) orders before the revoke (#70) already applied, so it must not win.
    const request = await applyChannel(deps, withTime(live, t, { terminated_at: '2025-12-31T23:59:59Z' }), {
      source: 'webhook',
      kind: 'cancellation_request',
    })
    expect(request.outcome).toBe('stale')
    expect((await store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')
    expect(events.events).toHaveLength(1)
  })

  it('never lets an older fact undo newer state', async () => {
    const { deps, store } = setup()
    const newer = withTime(live, '2025-03-05T00:00:00Z', { terminated_at: '2025-12-31T23:59:59Z' })
    await applyChannel(deps, newer, { source: 'webhook', kind: 'cancellation_request' })
    const older = await applyChannel(deps, withTime(live, '2025-03-01T00:00:00Z'), {
      source: 'webhook',
      kind: 'channel_live',
    })
    expect(older.outcome).toBe('stale')
    expect((await store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('pending_deletion')
  })

  it('announces a lifecycle change with from and to', async () => {
    const { deps, events } = setup()
    await applyChannel(deps, withTime(live, '2025-03-01T00:00:00Z', { account_mode: 'sandbox' }), {
      source: 'webhook',
      kind: 'channel_running',
    })
    await applyChannel(deps, withTime(live, '2025-03-02T00:00:00Z'), {
      source: 'webhook',
      kind: 'channel_live',
    })
    expect(events.events.at(-1)).toMatchObject({
      detailType: 'Channel Lifecycle Changed',
      detail: { from: 'onboarding', to: 'live', source: 'webhook' },
    })
  })

  it('keeps cancellation_processed sticky against a later snapshot without the flag', async () => {
    const { deps, store } = setup()
    await applyChannel(deps, withTime(live, '2025-03-01T00:00:00Z'), {
      source: 'webhook',
      kind: 'cancellation_processed',
    })
    await applyChannel(deps, withTime(live, '2025-03-02T00:00:00Z'), { source: 'poll', kind: 'snapshot' })
    expect((await store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('terminated')
  })

  it('confirms a requested cancellation when terminated_at appears', async () => {
    const { deps, store, events } = setup()
    await applyChannel(deps, live, { source: 'poll', kind: 'snapshot' })
    const record: CancellationRecord = {
      channelId: 'Pq7Wx2CH',
      clientId: 'Kd82nQ1zCL',
      state: 'requested',
      requestedBy: 'arn:aws:iam::1:user/ops',
      requestedAt: '2025-03-03T00:00:00Z',
      idempotencyKey: 'k1',
      reason: null,
      terminatesAt: null,
      confirmedAt: null,
      upstreamStatus: 200,
      upstreamMessage: null,
      updatedAt: '2025-03-03T00:00:00Z',
      inFlight: null,
      version: 1,
    }
    await store.cancellations.put(record, null)
    await applyChannel(
      deps,
      withTime(live, '2025-03-04T00:00:00Z', { terminated_at: '2025-04-30T23:59:59Z' }),
      {
        source: 'webhook',
        kind: 'cancellation_request',
      },
    )
    const confirmed = await store.cancellations.get('Pq7Wx2CH')
    expect(confirmed).toMatchObject({ state: 'confirmed', terminatesAt: '2025-04-30T23:59:59Z', version: 2 })
    expect(events.events.at(-1)).toMatchObject({
      detailType: 'Cancellation State Changed',
      detail: { from: 'requested', to: 'confirmed' },
    })
  })

  it('keeps a notice written between its read and its write (compare-and-set, re-read, merge)', async () => {
    const { deps, store } = setup()
    await applyChannel(deps, withTime(live, '2025-03-01T00:00:00Z'), { source: 'poll', kind: 'snapshot' })
    const read = await store.channels.get('Pq7Wx2CH')
    // A webhook notice lands after the poll read the record: same order key, new content.
    const noticed = rehash({
      ...read!,
      violation: { type: 'SCAM', restricted: false, at: '2025-03-01T12:00:00Z' },
    })
    expect(await store.channels.putIfVersion(noticed, read!.orderKey)).toBe('written')
    const r = await applyChannel(deps, withTime(live, '2025-03-02T00:00:00Z', { account_mode: 'sandbox' }), {
      source: 'poll',
      kind: 'snapshot',
      stored: read,
    })
    expect(r.outcome).toBe('written')
    const final = await store.channels.get('Pq7Wx2CH')
    expect(final?.violation?.type).toBe('SCAM')
    expect(final?.accountMode).toBe('sandbox')
  })

  it('tells the caller when its write confirmed the cancellation record', async () => {
    const { deps, store } = setup()
    await applyChannel(deps, live, { source: 'poll', kind: 'snapshot' })
    expect((await applyChannel(deps, live, { source: 'poll', kind: 'snapshot' })).cancellation).toBeNull()
    await store.cancellations.put(
      {
        channelId: live.id,
        clientId: live.client_id,
        state: 'requested',
        requestedBy: 'ops',
        requestedAt: '2025-03-31T00:00:00Z',
        idempotencyKey: 'k',
        reason: null,
        terminatesAt: null,
        confirmedAt: null,
        upstreamStatus: 200,
        upstreamMessage: null,
        updatedAt: '2025-03-31T00:00:00Z',
        inFlight: null,
        version: 1,
      },
      null,
    )
    const terminated = withTime(live, '2025-04-02T00:00:00Z', { terminated_at: '2025-05-01T00:00:00Z' })
    const r = await applyChannel(deps, terminated, { source: 'poll', kind: 'snapshot' })
    expect(r.cancellation).toBe('confirmed')
  })
})

describe('applyClient', () => {
  it('stores a client and announces it only the first time', async () => {
    const { deps, store, events } = setup()
    const client = upstreamClientSchema.parse(fixtures.clients[0])
    await applyClient(deps, client, { source: 'poll', kind: 'snapshot' })
    await applyClient(deps, client, { source: 'poll', kind: 'snapshot' })
    await applyClient(
      deps,
      { ...client, max_channels: 5, modified_at: '2025-04-01T00:00:00Z' },
      { source: 'poll', kind: 'snapshot' },
    )
    expect((await store.clients.get(client.id))?.maxChannels).toBe(5)
    expect(events.events.map((e) => e.detailType)).toEqual(['Client Discovered'])
  })
})

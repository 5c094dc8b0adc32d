import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DemoMode, NEXT_QUALITY, SIGNAL_EVERY_STEPS, TIERS } from '../../../local/simulator/demo'
import { SimApiError } from '../../../local/simulator/errors'
import type { ListQuery } from '../../../local/simulator/query'
import { DEMO_CHANNEL_IDS, FIXTURE_IDS, loadSeed } from '../../../local/simulator/seed'
import { SimState } from '../../../local/simulator/state'
import type { UpstreamChannelJson } from '../../../local/simulator/types'
import { endOfUtcMonth } from '../../../local/simulator/util'
import { deriveLifecycle, parseVersion } from '../../../shared/domain/lifecycle'

const NOW = new Date('2026-03-15T12:00:00Z')

function makeState(now: Date = NOW, seed: 'demo' | 'empty' = 'demo'): SimState {
  const state = new SimState({ partnerId: 'demoPA', clock: () => now, webhookUrl: null })
  loadSeed(state, seed)
  return state
}

function query(partial: Partial<ListQuery> = {}): ListQuery {
  return { filters: {}, sort: [], limit: 100, offset: 0, ...partial }
}

/** The HTTP status of the SimApiError `run` throws (fails the test when it throws nothing else). */
function statusOf(run: () => unknown): number {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(SimApiError)
    return (err as SimApiError).status
  }
  throw new Error('expected a SimApiError')
}
function lifecycleOf(ch: UpstreamChannelJson, now: Date): string {
  return deriveLifecycle(
    {
      version: parseVersion(ch.version),
      accountMode: ch.account_mode ?? null,
      status: ch.status,
      availabilityStatus: ch.availability_status,
      terminatedAt: ch.terminated_at,
      appId: ch.integration.app_id,
      cancellationProcessed: false,
    },
    now,
  )
}

describe('lists of the state', () => {
  it('filters seeded channels by the embedded client contact email', () => {
    const state = makeState()
    const page = state.listChannels(
      query({ filters: { 'client.contact_info.email': 'hola@casaverde.example.test' } }),
    )
    expect(page.items.map((c) => c.id).sort()).toEqual(['Jk4Hg1CH', 'Mn3Bv6CH'])
    expect(page.total).toBe(2)
  })

  it('visits every generated channel exactly once when paging under any sort spec', () => {
    const state = makeState(NOW, 'empty')
    state.generate({ clients: 7, channels: 250 })
    const keys = [
      'created_at',
      '-created_at',
      'status',
      '-account_mode',
      'client_id',
      'setup_info.phone_number',
      '-terminated_at',
    ]
    fc.assert(
      fc.property(fc.subarray(keys, { maxLength: 3 }), fc.integer({ min: 1, max: 60 }), (sort, limit) => {
        const seen: string[] = []
        for (let offset = 0; offset < 300; offset += limit) {
          const page = state.listChannels(query({ sort, limit, offset }))
          seen.push(...page.items.map((c) => c.id))
          if (page.items.length < limit) break
        }
        expect(seen.length).toBe(250)
        expect(new Set(seen).size).toBe(250)
      }),
      { numRuns: 40 },
    )
  })
})

describe('lists', () => {
  it('answers the documented envelope with count of the page and total of all matches', () => {
    const state = makeState()
    const page = state.listChannels(query({ limit: 3, offset: 2, sort: ['created_at'] }))
    expect(page).toMatchObject({ count: 3, limit: 3, offset: 2, sort: ['created_at'], filters: {} })
    expect(page.total).toBe(state.channelCount)
  })

  it('reflects a change made between two pages (the cached order is invalidated)', () => {
    const state = makeState()
    const before = state.listChannels(query({ sort: ['id'] })).total
    state.addChannel({ client_id: 'Kd82nQ1zCL', id: 'AaaaaaaaCH' })
    const after = state.listChannels(query({ sort: ['id'], limit: 1 }))
    expect(after.total).toBe(before + 1)
    expect(after.items[0]?.id).toBe('AaaaaaaaCH')
  })

  it('shows a client patch in the channels embedding that client', () => {
    const state = makeState()
    state.patchClient('Kd82nQ1zCL', { partner_payload: 'tenant:99' })
    const page = state.listChannels(query({ filters: { 'client.partner_payload': 'tenant:99' } }))
    expect(page.items.map((c) => c.id).sort()).toEqual(['Pq7Wx2CH', 'Rt5Yu8CH'])
  })
})

describe('seed', () => {
  it('holds the fixture objects and a channel in every lifecycle', () => {
    const state = makeState()
    for (const id of FIXTURE_IDS.clients) expect(state.getClient(id).id).toBe(id)
    for (const id of FIXTURE_IDS.channels) expect(state.getChannel(id).id).toBe(id)
    const lifecycles = new Set(Array.from(state.allChannels(), (c) => lifecycleOf(c, NOW)))
    expect([...lifecycles].sort()).toEqual([
      'draft',
      'error',
      'live',
      'onboarding',
      'pending_deletion',
      'terminated',
    ])
    expect(lifecycleOf(state.getChannel(DEMO_CHANNEL_IDS.pendingDeletion), NOW)).toBe('pending_deletion')
  })

  it('is deterministic', () => {
    const a = makeState()
    const b = makeState()
    expect(a.listChannels(query())).toEqual(b.listChannels(query()))
  })
})

describe('generate', () => {
  it('creates deterministic ids, unique phone numbers and the requested counts', () => {
    const a = makeState(NOW, 'empty')
    const b = makeState(NOW, 'empty')
    a.generate({ clients: 3, channelsPerClient: 4 })
    b.generate({ clients: 3, channelsPerClient: 4 })
    expect(a.clientCount).toBe(3)
    expect(a.channelCount).toBe(12)
    const ids = a.listChannels(query()).items.map((c) => c.id)
    expect(ids).toEqual(b.listChannels(query()).items.map((c) => c.id))
    const phones = a.listChannels(query()).items.map((c) => c.setup_info.phone_number)
    expect(new Set(phones).size).toBe(12)
  })
})

describe('cancellation', () => {
  it('sets terminated_at to the end of the UTC month and asks for a cancellation_request webhook', () => {
    const state = makeState()
    const { channel, events } = state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', true)
    expect(channel.terminated_at).toBe('2026-03-31T23:59:59Z')
    expect(events.map((e) => e.event)).toEqual(['cancellation_request'])
  })

  it('treats a repeat as idempotent: same terminated_at, same modified_at, no webhook', () => {
    const state = makeState()
    const first = structuredClone(state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', true).channel)
    const again = state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', true)
    expect(again.events).toEqual([])
    expect(again.channel.terminated_at).toBe(first.terminated_at)
    expect(again.channel.modified_at).toBe(first.modified_at)
  })

  it('revokes a pending cancellation with a cancellation_revoke webhook', () => {
    const state = makeState()
    state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', true)
    const { channel, events } = state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', false)
    expect(channel.terminated_at).toBeNull()
    expect(events.map((e) => e.event)).toEqual(['cancellation_revoke'])
  })

  it('refuses to revoke when nothing is pending and to cancel a terminated channel', () => {
    const state = makeState()
    expect(statusOf(() => state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', false))).toBe(400)
    expect(statusOf(() => state.cancellation('Zq09LmT4CL', 'Jk4Hg1CH', true))).toBe(400)
  })

  it('answers not found for a channel of another client or an unknown one', () => {
    const state = makeState()
    expect(statusOf(() => state.cancellation('Zq09LmT4CL', 'Pq7Wx2CH', true))).toBe(404)
    expect(statusOf(() => state.cancellation('Kd82nQ1zCL', 'nope', true))).toBe(404)
    expect(statusOf(() => state.cancellation('nope', 'Pq7Wx2CH', true))).toBe(404)
  })

  it('computes the end of month across year ends and leap years', () => {
    expect(endOfUtcMonth(new Date('2026-12-31T23:00:00Z'))).toBe('2026-12-31T23:59:59Z')
    expect(endOfUtcMonth(new Date('2028-02-03T00:00:00Z'))).toBe('2028-02-29T23:59:59Z')
  })
})

describe('modified_at', () => {
  it('increases strictly on every change even when the clock stands still', () => {
    const state = makeState()
    const stamps: string[] = []
    stamps.push(state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', true).channel.modified_at)
    stamps.push(state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', false).channel.modified_at)
    stamps.push(state.mutateChannel('Pq7Wx2CH', { current_limit: 'TIER_10K' }).modified_at)
    const ms = stamps.map((s) => Date.parse(s))
    expect(ms[1]).toBeGreaterThan(ms[0] as number)
    expect(ms[2]).toBeGreaterThan(ms[1] as number)
  })
})

describe('lifecycle steps', () => {
  it('moves a draft through submitted, ready, running and live with one event each', () => {
    const state = makeState()
    const id = state.addChannel({ client_id: 'Kd82nQ1zCL' }).id
    const events: string[] = []
    for (let i = 0; i < 4; i++) events.push(...state.advance(id).events.map((e) => e.event))
    expect(events).toEqual(['channel_submitted', 'channel_ready', 'channel_running', 'channel_live'])
    const live = state.getChannel(id)
    expect(live.account_mode).toBe('live')
    expect(live.integration.app_id).toMatch(/^\d+$/)
    expect(live.billing_started_at).not.toBeNull()
    expect(live.availability_status).toBe('ready')
    expect(state.advance(id).events).toEqual([])
  })

  it('sets the app id only when the channel starts running', () => {
    const state = makeState()
    const id = state.addChannel({ client_id: 'Kd82nQ1zCL' }).id
    state.advance(id)
    state.advance(id)
    expect(state.getChannel(id).integration.app_id).toBeNull()
    state.advance(id)
    expect(state.getChannel(id).integration.app_id).not.toBeNull()
  })

  it('terminates a channel whose terminated_at has passed, with cancellation_processed', () => {
    let now = NOW
    const state = new SimState({ partnerId: 'demoPA', clock: () => now, webhookUrl: null })
    loadSeed(state, 'demo')
    state.cancellation('Kd82nQ1zCL', 'Pq7Wx2CH', true)
    now = new Date('2026-04-01T00:00:00Z')
    const events = state.processDueCancellations()
    expect(events.map((e) => [e.event, e.data.id])).toContainEqual(['cancellation_processed', 'Pq7Wx2CH'])
    expect(state.getChannel('Pq7Wx2CH').status).toBe('terminated')
  })
})

describe('demo mode', () => {
  it('keeps producing lifecycle events, the same ones for the same steps', () => {
    const run = (): string[] => {
      const demo = new DemoMode(makeState())
      const events: string[] = []
      for (let i = 0; i < 20; i++) events.push(...demo.step().map((e) => `${e.event}:${e.data.id}`))
      return events
    }
    const events = run()
    expect(events.length).toBeGreaterThanOrEqual(20)
    expect(events.some((e) => e.startsWith('channel_live:'))).toBe(true)
    expect(run()).toEqual(events)
  })
})

describe('demo signals', () => {
  it("drops a live channel's quality rating and raises a tier now and then, reproducibly", () => {
    const run = (): { changes: DemoMode['signalChanges']; state: SimState } => {
      const state = makeState()
      const demo = new DemoMode(state)
      for (let i = 0; i < 4 * SIGNAL_EVERY_STEPS; i++) demo.step()
      return { changes: [...demo.signalChanges], state }
    }
    const { changes, state } = run()
    const quality = changes.filter((c) => c.field === 'current_quality_rating')
    const tiers = changes.filter((c) => c.field === 'current_limit')
    expect(quality.length).toBeGreaterThanOrEqual(3)
    expect(tiers.length).toBeGreaterThanOrEqual(3)
    // The first move of a GREEN channel is a drop; every move follows the cycle and lands upstream.
    expect(quality[0]).toMatchObject({ from: 'GREEN', to: 'YELLOW' })
    for (const c of quality) expect(NEXT_QUALITY[c.from ?? 'GREEN']).toBe(c.to)
    for (const c of tiers)
      expect(TIERS.indexOf(c.to as (typeof TIERS)[number])).toBeGreaterThan(
        TIERS.indexOf(c.from as (typeof TIERS)[number]),
      )
    const last = quality.at(-1)
    expect(state.getChannel(last?.channelId as string).current_quality_rating).toBeDefined()
    for (const c of changes) expect(state.liveChannelIds()).toContain(c.channelId)
    expect(run().changes).toEqual(changes)
  })
})

describe('client creation', () => {
  it('gives a client created without a partner payload none, as upstream', () => {
    const state = makeState()
    expect(state.addClient({}).partner_payload).toBeNull()
    expect(state.onboard({}).client.partner_payload).toBeNull()
    expect(state.onboard({ partner_payload: 'tenant:7' }).client.partner_payload).toBe('tenant:7')
  })
})

describe('client patch', () => {
  it('changes partner_payload and max_channels and bumps modified_at', () => {
    const state = makeState()
    const before = state.getClient('Kd82nQ1zCL').modified_at
    const client = state.patchClient('Kd82nQ1zCL', { partner_payload: 'tenant:42;plan=pro', max_channels: 5 })
    expect(client).toMatchObject({ partner_payload: 'tenant:42;plan=pro', max_channels: 5 })
    expect(Date.parse(client.modified_at)).toBeGreaterThan(Date.parse(before))
  })

  it.each([
    [{}],
    [{ name: 'x' }],
    [{ partner_payload: '' }],
    [{ partner_payload: 'x'.repeat(256) }],
    [{ max_channels: 0 }],
    [{ max_channels: 101 }],
    [{ max_channels: 2.5 }],
    [[1]],
  ])('rejects %j', (body) => {
    expect(statusOf(() => makeState().patchClient('Kd82nQ1zCL', body))).toBe(400)
  })
})

import { describe, expect, it } from 'vitest'
import { loadSeed } from '../../../local/simulator/seed'
import { SimState } from '../../../local/simulator/state'
import type { UpstreamChannelJson } from '../../../local/simulator/types'
import {
  parseVarianceSetting,
  VARIANT_NAMES,
  Variance,
  type VariantName,
} from '../../../local/simulator/variance'
import type { Envelope } from '../../../local/simulator/webhooks'
import { deriveLifecycle, parseVersion } from '../../../shared/domain/lifecycle'

const NOW = new Date('2026-03-15T12:00:00Z')

function stateWith(variance: Variance): SimState {
  const state = new SimState({
    partnerId: 'demoPA',
    clock: () => NOW,
    webhookUrl: null,
    isV1Channel: (id) => variance.isV1Channel(id),
  })
  loadSeed(state, 'empty')
  return state
}

/** Every variant in `names`, applied to every object and delivery. */
const only = (...names: VariantName[]): Variance => new Variance(new Set(names), 11, 1)

function envelopeOf(event: string, data: unknown): Envelope {
  return { id: 'sim_1', event, data: structuredClone(data), timestamp: NOW.toISOString() }
}

function liveChannel(state: SimState): UpstreamChannelJson {
  const client = state.addClient({})
  const channel = state.addChannel({ client_id: client.id })
  for (let i = 0; i < 4; i++) state.advance(channel.id)
  return state.getChannel(channel.id)
}

describe('variance settings', () => {
  it('parses on, off and lists of known names, and refuses unknown names', () => {
    expect(parseVarianceSetting('on')).toBe('on')
    expect(parseVarianceSetting(' off ')).toBe('off')
    expect(parseVarianceSetting('numeric_ids,nested_entities')).toEqual(
      new Set(['numeric_ids', 'nested_entities']),
    )
    expect(parseVarianceSetting('numeric_ids,nope')).toBeNull()
    expect(parseVarianceSetting(',')).toBeNull()
  })

  it('changes nothing when off', () => {
    const variance = new Variance('off')
    const state = stateWith(variance)
    const channel = liveChannel(state)
    const envelope = envelopeOf('channel_live', channel)
    expect(variance.envelope(envelope)).toEqual(envelope)
    expect(variance.channel(channel)).toEqual(channel)
    expect(variance.expand([{ event: 'channel_ready', data: channel }])).toHaveLength(1)
  })

  it('picks the same objects for the same seed, about the configured share, and others for another seed', () => {
    const ids = Array.from({ length: 400 }, (_, i) => `Nh${String(i).padStart(6, '0')}CH`)
    const pick = (seed: number): string[] =>
      ids.filter((id) => new Variance('on', seed, 0.3).applies('unknown_fields', id))
    expect(pick(11)).toEqual(pick(11))
    expect(pick(11).length).toBeGreaterThan(80)
    expect(pick(11).length).toBeLessThan(160)
    expect(pick(12)).not.toEqual(pick(11))
  })
})

describe('variants', () => {
  it('undated_webhooks: no envelope timestamp and no modified_at', () => {
    const variance = only('undated_webhooks')
    const channel = liveChannel(stateWith(variance))
    const out = variance.envelope(envelopeOf('channel_live', channel))
    expect(out).not.toHaveProperty('timestamp')
    expect(out.data).not.toHaveProperty('modified_at')
    expect(out.data).toMatchObject({ id: channel.id, created_at: channel.created_at })
  })

  it('numeric_ids: the envelope id and digit-only ids as JSON numbers, entity ids unchanged', () => {
    const variance = only('numeric_ids')
    const channel = liveChannel(stateWith(variance))
    const out = variance.envelope(envelopeOf('channel_live', channel))
    expect(typeof out.id).toBe('number')
    const data = out.data as UpstreamChannelJson & { integration: { app_id: unknown } }
    expect(data.integration.app_id).toBe(Number(channel.integration.app_id))
    expect(data.waba_account.external_id as unknown).toBe(Number(channel.waba_account.external_id))
    expect(data.id).toBe(channel.id)
    expect(data.client_id).toBe(channel.client_id)
  })

  it('nested_entities: the channel under data.channel with its client beside it, a client under data.client', () => {
    const variance = only('nested_entities')
    const state = stateWith(variance)
    const channel = liveChannel(state)
    expect(variance.envelope(envelopeOf('channel_live', channel)).data).toEqual({
      channel,
      client: channel.client,
    })
    const client = state.getClient(channel.client_id)
    expect(variance.envelope(envelopeOf('client_created', client)).data).toEqual({ client })
  })

  it('unknown_fields: documented fields the examples leave out, values derived or unset flags', () => {
    const variance = only('unknown_fields')
    const channel = liveChannel(stateWith(variance))
    expect(variance.channel(channel)).toEqual({
      ...channel,
      is_migrated: false,
      is_on_biz_app: false,
      waba_account_id: channel.waba_account.id,
    })
  })

  it('missing_optional_fields: nulls and optional flags dropped, terminated_at kept, a minimal channel_live', () => {
    const variance = only('missing_optional_fields')
    const state = stateWith(variance)
    const client = state.addClient({})
    const draft = state.addChannel({ client_id: client.id })
    const shown = variance.channel(draft)
    expect(shown).not.toHaveProperty('billing_started_at')
    expect(shown).not.toHaveProperty('has_inbox')
    expect(shown).toHaveProperty('terminated_at', null)
    const live = liveChannel(state)
    const out = variance.envelope(envelopeOf('channel_live', live)).data as Record<string, unknown>
    expect(out).not.toHaveProperty('account_mode')
    expect(out).toMatchObject({ status: 'live', availability_status: 'ready' })
    const shownClient = variance.client(client)
    expect(shownClient).not.toHaveProperty('partner_payload')
    expect(shownClient).toMatchObject({ id: client.id, name: client.name })
  })

  it('permission_granted: channel_permission_granted right after channel_ready', () => {
    const variance = only('permission_granted')
    const channel = liveChannel(stateWith(variance))
    const events = variance.expand([
      { event: 'channel_submitted', data: channel },
      { event: 'channel_ready', data: channel },
    ])
    expect(events.map((e) => e.event)).toEqual([
      'channel_submitted',
      'channel_ready',
      'channel_permission_granted',
    ])
  })

  it('v1_channels: version 1, no account_mode, created → verified → ready (live) with one channel_ready', () => {
    const variance = only('v1_channels')
    const state = stateWith(variance)
    const client = state.addClient({})
    const channel = state.addChannel({ client_id: client.id })
    expect(channel.version).toBe(1)
    expect(channel).not.toHaveProperty('account_mode')
    const events: string[] = []
    for (let i = 0; i < 3; i++) events.push(...state.advance(channel.id).events.map((e) => e.event))
    expect(events).toEqual(['channel_ready'])
    const ready = state.getChannel(channel.id)
    expect(ready.status).toBe('ready')
    expect(ready.billing_started_at).not.toBeNull()
    const lifecycle = deriveLifecycle(
      {
        version: parseVersion(ready.version),
        accountMode: ready.account_mode ?? null,
        status: ready.status,
        availabilityStatus: ready.availability_status,
        terminatedAt: ready.terminated_at,
        appId: ready.integration.app_id,
        cancellationProcessed: false,
      },
      NOW,
    )
    expect(lifecycle).toBe('live')
  })

  it('never invents a value: a client created without a partner payload shows none in any variant', () => {
    const variance = new Variance('on', 11, 1)
    const state = stateWith(variance)
    const client = state.addClient({})
    const channel = state.addChannel({ client_id: client.id })
    const bodies = [
      variance.client(client),
      variance.channel(channel),
      variance.envelope(envelopeOf('client_created', client)),
      variance.envelope(envelopeOf('channel_created', channel)),
    ]
    for (const body of bodies) expect(JSON.stringify(body)).not.toMatch(/"partner_payload":"/)
  })

  it('names every variant it implements', () => {
    expect([...VARIANT_NAMES].sort()).toEqual([
      'missing_optional_fields',
      'nested_entities',
      'numeric_ids',
      'permission_granted',
      'undated_webhooks',
      'unknown_fields',
      'v1_channels',
    ])
  })
})

import { makeChannel, makeClient, makeWaba, terminateInPlace } from './factories'
import fixtures from './seed-fixtures.json' with { type: 'json' }
import type { SimState } from './state'
import type { UpstreamChannelJson, UpstreamClientJson } from './types'
import { endOfUtcMonth, isoSeconds } from './util'

/** Which starting data the simulator loads. */
export type SeedKind = 'demo' | 'empty'

/** Ids of the demo channels, one per lifecycle (besides the fixture channels). */
export const DEMO_CHANNEL_IDS = {
  draft: 'Dm1Dr0CH',
  submitted: 'Dm1Sb0CH',
  onboarding: 'Dm1Ob0CH',
  live: 'Dm1Lv0CH',
  pendingDeletion: 'Dm2Pd0CH',
  terminated: 'Dm2Tm0CH',
  error: 'Dm2Er0CH',
  live2: 'Dm2Lv0CH',
} as const

/** Ids of the fixture objects loaded unchanged (seed-fixtures.json). */
export const FIXTURE_IDS = {
  clients: ['Kd82nQ1zCL', 'Zq09LmT4CL'],
  channels: ['Pq7Wx2CH', 'Rt5Yu8CH', 'Mn3Bv6CH', 'Jk4Hg1CH'],
} as const

/**
 * Loads the seed: the fixture clients and channels exactly as in the fixture file, plus two demo
 * clients with channels in every lifecycle (draft, onboarding, live, pending deletion, terminated,
 * error). Deterministic for a given clock; the pending deletion ends at the end of the clock's month.
 */
export function loadSeed(state: SimState, kind: SeedKind): void {
  if (kind === 'empty') return
  for (const client of fixtures.clients) state.loadClient(structuredClone(client) as UpstreamClientJson)
  for (const channel of Object.values(fixtures.channels)) {
    state.loadChannel(structuredClone(channel) as unknown as UpstreamChannelJson)
  }

  const now = state.now()
  const nordlicht = state.loadClient({
    ...makeClient('Dm1Hq7CL', 'Nordlicht Logistik', '2025-04-01T08:00:00Z', 'tenant:101', 1),
    organisation: 'Nordlicht Logistik GmbH',
  })
  const aurora = state.loadClient({
    ...makeClient('Dm2Vx3CL', 'Pizzeria Aurora', '2025-05-05T10:00:00Z', null, 2),
    organisation: 'Pizzeria Aurora S.r.l.',
  })
  aurora.contact_info = { ...aurora.contact_info, country: 'IT', city: 'Roma', language: 'it' }
  state.loadClient(aurora)
  const wabaN = makeWaba(nordlicht.id, nordlicht.created_at, 9001)
  const wabaA = makeWaba(aurora.id, aurora.created_at, 9002)

  const channel = (
    id: string,
    client: UpstreamClientJson,
    status: string,
    phone: string,
    createdAt: string,
    appId: string | null,
  ): UpstreamChannelJson =>
    makeChannel({
      id,
      client,
      waba: client.id === nordlicht.id ? wabaN : wabaA,
      phone,
      status,
      createdAt,
      appId,
      now,
    })

  const ids = DEMO_CHANNEL_IDS
  state.loadChannel(channel(ids.draft, nordlicht, 'created', '4940700001', '2025-04-02T09:00:00Z', null))
  state.loadChannel(
    channel(ids.submitted, nordlicht, 'submitted', '4940700002', '2025-04-02T09:10:00Z', null),
  )
  state.loadChannel(
    channel(ids.onboarding, nordlicht, 'running', '4940700003', '2025-04-02T09:20:00Z', '210001'),
  )
  state.loadChannel(channel(ids.live, nordlicht, 'live', '4940700004', '2025-04-02T09:30:00Z', '210002'))

  const pending = channel(
    ids.pendingDeletion,
    aurora,
    'live',
    '390600000001',
    '2025-05-05T10:10:00Z',
    '210003',
  )
  pending.terminated_at = endOfUtcMonth(now)
  state.loadChannel(pending)

  const terminated = channel(ids.terminated, aurora, 'live', '390600000002', '2025-05-05T10:20:00Z', '210004')
  terminateInPlace(terminated, '2025-07-31T23:59:59Z')
  terminated.modified_at = terminated.terminated_at as string
  state.loadChannel(terminated)

  const error = channel(ids.error, aurora, 'running', '390600000003', '2025-05-05T10:30:00Z', '210005')
  error.availability_status = 'error'
  error.setup_info.error = 'Phone number registration failed'
  state.loadChannel(error)

  state.loadChannel(
    channel(ids.live2, aurora, 'live', '390600000004', isoSeconds(Date.UTC(2025, 4, 6)), '210006'),
  )
}

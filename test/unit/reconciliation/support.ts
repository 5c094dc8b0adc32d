import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import type { AppDeps } from '../../../shared/deps'
import type { ChangeEvent } from '../../../shared/domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../../shared/domain/upstream'
import { loadConfig } from '../../../shared/env'
import type { SecretSource } from '../../../shared/ports'
import { createAppDeps } from '../../../shared/wiring'
import { changeFeed } from '../../fakes/change-feed'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakePartnerApi } from '../../fakes/partner-api'

/** Deps of a poller unit test: fakes everywhere, typed handles on each fake. */
export interface PollerTestDeps extends AppDeps {
  store: MemoryStore
  partnerApi: FakePartnerApi
  clock: FakeClock
  events: ReturnType<typeof createMemoryEventSink>
  /** What the publisher would derive from the store's writes (the poller publishes nothing itself). */
  changes: { events: ChangeEvent[] }
}

export const secretsStub: SecretSource = { get: async () => 'test-key' }

export function makeDeps(
  overrides: Partial<AppDeps> & { env?: Record<string, string> } = {},
): PollerTestDeps {
  const { env, ...rest } = overrides
  const config = loadConfig({
    PARTNER_ID: 'testPA',
    SECRETS_SOURCE: 'env',
    PARTNER_API_KEY: 'test-key',
    // Every run sweeps fully unless a test says otherwise (incremental.test.ts does).
    FULL_SWEEP_INTERVAL_SECONDS: '0',
    ...env,
  })
  const store = (rest.store as MemoryStore | undefined) ?? new MemoryStore()
  const deps = createAppDeps(config, 'poller-test', {
    store,
    channelKeys: createMemoryChannelKeyStore(),
    partnerApi: new FakePartnerApi(),
    secrets: secretsStub,
    events: createMemoryEventSink(),
    clock: new FakeClock('2026-01-15T10:00:00.000Z'),
    ...rest,
  }) as PollerTestDeps
  deps.changes = changeFeed(store)
  return deps
}

const pad = (n: number, width = 5): string => String(n).padStart(width, '0')

/** An upstream client with deterministic fields. */
export function upClient(n: number, patch: Partial<UpstreamClient> = {}): UpstreamClient {
  return {
    id: `C${pad(n)}CL`,
    name: `Client ${n}`,
    status: 'active',
    organisation: `Org ${n}`,
    partner_payload: `tenant:${n}`,
    max_channels: 5,
    contact_info: { email: `c${n}@example.test` },
    created_at: new Date(Date.UTC(2025, 0, 1) + n * 60_000).toISOString(),
    modified_at: '2025-06-01T00:00:00.000Z',
    ...patch,
  }
}

/** An upstream live channel of client `client` with deterministic fields. */
export function upChannel(n: number, client = 1, patch: Partial<UpstreamChannel> = {}): UpstreamChannel {
  return {
    id: `H${pad(n)}CH`,
    client_id: `C${pad(client)}CL`,
    client: { id: `C${pad(client)}CL`, name: `Client ${client}`, partner_payload: `tenant:${client}` },
    status: 'live',
    account_mode: 'live',
    created_at: new Date(Date.UTC(2025, 0, 1) + n * 1000).toISOString(),
    modified_at: '2025-06-01T00:00:00.000Z',
    terminated_at: null,
    availability_status: 'ready',
    setup_info: { phone_number: `4930${pad(n, 7)}`, phone_name: `Channel ${n}` },
    waba_account: {
      id: `W${n}WA`,
      fb_account_status: 'verified',
      on_behalf_of_business_info: { status: 'approved' },
    },
    integration: { enabled: true, app_id: String(100_000 + n), state: 'running' },
    ...patch,
  }
}

/** Fills the fake upstream with `clients` clients and `channels` channels spread over them. */
export function seedUpstream(api: FakePartnerApi, clients: number, channels: number): void {
  for (let i = 1; i <= clients; i++) api.clients.set(upClient(i).id, upClient(i))
  for (let i = 1; i <= channels; i++) {
    const ch = upChannel(i, ((i - 1) % clients) + 1)
    api.channels.set(ch.id, ch)
  }
}

/** Counts entity reads and writes on a MemoryStore (the ops records of the run itself are left out). */
export function countEntityCalls(store: MemoryStore): { reads: () => number; writes: () => number } {
  let reads = 0
  let writes = 0
  const wrap = <T extends object>(repo: T, name: keyof T, kind: 'r' | 'w'): void => {
    const original = repo[name] as unknown as (...args: unknown[]) => Promise<unknown>
    ;(repo as Record<keyof T, unknown>)[name] = async (...args: unknown[]) => {
      const out = await original(...args)
      if (kind === 'r') reads += 1
      else if (out === 'written' || out === true) writes += 1
      return out
    }
  }
  wrap(store.channels, 'get', 'r')
  wrap(store.clients, 'get', 'r')
  wrap(store.channels, 'putIfNewer', 'w')
  wrap(store.channels, 'putIfVersion', 'w')
  wrap(store.channels, 'markAbsence', 'w')
  wrap(store.clients, 'putIfNewer', 'w')
  wrap(store.clients, 'putIfVersion', 'w')
  wrap(store.cancellations, 'put', 'w')
  return { reads: () => reads, writes: () => writes }
}

import { describe, expect, it } from 'vitest'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { NotFoundError, UpstreamError } from '../../../shared/domain/errors'
import { loadConfig } from '../../../shared/env'
import {
  BALANCE_SLOT,
  BALANCE_WINDOW_MS,
  type BalanceDeps,
  getBalance,
} from '../../../shared/services/balance/get-balance'
import { applyClient } from '../../../shared/services/state/apply-upstream'
import { createAppDeps } from '../../../shared/wiring'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakePartnerApi } from '../../fakes/partner-api'

/** Deps with a fake Partner API on the same clock (its balance limit counts in that time). */
async function harness(): Promise<{
  deps: BalanceDeps
  store: MemoryStore
  api: FakePartnerApi
  clock: FakeClock
}> {
  const clock = new FakeClock('2026-01-15T10:00:00.000Z')
  const store = new MemoryStore()
  const api = new FakePartnerApi({ now: () => clock.now() })
  const deps = createAppDeps(loadConfig({ PARTNER_ID: 'testPA', SECRETS_SOURCE: 'env' }), 'balance-test', {
    store,
    partnerApi: api,
    events: createMemoryEventSink(),
    clock,
  })
  const up = api.addClient({ id: 'Bal001CL' })
  await applyClient(deps, up, { source: 'poll', kind: 'snapshot' })
  return { deps, store, api, clock }
}

// Waiters re-read the slot: yield to the event loop instead of sleeping in real time.
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

async function failure(run: () => Promise<unknown>): Promise<UpstreamError> {
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UpstreamError)
  return err as UpstreamError
}

describe('getBalance (one upstream call per client per 30 s, shared through the ops table)', () => {
  it('answers the upstream balance and serves it from the slot until the window ends', async () => {
    const { deps, api, clock } = await harness()
    const first = await getBalance(deps, 'Bal001CL')
    expect(first).toEqual({
      clientId: 'Bal001CL',
      balance: 12.5,
      currency: 'USD',
      lastRenewal: { date: '2026-01-01T00:00:00Z', amount: 50 },
      fetchedAt: '2026-01-15T10:00:00.000Z',
    })
    clock.advance(BALANCE_WINDOW_MS - 1)
    expect(await getBalance(deps, 'Bal001CL')).toEqual(first)
    expect(api.callCount('getClientBalance')).toBe(1)
    clock.advance(1)
    const next = await getBalance(deps, 'Bal001CL')
    expect(next.fetchedAt).toBe('2026-01-15T10:00:30.000Z')
    expect(api.callCount('getClientBalance')).toBe(2)
  })

  it('makes exactly one upstream call for 50 concurrent callers on 50 instances, all answered alike', async () => {
    const { deps, store, api } = await harness()
    // Each Lambda instance has its own deps (and so its own in-process single flight): only the
    // conditional write on the shared store can keep them to one call.
    const instances = Array.from({ length: 50 }, () => ({ ...deps }))
    const reads = store.stats.reads
    const answers = await Promise.all(
      instances.map((d, i) => getBalance(d, 'Bal001CL', { owner: `caller-${i}`, sleep: tick })),
    )
    expect(api.callCount('getClientBalance')).toBe(1)
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1)
    expect(store.stats.reads - reads).toBeGreaterThan(50)
  })

  it('shares one read among concurrent callers of one instance', async () => {
    const { deps, store, api } = await harness()
    const reads = store.stats.reads
    const answers = await Promise.all(Array.from({ length: 50 }, () => getBalance(deps, 'Bal001CL')))
    expect(api.callCount('getClientBalance')).toBe(1)
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1)
    // The client lookup and one read of the slot, for all 50.
    expect(store.stats.reads - reads).toBe(2)
  })

  it('serves a client without last_renewal with lastRenewal null', async () => {
    const { deps, api } = await harness()
    api.balances.set('Bal001CL', { balance: 0, currency: 'EUR', last_renewal: null })
    expect((await getBalance(deps, 'Bal001CL')).lastRenewal).toBeNull()
  })

  it('refuses a client not in state with nothing sent upstream', async () => {
    const { deps, api } = await harness()
    api.addClient({ id: 'Up0nlyCL' })
    await expect(getBalance(deps, 'Up0nlyCL')).rejects.toBeInstanceOf(NotFoundError)
    expect(api.callCount('getClientBalance')).toBe(0)
  })

  it('answers an upstream 429 as upstream_rate_limited with Retry-After, to every caller of the window', async () => {
    const { deps, api, clock } = await harness()
    api.failNext('getClientBalance', () => {
      return new UpstreamError('rate limited', {
        upstreamStatus: 429,
        retryable: true,
        code: 'upstream_rate_limited',
        retryAfterSeconds: 45,
      })
    })
    const err = await failure(() => getBalance(deps, 'Bal001CL'))
    expect(err).toMatchObject({ code: 'upstream_rate_limited', retryAfterSeconds: 45 })
    clock.advance(20_000)
    const later = await failure(() => getBalance(deps, 'Bal001CL'))
    expect(later).toMatchObject({ code: 'upstream_rate_limited', retryAfterSeconds: 25 })
    // Upstream asked for 45 s: not even at the end of our 30 s window is it called again.
    clock.advance(15_000)
    await failure(() => getBalance(deps, 'Bal001CL'))
    expect(api.callCount('getClientBalance')).toBe(1)
    clock.advance(10_000)
    expect((await getBalance(deps, 'Bal001CL')).currency).toBe('USD')
    expect(api.callCount('getClientBalance')).toBe(2)
  })

  it("passes upstream's refusal on as upstream_rejected with its message, and does not call again in the window", async () => {
    const { deps, api } = await harness()
    api.clients.delete('Bal001CL')
    const err = await failure(() => getBalance(deps, 'Bal001CL'))
    expect(err.code).toBe('upstream_rejected')
    expect(err.message).toContain('Client not found')
    await failure(() => getBalance(deps, 'Bal001CL'))
    expect(api.callCount('getClientBalance')).toBe(1)
  })

  it('gives up with a retryable 503 when the caller holding the slot never reports back', async () => {
    const { deps, store, api, clock } = await harness()
    const now = clock.now()
    expect(
      await store.ops.takeCallSlot(
        BALANCE_SLOT,
        'Bal001CL',
        'crashed',
        now,
        now.getTime() + BALANCE_WINDOW_MS,
      ),
    ).toBe(true)
    const err = await failure(() =>
      getBalance(deps, 'Bal001CL', {
        sleep: async (ms) => {
          clock.advance(ms)
        },
      }),
    )
    expect(err).toMatchObject({ code: 'upstream_unavailable', retryAfterSeconds: 1 })
    expect(api.callCount('getClientBalance')).toBe(0)
    // Once the crashed caller's window is over, the next caller calls.
    clock.set('2026-01-15T10:00:30.000Z')
    expect((await getBalance(deps, 'Bal001CL')).clientId).toBe('Bal001CL')
    expect(api.callCount('getClientBalance')).toBe(1)
  })
})

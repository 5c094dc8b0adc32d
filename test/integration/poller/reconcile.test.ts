import { afterEach, describe, expect, it } from 'vitest'
import { buildPollerHandler } from '../../../functions/poller/handler'
import { type App, startApp } from '../../../local/app'
import type { RunSummary } from '../../../shared/domain/types'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { countingStore } from './dynamo-counter'

const context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'partnerops-poller-test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:partnerops-poller-test',
  memoryLimitInMB: '512',
  awsRequestId: 'test',
  logGroupName: '/aws/lambda/partnerops-poller-test',
  logStreamName: 'test',
  getRemainingTimeInMillis: () => 300_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
}

let app: App | null = null
afterEach(async () => {
  await app?.close()
  app = null
})

async function start(channels: number, pageSize: number, env: Record<string, string> = {}): Promise<App> {
  app = await startApp({
    pollIntervalSeconds: null,
    simulator: { seed: 'empty', deliverWebhooks: false },
    env: { POLL_PAGE_SIZE: String(pageSize), POLL_CONCURRENCY: '4', ...env },
  })
  app.simulator?.generate({ clients: 5, channels })
  return app
}

/** Every channel currently upstream, in the walk's order. */
async function upstreamChannels(a: App): Promise<UpstreamChannel[]> {
  const page = await a.deps.partnerApi.listChannels({ sort: ['created_at', 'id'], limit: 1000 })
  return page.items
}

describe('reconciliation against the simulator and embedded DynamoDB', () => {
  it('stores everything once, then re-runs without a single item write or read', async () => {
    const a = await start(120, 25)
    const first = (await a.poll()) as RunSummary
    expect(first).toMatchObject({
      outcome: 'succeeded',
      seen: { clients: 5, channels: 120 },
      changed: { clients: 5, channels: 120 },
    })
    expect(first.pages).toBe(1 + Math.ceil(120 / 25))

    const { store, counts } = countingStore(a.deps.config)
    const handler = buildPollerHandler({ ...a.deps, store })
    const second = await handler({}, context)
    const t = a.deps.config

    expect(second).toMatchObject({ outcome: 'succeeded', changed: { clients: 0, channels: 0 } })
    expect(counts.on(t.TABLE_CHANNELS, 'writes')).toBe(0)
    expect(counts.on(t.TABLE_CLIENTS, 'writes')).toBe(0)
    expect(counts.byCall.get(`GetItemCommand ${t.TABLE_CHANNELS}`)).toBeUndefined()
    // Lease, summary, release: the run's own bookkeeping and nothing else.
    expect(counts.writes).toBe(counts.on(t.TABLE_OPS, 'writes'))
    expect(second.calls).toBe(second.pages)
  })

  it('writes exactly the changed channels after upstream changed', async () => {
    const a = await start(60, 20)
    await a.poll()
    const ids = (await upstreamChannels(a)).slice(0, 3).map((c) => c.id)
    for (const id of ids) a.simulator?.mutateChannel(id, { setup_info: { phone_name: `Renamed ${id}` } })
    const { store, counts } = countingStore(a.deps.config)
    const summary = await reconcile({ ...a.deps, store })
    expect(summary.changed.channels).toBe(3)
    expect(counts.on(a.deps.config.TABLE_CHANNELS, 'writes')).toBe(3)
    expect((await a.deps.store.channels.get(ids[0] as string))?.displayName).toBe(`Renamed ${ids[0]}`)
  })

  it('loses no channel and marks none missing falsely when the list drifts between pages', async () => {
    const a = await start(100, 10)
    const sim = a.simulator
    if (!sim) throw new Error('no simulator')
    await a.poll()
    const before = await upstreamChannels(a)
    const deleted = before.slice(2, 5).map((c) => c.id)
    const added: string[] = []
    let drifted = false
    sim.onList = (kind, offset) => {
      if (kind !== 'channels' || drifted || offset < 30) return
      drifted = true
      // Items already read disappear (later items shift left, past the walk), new ones are appended.
      for (const id of deleted) sim.removeChannel(id)
      const clientId = before[0]?.client_id as string
      for (let i = 0; i < 2; i++) added.push(sim.addChannel({ client_id: clientId }).id)
    }

    const drift = (await a.poll()) as RunSummary
    sim.onList = undefined
    expect(drifted).toBe(true)
    expect(drift.outcome).toBe('succeeded')
    const second = (await a.poll()) as RunSummary
    expect(second.outcome).toBe('succeeded')

    const upstream = await upstreamChannels(a)
    expect(upstream).toHaveLength(99)
    for (const ch of upstream) {
      const stored = await a.deps.store.channels.get(ch.id)
      expect(stored, ch.id).not.toBeNull()
      expect(stored?.missingSince, ch.id).toBeNull()
      expect(stored?.absentRuns, ch.id).toBe(0)
    }
    for (const id of deleted) expect((await a.deps.store.channels.get(id))?.missingSince, id).not.toBeNull()
    for (const id of added) expect(await a.deps.store.channels.get(id), id).not.toBeNull()
  })

  it('counts a drift-skipped channel absent once, and marks only the removed one missing, a run later', async () => {
    const a = await start(60, 10)
    const sim = a.simulator
    if (!sim) throw new Error('no simulator')
    await a.poll()
    const before = await upstreamChannels(a)
    const removed = before[1] as UpstreamChannel
    let drifted = false
    sim.onList = (kind, offset) => {
      if (kind !== 'channels' || drifted || offset < 20) return
      drifted = true
      sim.removeChannel(removed.id)
    }
    const absentOnce = async (): Promise<string[]> => {
      const out: string[] = []
      for (const ch of before) if ((await a.deps.store.channels.get(ch.id))?.absentRuns === 1) out.push(ch.id)
      return out
    }

    // Run 1: the removal shifts one later channel past the walk; the removed one was already read.
    const first = await reconcile(a.deps, { absenceLookups: 0 })
    sim.onList = undefined
    expect(first.missing.channels).toBe(0)
    const skipped = await absentOnce()
    expect(skipped).toHaveLength(1)
    expect(skipped).not.toContain(removed.id)

    // Run 2: the skipped channel is seen again; the removed one is absent for the first time.
    const second = await reconcile(a.deps, { absenceLookups: 0 })
    expect(second.missing.channels).toBe(0)
    expect(await absentOnce()).toEqual([removed.id])

    // Run 3: the second complete run without it.
    const third = await reconcile(a.deps, { absenceLookups: 0 })
    expect(third.missing.channels).toBe(1)
    expect((await a.deps.store.channels.get(removed.id))?.missingSince).not.toBeNull()
    const stillThere = before.filter((c) => c.id !== removed.id)
    for (const ch of stillThere) {
      expect(await a.deps.store.channels.get(ch.id), ch.id).toMatchObject({
        absentRuns: 0,
        missingSince: null,
      })
    }
  })

  it.each([2, 5, 10])('lets exactly one of %i concurrent invocations do the work', async (n) => {
    const a = await start(40, 10)
    a.simulator?.setFaults({ latencyMs: 20 })
    const results = (await Promise.all(Array.from({ length: n }, () => a.poll()))) as RunSummary[]
    expect(results.filter((r) => r.outcome === 'succeeded')).toHaveLength(1)
    expect(results.filter((r) => r.outcome === 'skipped')).toHaveLength(n - 1)
    const channelLists = (a.simulator?.requests() ?? []).filter((r) => r.path.endsWith('/channels'))
    expect(channelLists).toHaveLength(4)
    expect((await a.deps.store.ops.getRunSummaries()).last?.outcome).toBe('succeeded')
  })
})

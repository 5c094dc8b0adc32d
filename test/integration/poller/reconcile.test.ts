import { afterEach, describe, expect, it } from 'vitest'
import { buildPollerHandler } from '../../../functions/poller/handler'
import { type App, startApp } from '../../../local/app'
import type { RunSummary } from '../../../shared/domain/types'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { lambdaContext } from '../../support/lambda'
import { call } from '../api/support'
import { countingStore } from './dynamo-counter'
import { type RewritingProxy, startRewritingProxy } from './rewriting-proxy'

const context = lambdaContext('poller', 300_000)

let app: App | null = null
let proxy: RewritingProxy | null = null
afterEach(async () => {
  await app?.close()
  app = null
  await proxy?.close()
  proxy = null
})

async function start(channels: number, pageSize: number, env: Record<string, string> = {}): Promise<App> {
  app = await startApp({
    pollIntervalSeconds: null,
    simulator: { seed: 'empty', deliverWebhooks: false },
    // Every run sweeps fully unless a test says otherwise (the incremental tests below do).
    env: {
      POLL_PAGE_SIZE: String(pageSize),
      POLL_CONCURRENCY: '4',
      FULL_SWEEP_INTERVAL_SECONDS: '0',
      ...env,
    },
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
    // Lease, summary, release, the partner settings check: the run's own bookkeeping and nothing else.
    expect(counts.writes).toBe(counts.on(t.TABLE_OPS, 'writes'))
    // One call per page, plus the one partner-info call of the drift check.
    expect(second.calls).toBe(second.pages + 1)
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

type Page = Record<string, unknown> & { partner_channels?: Record<string, unknown>[] }

/** The app with its Partner API calls going through a rewriting proxy in front of the simulator. */
async function startProxied(channels: number, pageSize: number): Promise<{ a: App; px: RewritingProxy }> {
  const px = await startRewritingProxy()
  proxy = px
  const a = await start(channels, pageSize, { PARTNER_API_BASE_URL: px.baseUrl })
  if (!a.simulator) throw new Error('no simulator')
  px.target = a.simulator.url
  return { a, px }
}

/** Rewrites only the channels list pages (the walk and the lookups by id alike). */
function onChannelPages(rewrite: (page: Page) => unknown): RewritingProxy['rewrite'] {
  return (path, _query, body) => (path.endsWith('/channels') ? rewrite(body as Page) : body)
}

async function expectNoneAbsent(a: App, channels: UpstreamChannel[]): Promise<void> {
  for (const ch of channels) {
    expect(await a.deps.store.channels.get(ch.id), ch.id).toMatchObject({ absentRuns: 0, missingSince: null })
  }
}

describe('reconciliation against pages that are not what they should be (issue 11)', () => {
  it('keeps an invalid channel aside with its reason, applies the rest of its page, and never takes it for missing', async () => {
    const { a, px } = await startProxied(30, 10)
    const sim = a.simulator as NonNullable<App['simulator']>
    await a.poll()
    const before = await upstreamChannels(a)
    const broken = before[12] as UpstreamChannel
    const renamed = before[14] as UpstreamChannel
    sim.mutateChannel(renamed.id, { setup_info: { phone_name: 'Renamed on the same page' } })
    px.rewrite = onChannelPages((page) => ({
      ...page,
      partner_channels: page.partner_channels?.map((c) =>
        c['id'] === broken.id ? { ...c, client_id: { id: c['client_id'] } } : c,
      ),
    }))

    // Before issue 11 the first of these runs failed as a whole (upstream_invalid_response).
    for (let run = 0; run < 3; run++) {
      expect(await a.poll()).toMatchObject({
        outcome: 'succeeded',
        quarantined: 1,
        warnings: ['quarantined_items'],
        seen: { channels: 29 },
        missing: { channels: 0 },
      })
    }
    expect((await a.deps.store.channels.get(renamed.id))?.displayName).toBe('Renamed on the same page')
    await expectNoneAbsent(a, before)

    const status = await call(a, '/status')
    expect(status.status).toBe(200)
    const rec = status.json['reconciliation'] as Record<string, unknown>
    expect(rec['last']).toMatchObject({ quarantined: 1, warnings: ['quarantined_items'] })
    expect(rec['quarantine']).toMatchObject({
      count: 1,
      countCapped: false,
      items: [
        { kind: 'channel', id: broken.id, key: broken.id, reason: expect.stringContaining('client_id') },
      ],
    })
    const item = (rec['quarantine'] as { items: { raw: string }[] }).items[0]
    expect(JSON.parse(item?.raw ?? '{}')).toMatchObject({
      id: broken.id,
      client_id: { id: broken.client_id },
    })
  })

  it('proves no absence from a walk that quarantined an item without an id', async () => {
    const { a, px } = await startProxied(30, 10)
    await a.poll()
    const before = await upstreamChannels(a)
    const nameless = before[5] as UpstreamChannel
    px.rewrite = onChannelPages((page) => ({
      ...page,
      partner_channels: page.partner_channels?.map((c) => {
        if (c['id'] !== nameless.id) return c
        const { id: _id, ...rest } = c
        return rest
      }),
    }))
    for (let run = 0; run < 3; run++) {
      expect(await a.poll()).toMatchObject({ outcome: 'succeeded', quarantined: 1, missing: { channels: 0 } })
    }
    // The stored channel behind the nameless item cannot be told apart from one really gone.
    await expectNoneAbsent(a, before)
    const [item] = await a.deps.store.ops.listQuarantined(new Date(), 10)
    expect(item).toMatchObject({ kind: 'channel', id: null, key: expect.stringMatching(/^sha256:/) })
    expect(item?.reason).toMatch(/^id: /)
  })

  it('fails loudly on a channels page whose items key is spelled differently, and marks nothing missing', async () => {
    const { a, px } = await startProxied(30, 10)
    await a.poll()
    const before = await upstreamChannels(a)
    px.rewrite = onChannelPages(({ partner_channels, ...rest }) => ({ ...rest, channels: partner_channels }))

    // Before issue 11 these runs "succeeded" with zero channels and the third marked every one missing.
    for (let run = 0; run < 3; run++) {
      await expect(a.poll()).rejects.toMatchObject({ code: 'items_key_missing' })
    }
    const { last } = await a.deps.store.ops.getRunSummaries()
    expect(last).toMatchObject({ outcome: 'failed', complete: false, warnings: ['items_key_missing'] })
    expect(last?.error).toContain('items_key_missing')
    await expectNoneAbsent(a, before)
  })

  it('marks nothing missing when a well-formed list suddenly holds nothing, and says so', async () => {
    const { a, px } = await startProxied(60, 20)
    await a.poll()
    const before = await upstreamChannels(a)
    px.rewrite = onChannelPages((page) => ({ ...page, count: 0, total: 0, partner_channels: [] }))

    // Before issue 11 the first such run marked 25 channels missing at once (their lookups found nothing).
    for (let run = 0; run < 3; run++) {
      expect(await a.poll()).toMatchObject({
        outcome: 'succeeded',
        complete: true,
        warnings: ['mass_missing_halted'],
        missing: { clients: 0, channels: 0 },
      })
    }
    await expectNoneAbsent(a, before)
    const status = await call(a, '/status')
    expect(status.json['reconciliation']).toMatchObject({ last: { warnings: ['mass_missing_halted'] } })
  })

  it('warns when the walk does not add up to the upstream total', async () => {
    const { a, px } = await startProxied(30, 10)
    await a.poll()
    px.rewrite = onChannelPages((page) => ({ ...page, total: Number(page['total']) + 5 }))
    expect(await a.poll()).toMatchObject({
      outcome: 'succeeded',
      warnings: ['total_mismatch'],
      seen: { channels: 30 },
      missing: { channels: 0 },
    })
  })
})

describe('incremental reconciliation against the simulator and embedded DynamoDB', () => {
  it('reads one page per list by -modified_at between full sweeps, and GET /status says which run was which', async () => {
    const a = await start(300, 50, { FULL_SWEEP_INTERVAL_SECONDS: '3600' })
    const first = (await a.poll()) as RunSummary
    expect(first).toMatchObject({ mode: 'full', outcome: 'succeeded', seen: { clients: 5, channels: 300 } })
    const ids = (await upstreamChannels(a)).slice(10, 12).map((c) => c.id)
    for (const id of ids) a.simulator?.mutateChannel(id, { setup_info: { phone_name: `Renamed ${id}` } })

    const { store, counts } = countingStore(a.deps.config)
    const callsBefore = a.deps.partnerApi.stats().calls
    const second = await reconcile({ ...a.deps, store })

    expect(second).toMatchObject({
      mode: 'incremental',
      outcome: 'succeeded',
      complete: true,
      warnings: [],
      changed: { clients: 0, channels: 2 },
    })
    // The fleet was generated long before the first run: one page per list reaches past the window;
    // plus the run's one partner-info call (the partner settings drift check).
    expect(a.deps.partnerApi.stats().calls - callsBefore).toBe(3)
    expect(counts.on(a.deps.config.TABLE_CHANNELS, 'writes')).toBe(2)
    for (const id of ids) expect((await a.deps.store.channels.get(id))?.displayName).toBe(`Renamed ${id}`)

    const status = await call(a, '/status')
    expect(status.status).toBe(200)
    const rec = status.json.reconciliation as { last: RunSummary; lastSuccess: RunSummary }
    expect(rec.last).toMatchObject({ runId: second.runId, mode: 'incremental' })
  })
})

describe('a full sweep larger than one invocation, against the simulator and embedded DynamoDB', () => {
  it('saves its position, continues in the next run, and GET /status shows it in progress', async () => {
    const a = await start(150, 10, { POLL_BUDGET_MS: '1500', POLL_CONCURRENCY: '1' })
    // 16 pages one at a time at 150 ms each take at least 2.4 s, whatever the machine: more than the
    // budget (at 60 ms a quiet machine finished the walk in one run since the lighter zod schemas).
    a.simulator?.setFaults({ latencyMs: 150 })
    const first = (await a.poll()) as RunSummary
    expect(first).toMatchObject({ mode: 'full', outcome: 'succeeded', complete: false })
    expect(first.sweep?.phase).not.toBe('done')

    const status = await call(a, '/status')
    const rec = status.json.reconciliation as { sweep: { sweepId: string; offset: number } | null }
    expect(rec.sweep).toMatchObject({ sweepId: first.sweep?.sweepId, offset: first.sweep?.offset })

    const runs = [first]
    for (let i = 0; i < 20 && runs.at(-1)?.sweep?.phase !== 'done'; i++)
      runs.push((await a.poll()) as RunSummary)
    const last = runs.at(-1) as RunSummary
    expect(last).toMatchObject({ complete: true, sweep: { sweepId: first.sweep?.sweepId, phase: 'done' } })
    expect(last.sweep?.seen).toEqual({ clients: 5, channels: 150 })
    // No channel read twice across the sweep's runs (each continued at the saved offset).
    expect(runs.reduce((n, r) => n + r.seen.channels, 0)).toBe(150)
    for (const ch of await upstreamChannels(a))
      expect(await a.deps.store.channels.get(ch.id), ch.id).not.toBeNull()
    const after = await call(a, '/status')
    expect(after.json.reconciliation as { sweep: unknown; lastFullSweep: { sweepId: string } }).toMatchObject(
      {
        sweep: null,
        lastFullSweep: { sweepId: first.sweep?.sweepId },
      },
    )
  })
})

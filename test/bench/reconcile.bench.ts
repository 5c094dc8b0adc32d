import { type ChildProcess, spawn } from 'node:child_process'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb'
import { buildPollerHandler } from '../../functions/poller/handler'
import { createLocalDynamoClient, startDynalite } from '../../local/dynalite'
import { startSimulator } from '../../local/simulator/server'
import { ensureTables, tableNamesFromConfig } from '../../shared/adapters/dynamo/dynamo-store'
import { KEYS } from '../../shared/adapters/dynamo/tables'
import { createPartnerApiClient } from '../../shared/adapters/partner-api/client'
import { createEnvSecretSource } from '../../shared/adapters/secrets'
import { channelFromUpstream, clientFromUpstream } from '../../shared/domain/mapping'
import type { RunSummary } from '../../shared/domain/types'
import { type Config, loadConfig } from '../../shared/env'
import type { PartnerApi, StateStore } from '../../shared/ports'
import { CHANNEL_SORT, CLIENT_SORT } from '../../shared/services/reconciliation/reconcile'
import { createAppDeps } from '../../shared/wiring'
import { countingStore, type DynamoCounts } from '../integration/poller/dynamo-counter'
import { lambdaContext } from '../support/lambda'
import type { Bench, BenchTable } from './harness'
import { round, withPeakRss } from './harness'

/**
 * Reconciliation at 1,000 / 10,000 / 100,000 channels against the simulator (20 ms per call) and
 * dynalite, both in a child process so the peak RSS measured here is the poller's own. For each
 * size: first run, unchanged re-run, re-run after 1 % changed, beside a naive baseline (sequential
 * pages, an unconditional put of every item) measured in the same run.
 */

const SIZES = (process.env.RECONCILE_BENCH_SIZES ?? '1000,10000,100000').split(',').map(Number)
const LATENCY_MS = 20
const PAGE_SIZE = 100
const CHANNELS_PER_CLIENT = 20
const API_KEY = 'bench-partner-key'
const PARTNER_ID = 'benchPA'
/**
 * Above this size (unless RECONCILE_BENCH_FULL=1) dynalite's write rate (a few hundred conditional
 * puts per second on these machines) would make the first run and the naive baseline take many
 * minutes: the state is bulk-loaded instead (BatchWrite, not measured), the first run is not
 * measured, and the naive baseline is measured once on the first 10 % of pages and scaled ×10.
 */
const FULL_UP_TO = process.env.RECONCILE_BENCH_FULL === '1' ? Number.POSITIVE_INFINITY : 10_000
const NAIVE_SAMPLE = 0.1
/**
 * Node flags of each driver: the heap a 256 MB function can give V8. Without a cap V8 lets garbage
 * pile up to whatever the machine offers (at 100,000 channels about 200 MB of heap, most of it
 * collectable), which says nothing about the memory the run needs.
 */
const DRIVER_FLAGS = '--max-old-space-size=128'

// ---------------------------------------------------------------------------------------------
// Child: simulator + dynalite, driven by JSON lines on stdin.

interface Command {
  cmd: 'generate' | 'mutate' | 'bulkload' | 'close'
  clients?: number
  channels?: number
  count?: number
  tablePrefix?: string
}

async function child(): Promise<void> {
  const dynamo = await startDynalite()
  const sim = await startSimulator({
    seed: 'empty',
    deliverWebhooks: false,
    // Canonical pages: the figures measure reconciliation, not the simulator's variants.
    variance: 'off',
    partnerId: PARTNER_ID,
    apiKeys: [API_KEY],
    maxPageSize: 1000,
  })
  sim.setFaults({ latencyMs: LATENCY_MS })
  const say = (o: object): void => void process.stdout.write(`@@${JSON.stringify(o)}\n`)
  say({ ready: true, endpoint: dynamo.endpoint, baseUrl: sim.baseUrl })
  const ids: string[] = []
  // Each mutate renames to a new name, so a second one changes the same channels again.
  let mutations = 0
  for await (const line of createInterface({ input: process.stdin })) {
    const c = JSON.parse(line) as Command
    if (c.cmd === 'generate') {
      sim.generate({ clients: c.clients ?? 1, channels: c.channels ?? 1 })
      for (let n = 1; n <= (c.channels ?? 1); n++) ids.push(`Gh${n.toString(36).padStart(7, '0')}CH`)
      say({ ok: true })
    } else if (c.cmd === 'mutate') {
      const every = Math.max(1, Math.floor(ids.length / (c.count ?? 1)))
      mutations += 1
      let done = 0
      for (let i = 0; i < ids.length && done < (c.count ?? 1); i += every) {
        sim.mutateChannel(ids[i] as string, { setup_info: { phone_name: `Renamed ${i}.${mutations}` } })
        done++
      }
      say({ ok: true, mutated: done })
    } else if (c.cmd === 'bulkload') {
      // Set-up only: the latency fault is lifted while the state is loaded.
      sim.setFaults({})
      const config = benchConfig({ endpoint: dynamo.endpoint, baseUrl: sim.baseUrl }, c.tablePrefix ?? 'opt')
      const client = createLocalDynamoClient(dynamo.endpoint)
      await ensureTables(client, tableNamesFromConfig(config))
      const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })
      await bulkLoad(partnerApiFor(config), doc, config)
      sim.setFaults({ latencyMs: LATENCY_MS })
      say({ ok: true })
    } else {
      await sim.close()
      await dynamo.close()
      say({ ok: true })
      process.exit(0)
    }
  }
}

interface ChildHandle {
  endpoint: string
  baseUrl: string
  send(c: Command): Promise<Record<string, unknown>>
  proc: ChildProcess
}

async function spawnChild(): Promise<ChildHandle> {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, RECONCILE_BENCH_ROLE: 'env' },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]()
  const next = async (): Promise<Record<string, unknown>> => {
    for (;;) {
      const r = await lines.next()
      if (r.done) throw new Error('bench child exited')
      if (r.value.startsWith('@@')) return JSON.parse(r.value.slice(2)) as Record<string, unknown>
    }
  }
  const hello = await next()
  return {
    endpoint: String(hello.endpoint),
    baseUrl: String(hello.baseUrl),
    proc,
    send: async (c) => {
      proc.stdin?.write(`${JSON.stringify(c)}\n`)
      return next()
    },
  }
}

// ---------------------------------------------------------------------------------------------
// Parent: the poller (this process) and the naive baseline.

interface Measure {
  calls: number
  reads: number
  writes: number
  wallMs: number
  peakRssMb: number
  peakHeapMb: number
  changed: number
  /** The poller's key step after the run (issue 15: ready channels without a key), measured apart. */
  keyStep: { calls: number; reads: number; writes: number; wallMs: number } | null
}

/**
 * Where the run ended and the handler's key step began: the key step's first request lists the
 * channels needing a key (`keyNeededIds`), after the run saved its summary and released its lease.
 */
interface Mark {
  calls: number
  reads: number
  writes: number
  at: number
}
let watch: { counts: DynamoCounts; api: PartnerApi; mark: Mark | null } | null = null

/** Marks the start of the key step on the store the handlers share. */
function markKeyStep(store: StateStore): void {
  const list = store.channels.keyNeededIds.bind(store.channels)
  store.channels.keyNeededIds = () => {
    if (watch && watch.mark === null) {
      watch.mark = {
        calls: watch.api.stats().calls,
        reads: watch.counts.reads,
        writes: watch.counts.writes,
        at: performance.now(),
      }
    }
    return list()
  }
}

const context = lambdaContext('poller', 900_000)

function benchConfig(
  h: { endpoint: string; baseUrl: string },
  tablePrefix: string,
  extra: Record<string, string> = {},
): Config {
  return loadConfig({
    ...extra,
    PARTNER_ID,
    PARTNER_API_BASE_URL: h.baseUrl,
    SECRETS_SOURCE: 'env',
    PARTNER_API_KEY: API_KEY,
    DYNAMODB_ENDPOINT: h.endpoint,
    EVENT_SINK: 'none',
    POLL_PAGE_SIZE: String(PAGE_SIZE),
    POLL_CONCURRENCY: '4',
    POLL_BUDGET_MS: '900000',
    POLL_LEASE_MS: '1000000',
    TABLE_CLIENTS: `${tablePrefix}-clients`,
    TABLE_CHANNELS: `${tablePrefix}-channels`,
    TABLE_EVENTS: `${tablePrefix}-webhook-events`,
    TABLE_CANCELLATIONS: `${tablePrefix}-cancellations`,
    TABLE_AUDIT: `${tablePrefix}-audit`,
    TABLE_OPS: `${tablePrefix}-ops`,
  })
}

function partnerApiFor(config: Config): PartnerApi {
  return createPartnerApiClient({
    baseUrl: config.PARTNER_API_BASE_URL,
    partnerId: config.PARTNER_ID,
    auth: 'api_key',
    secrets: createEnvSecretSource({ partnerApi: API_KEY }),
    timeoutMs: 30_000,
  })
}

/** A full garbage collection, so each measurement starts without the previous one's garbage. */
function collectGarbage(): void {
  setFlagsFromString('--expose_gc')
  const gc = runInNewContext('gc') as (() => void) | undefined
  gc?.()
}

async function measure(counts: DynamoCounts, api: PartnerApi, run: () => Promise<number>): Promise<Measure> {
  collectGarbage()
  counts.reset()
  const calls = api.stats().calls
  const started = performance.now()
  let peakHeap = process.memoryUsage().heapUsed
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
  }, 20)
  watch = { counts, api, mark: null }
  const { result, peakRssMb } = await withPeakRss(run).finally(() => clearInterval(sampler))
  const ended = performance.now()
  const mark = watch.mark as Mark | null
  watch = null
  const total = { calls: api.stats().calls - calls, reads: counts.reads, writes: counts.writes }
  const key =
    mark === null
      ? null
      : {
          calls: total.calls - (mark.calls - calls),
          reads: total.reads - mark.reads,
          writes: total.writes - mark.writes,
          wallMs: ended - mark.at,
        }
  return {
    peakHeapMb: round(peakHeap / 1024 / 1024, 1),
    calls: total.calls - (key?.calls ?? 0),
    reads: total.reads - (key?.reads ?? 0),
    writes: total.writes - (key?.writes ?? 0),
    wallMs: (mark?.at ?? ended) - started,
    peakRssMb,
    changed: result,
    keyStep: key,
  }
}

/** The naive baseline: pages one after another, every item put without a condition. */
async function naiveRun(
  api: PartnerApi,
  doc: DynamoDBDocumentClient,
  config: Config,
  maxChannels = Number.POSITIVE_INFINITY,
): Promise<number> {
  const now = new Date()
  let written = 0
  for (let offset = 0; ; ) {
    const page = await api.listClients({ sort: CLIENT_SORT, limit: PAGE_SIZE, offset })
    await Promise.all(
      page.items.map((up) =>
        doc.send(
          new PutCommand({
            TableName: config.TABLE_CLIENTS,
            Item: clientFromUpstream(up, { now, source: 'poll', kind: 'snapshot' }),
          }),
        ),
      ),
    )
    written += page.items.length
    offset += page.items.length
    if (page.items.length === 0 || offset >= page.total) break
  }
  for (let offset = 0; ; ) {
    const page = await api.listChannels({ sort: CHANNEL_SORT, limit: PAGE_SIZE, offset })
    await Promise.all(
      page.items.map((up) =>
        doc.send(
          new PutCommand({
            TableName: config.TABLE_CHANNELS,
            Item: channelFromUpstream(up, { now, source: 'poll', kind: 'snapshot' }),
          }),
        ),
      ),
    )
    written += page.items.length
    offset += page.items.length
    if (page.items.length === 0 || offset >= page.total || offset >= maxChannels) break
  }
  return written
}

/** Writes what a first reconciliation run would write, in BatchWrite requests (set-up, not measured). */
async function bulkLoad(api: PartnerApi, doc: DynamoDBDocumentClient, config: Config): Promise<void> {
  const now = new Date()
  const put = async (table: string, items: Record<string, unknown>[]): Promise<void> => {
    const batches: Record<string, unknown>[][] = []
    for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25))
    await Promise.all(
      batches.map(async (batch) => {
        let pending = batch.map((Item) => ({ PutRequest: { Item } }))
        for (let round = 0; pending.length > 0 && round < 20; round++) {
          const out = await doc.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }))
          pending = (out.UnprocessedItems?.[table] ?? []) as typeof pending
        }
      }),
    )
  }
  for (let offset = 0; ; ) {
    const page = await api.listClients({ sort: CLIENT_SORT, limit: 1000, offset })
    await put(
      config.TABLE_CLIENTS,
      page.items.map((up) => ({ ...clientFromUpstream(up, { now, source: 'poll', kind: 'snapshot' }) })),
    )
    offset += page.items.length
    if (page.items.length === 0 || offset >= page.total) break
  }
  for (let offset = 0; ; ) {
    const page = await api.listChannels({ sort: CHANNEL_SORT, limit: 1000, offset })
    await put(
      config.TABLE_CHANNELS,
      page.items.map((up) => {
        const c = channelFromUpstream(up, { now, source: 'poll', kind: 'snapshot' })
        return c.phoneNumber ? { ...c, [KEYS.channels.phoneKey]: c.phoneNumber } : { ...c }
      }),
    )
    offset += page.items.length
    if (page.items.length === 0 || offset >= page.total) break
  }
}

async function benchSize(size: number): Promise<{ rows: (string | number)[][]; ratios: string[] }> {
  const h = await spawnChild()
  try {
    const clients = Math.max(1, Math.floor(size / CHANNELS_PER_CLIENT))
    await h.send({ cmd: 'generate', clients, channels: size })

    const optConfig = benchConfig(h, 'opt')
    const opt = countingStore(optConfig)
    markKeyStep(opt.store)
    await ensureTables(opt.client, tableNamesFromConfig(optConfig))
    const api = partnerApiFor(optConfig)
    const deps = createAppDeps(optConfig, 'poller-bench', {
      store: opt.store,
      partnerApi: api,
      events: { publish: async (batch) => ({ published: batch.length }) },
    })
    const handler = buildPollerHandler(deps)
    // The same poller on the same tables, told that every run is a full sweep.
    const sweepConfig = benchConfig(h, 'opt', { FULL_SWEEP_INTERVAL_SECONDS: '0' })
    const sweepHandler = buildPollerHandler(
      createAppDeps(sweepConfig, 'poller-bench', {
        store: opt.store,
        partnerApi: api,
        events: { publish: async (batch) => ({ published: batch.length }) },
      }),
    )
    const modes: string[] = []
    const pollWith = (h: typeof handler) => async (): Promise<number> => {
      const s: RunSummary = await h({}, context)
      if (s.outcome !== 'succeeded' || !s.complete) throw new Error(`run ${s.outcome}: ${s.error}`)
      modes.push(s.mode)
      return s.changed.channels + s.changed.clients
    }
    const pollOnce = pollWith(handler)
    const sweepOnce = pollWith(sweepHandler)

    const baseConfig = benchConfig(h, 'naive')
    const base = countingStore(baseConfig)
    await ensureTables(base.client, tableNamesFromConfig(baseConfig))
    const baseApi = partnerApiFor(baseConfig)
    const doc = DynamoDBDocumentClient.from(base.client, { marshallOptions: { removeUndefinedValues: true } })
    const naive = (): Promise<Measure> =>
      measure(base.counts, baseApi, () => naiveRun(baseApi, doc, baseConfig))

    const full = size <= FULL_UP_TO
    const optDoc = DynamoDBDocumentClient.from(opt.client, {
      marshallOptions: { removeUndefinedValues: true },
    })
    let first: Measure | null = null
    if (full) first = await measure(opt.counts, api, pollOnce)
    else {
      await bulkLoad(partnerApiFor(optConfig), optDoc, optConfig)
      // What the (unmeasured) first sweep would have left: its start as the watermark.
      const at = new Date().toISOString()
      await opt.store.ops.saveReconcileState(
        {
          version: 1,
          watermark: at,
          lastFullSweep: { sweepId: 'bulk-load', startedAt: at, completedAt: at },
          sweep: null,
        },
        null,
      )
    }
    const unchanged = await measure(opt.counts, api, pollOnce)
    const unchangedSweep = await measure(opt.counts, api, sweepOnce)
    const mutated = Number((await h.send({ cmd: 'mutate', count: Math.max(1, size / 100) })).mutated)
    const onePercent = await measure(opt.counts, api, pollOnce)
    // Another 1 % changes, read by the daily full sweep instead.
    await h.send({ cmd: 'mutate', count: Math.max(1, size / 100) })
    const onePercentSweep = await measure(opt.counts, api, sweepOnce)
    const expected = full
      ? ['full', 'incremental', 'full', 'incremental', 'full']
      : ['incremental', 'full', 'incremental', 'full']
    if (modes.join() !== expected.join()) throw new Error(`unexpected run modes ${modes.join()}`)

    let nFirst: Measure
    let nUnchanged: Measure
    let nOnePercent: Measure
    let naiveNote = ''
    if (full) {
      nFirst = await naive()
      nUnchanged = await naive()
      nOnePercent = await naive()
    } else {
      const sample = await measure(base.counts, baseApi, () =>
        naiveRun(baseApi, doc, baseConfig, Math.ceil(size * NAIVE_SAMPLE)),
      )
      const k = 1 / NAIVE_SAMPLE
      // Clients are all read and put in the sample; only the channel part is scaled.
      const channelCalls = sample.calls - Math.ceil(clients / PAGE_SIZE)
      nFirst = {
        ...sample,
        calls: sample.calls + Math.round(channelCalls * (k - 1)),
        writes: clients + size,
        changed: clients + size,
        wallMs: sample.wallMs * k,
      }
      nUnchanged = nFirst
      nOnePercent = nFirst
      naiveNote = `estimate: first ${NAIVE_SAMPLE * 100} % of pages measured (${round(sample.wallMs / 1000, 1)} s), wall ×${k}; same work in every scenario`
    }

    const label = size.toLocaleString('en-US')
    const keyNote = (m: Measure | null): string =>
      m?.keyStep && m.keyStep.calls + m.keyStep.writes > 0
        ? `; then the handler's key step (issue 15): ${m.keyStep.calls} calls, ${m.keyStep.reads} reads, ${m.keyStep.writes} writes, ${round(m.keyStep.wallMs / 1000, 2)} s`
        : ''
    const row = (scenario: string, m: Measure | null, who: string, note = ''): (string | number)[] =>
      m === null
        ? [label, scenario, who, '–', '–', '–', '–', '–', '–', '–', note]
        : [
            label,
            scenario,
            who,
            m.changed,
            m.calls,
            m.reads,
            m.writes,
            round(m.wallMs / 1000, 2),
            m.peakRssMb,
            m.peakHeapMb,
            `${note}${who === 'reconcile' ? keyNote(m) : ''}`,
          ]
    const rows = [
      row(
        'first run',
        first,
        'reconcile',
        full
          ? ''
          : 'not measured: state bulk-loaded (first runs are bound by dynalite write rate, see 10,000)',
      ),
      row('first run', nFirst, 'naive', naiveNote),
      row('unchanged re-run', unchanged, 'reconcile', 'incremental (-modified_at)'),
      row('unchanged re-run', unchangedSweep, 'reconcile', 'full sweep (daily)'),
      row('unchanged re-run', nUnchanged, 'naive', naiveNote),
      row(`1 % changed (${mutated})`, onePercent, 'reconcile', 'incremental (-modified_at)'),
      row(`1 % changed (${mutated})`, onePercentSweep, 'reconcile', 'full sweep (daily)'),
      row(`1 % changed (${mutated})`, nOnePercent, 'naive', naiveNote),
    ]
    const ratios = [
      `${label}: unchanged re-run ${round(nUnchanged.wallMs / unchanged.wallMs, 1)}× faster than naive ` +
        `(full sweep ${round(nUnchanged.wallMs / unchangedSweep.wallMs, 1)}×), ` +
        `1 % changed ${round(nOnePercent.wallMs / onePercent.wallMs, 1)}× faster` +
        (first ? `, first run ${round(nFirst.wallMs / first.wallMs, 1)}×` : ''),
    ]
    return { rows, ratios }
  } finally {
    await h.send({ cmd: 'close' }).catch(() => undefined)
    h.proc.kill()
  }
}

/** Runs one size in a fresh process, so each size's peak RSS is its own. */
async function runDriver(size: number): Promise<{ rows: (string | number)[][]; ratios: string[] }> {
  const flags = (process.env.RECONCILE_BENCH_NODE_FLAGS ?? DRIVER_FLAGS).split(' ').filter((f) => f !== '')
  const proc = spawn(process.execPath, [...flags, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, RECONCILE_BENCH_ROLE: 'driver', RECONCILE_BENCH_SIZE: String(size) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let result: { rows: (string | number)[][]; ratios: string[] } | null = null
  for await (const line of createInterface({ input: proc.stdout as NodeJS.ReadableStream })) {
    if (line.startsWith('@@')) result = JSON.parse(line.slice(2)) as typeof result
  }
  if (!result) throw new Error(`bench driver for ${size} channels failed`)
  return result
}

export const bench: Bench = {
  name: 'reconcile',
  async run(): Promise<BenchTable[]> {
    const rows: (string | number)[][] = []
    const ratios: string[] = []
    const loads: string[] = []
    for (const size of SIZES) {
      process.stderr.write(`  reconcile bench: ${size} channels…\n`)
      const before = loadavg()[0] ?? 0
      const r = await runDriver(size)
      rows.push(...r.rows)
      ratios.push(...r.ratios)
      loads.push(`${size.toLocaleString('en-US')}: ${before.toFixed(1)}–${(loadavg()[0] ?? 0).toFixed(1)}`)
    }
    return [
      {
        title: 'Reconciliation: upstream calls, DynamoDB requests, wall time, peak RSS',
        note:
          `\`npm run bench -- reconcile\`; load average (1 min) before–after each size: ${loads.join(', ')}. ` +
          `Simulator (${LATENCY_MS} ms per call) and dynalite in one child process; each size runs in its own ` +
          `driver process (tsx, about 115 MB RSS before any work; node ${process.env.RECONCILE_BENCH_NODE_FLAGS ?? DRIVER_FLAGS}), ` +
          'the poller through its Lambda handler, ' +
          `reconcile's runs before the baseline's. Page size ${PAGE_SIZE}, concurrency 4, ` +
          `${CHANNELS_PER_CLIENT} channels per client. reads/writes = DynamoDB requests counted by a client ` +
          "middleware (reconcile's writes include the run's 4 own records: lease, reconciliation state, summary, " +
          "release; BatchGetItem of a page's digests counts as one read). After each run the poller's handler provisions keys for up to " +
          "200 ready channels without one (issue 15); that step is counted apart, in the note, not in the run's columns. " +
          'Re-runs are incremental (lists by -modified_at ' +
          'since the previous run) unless marked full sweep, which runs daily by default. ' +
          'changed = items written (reconcile) or put (naive). ' +
          `Ratios (naive wall ÷ reconcile wall): ${ratios.join('; ')}.`,
        columns: [
          'channels',
          'scenario',
          'implementation',
          'changed',
          'upstream calls',
          'DynamoDB reads',
          'DynamoDB writes',
          'wall s',
          'peak RSS MB',
          'peak heap MB',
          'note',
        ],
        rows,
      },
    ]
  },
}

const role = process.env.RECONCILE_BENCH_ROLE
if (role === 'env') {
  child().catch((err: unknown) => {
    process.stderr.write(`bench child failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
} else if (role === 'driver') {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT'
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
  benchSize(Number(process.env.RECONCILE_BENCH_SIZE))
    .then((r) => {
      process.stdout.write(`@@${JSON.stringify(r)}\n`)
      process.exit(0)
    })
    .catch((err: unknown) => {
      process.stderr.write(`bench driver failed: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    })
}

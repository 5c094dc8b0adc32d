import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { buildPollerHandler } from '../../functions/poller/handler'
import { startDynalite } from '../../local/dynalite'
import { ensureTables, tableNamesFromConfig } from '../../shared/adapters/dynamo/dynamo-store'
import { channelItem, clientItem } from '../../shared/adapters/dynamo/entity-repositories'
import { createPartnerApiClient } from '../../shared/adapters/partner-api/client'
import { createEnvSecretSource } from '../../shared/adapters/secrets'
import { channelFromUpstream, clientFromUpstream } from '../../shared/domain/mapping'
import type { Channel, Client, RunSummary } from '../../shared/domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../shared/domain/upstream'
import { type Config, loadConfig } from '../../shared/env'
import type {
  ChannelRepository,
  ClientRepository,
  Digest,
  DigestScan,
  GuardedWrite,
  StateStore,
} from '../../shared/ports'
import { createAppDeps } from '../../shared/wiring'
import { countingStore } from '../integration/poller/dynamo-counter'
import { lambdaContext } from '../support/lambda'
import type { Bench, BenchTable } from './harness'
import { round, withPeakRss } from './harness'

/**
 * A full sweep of 1,000,000 channels (50,000 clients) at 250 ms per Partner API call, across as many
 * poller invocations as it takes (each with the default 4-minute budget), then one incremental run.
 *
 * Nothing holds the fleet in memory: the upstream is an HTTP server in a child process that builds
 * each page from the item's index (deterministic, the same function on both sides), and the stored
 * clients and channels are "what a previous sweep stored", derived from the same index on demand, with
 * a small overlay of what this bench's runs write. So the peak RSS measured is the poller's own. The
 * poller runs through its Lambda handler with the real Partner API client over HTTP; the ops, events
 * and cancellations tables are dynalite (their requests counted by a client middleware), and the
 * clients and channels repositories count the DynamoDB requests the adapter makes for each call
 * (BatchGetItem per 100 ids, one Scan request per 1 MB page of items, one request per get/put/update).
 *
 * The fleet upstream differs from what is stored in 0.01 % of the channels (renamed), and the store
 * holds 10 channels upstream no longer has (counted absent by the completed sweep).
 */

const CHANNELS = Number(process.env.RECONCILE_MILLION_CHANNELS ?? 1_000_000)
const CHANNELS_PER_CLIENT = 20
const CLIENTS = Math.max(1, Math.floor(CHANNELS / CHANNELS_PER_CLIENT))
const LATENCY_MS = Number(process.env.RECONCILE_MILLION_LATENCY_MS ?? 250)
const RENAMED_EVERY = 10_000
const GONE = 10
const PAGE_SIZE = 100
const API_KEY = 'bench-partner-key'
const PARTNER_ID = 'benchPA'
const DRIVER_FLAGS = '--max-old-space-size=128'
/** Bytes of data per DynamoDB Scan page (its 1 MB limit), to count the digest Scan's requests. */
const SCAN_PAGE_BYTES = 1024 * 1024
/**
 * Modelled DynamoDB latency of the stand-in store (an assumption, not a measurement): per request
 * (BatchGetItem, GetItem, UpdateItem), and per 1 MB Scan page (DynamoDB reads the whole items).
 */
const DYNAMO_MS = Number(process.env.RECONCILE_MILLION_DYNAMO_MS ?? 5)
const SCAN_PAGE_MS = Number(process.env.RECONCILE_MILLION_SCAN_MS ?? 100)
const MAX_INVOCATIONS = Number(process.env.RECONCILE_MILLION_MAX_INVOCATIONS ?? 40)
const BASE_MS = Date.UTC(2024, 0, 1)

// ---------------------------------------------------------------------------------------------
// The fleet, from an index.

const channelId = (i: number): string => `Gm${i.toString(36).padStart(6, '0')}CH`
const clientId = (j: number): string => `Gk${j.toString(36).padStart(5, '0')}CL`
const channelIndex = (id: string): number =>
  /^Gm[0-9a-z]{6}CH$/.test(id) ? Number.parseInt(id.slice(2, 8), 36) : Number.NaN
const clientIndex = (id: string): number =>
  /^Gk[0-9a-z]{5}CL$/.test(id) ? Number.parseInt(id.slice(2, 7), 36) : Number.NaN
const iso = (ms: number): string => new Date(ms).toISOString()

function genClient(j: number): UpstreamClient {
  const at = iso(BASE_MS + j * 60_000)
  return {
    id: clientId(j),
    name: `Generated Client ${j}`,
    status: 'active',
    organisation: `Generated Org ${j} GmbH`,
    partner_payload: `tenant:${j}`,
    max_channels: 25,
    contact_info: { email: `ops${j}@example.test`, phone: `+4930${String(j).padStart(8, '0')}` },
    created_at: at,
    modified_at: at,
  }
}

/** Channel `i` as upstream has it (`stored`: as the previous sweep stored it, before the renames). */
function genChannel(i: number, stored = false): UpstreamChannel {
  const j = ((i - 1) % CLIENTS) + 1
  const at = iso(BASE_MS + i * 1000)
  const renamed = !stored && i % RENAMED_EVERY === 0
  return {
    id: channelId(i),
    client_id: clientId(j),
    client: { id: clientId(j), name: `Generated Client ${j}`, partner_payload: `tenant:${j}` },
    status: 'live',
    account_mode: 'live',
    created_at: at,
    modified_at: renamed ? iso(BASE_MS + CHANNELS * 1000 + i) : at,
    terminated_at: null,
    billing_started_at: at,
    availability_status: 'ready',
    current_quality_rating: 'GREEN',
    current_limit: 'TIER_1K',
    setup_info: {
      phone_number: `4917${String(i).padStart(9, '0')}`,
      phone_name: renamed ? `Renamed ${i}` : `Line ${i}`,
    },
    waba_account: {
      id: `W${i}WA`,
      fb_account_status: 'verified',
      on_behalf_of_business_info: { status: 'approved' },
    },
    integration: { enabled: true, app_id: String(500_000 + i), state: 'running' },
  }
}

// ---------------------------------------------------------------------------------------------
// Child: dynalite + the generated Partner API.

function listParams(url: URL): { offset: number; limit: number; desc: boolean; id: string | null } {
  const sort = url.searchParams.getAll('sort').join(',')
  let id: string | null = null
  const filters = url.searchParams.get('filters')
  if (filters) id = String((JSON.parse(filters) as { id?: unknown }).id ?? '')
  return {
    offset: Number(url.searchParams.get('offset') ?? 0),
    limit: Math.min(1000, Number(url.searchParams.get('limit') ?? 100)),
    desc: sort.startsWith('-modified_at'),
    id,
  }
}

/**
 * A page of `total` items built by index: ascending by created_at (the sweep's order), or by
 * -modified_at (newest first: the renamed channels, then descending index), or one item by id.
 */
function page(
  total: number,
  p: ReturnType<typeof listParams>,
  build: (i: number) => unknown,
  indexOf: (id: string) => number,
  renamed: number[],
): { items: unknown[]; total: number } {
  if (p.id !== null) {
    const i = indexOf(p.id)
    return i >= 1 && i <= total ? { items: [build(i)], total: 1 } : { items: [], total: 0 }
  }
  const items: unknown[] = []
  for (let k = p.offset; k < Math.min(total, p.offset + p.limit); k++) {
    if (!p.desc) items.push(build(k + 1))
    else if (k < renamed.length) items.push(build(renamed[renamed.length - 1 - k] as number))
    else items.push(build(nthUnrenamedFromTop(total, k - renamed.length, renamed.length > 0)))
  }
  return { items, total }
}

/** The index of the m-th (0-based) item from the top of 1..total that is not renamed. */
function nthUnrenamedFromTop(total: number, m: number, skipRenamed: boolean): number {
  if (!skipRenamed) return total - m
  // Items at or above x that are not renamed, decreasing in x: binary search for the m-th.
  const above = (x: number): number =>
    total - x + 1 - (Math.floor(total / RENAMED_EVERY) - Math.floor((x - 1) / RENAMED_EVERY))
  let lo = 1
  let hi = total
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2)
    if (above(mid) >= m + 1) lo = mid
    else hi = mid - 1
  }
  return lo % RENAMED_EVERY === 0 ? lo - 1 : lo
}

async function child(): Promise<void> {
  const dynamo = await startDynalite()
  const renamed: number[] = []
  for (let i = RENAMED_EVERY; i <= CHANNELS; i += RENAMED_EVERY) renamed.push(i)
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const send = (status: number, body: unknown): void => {
      setTimeout(() => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }, LATENCY_MS)
    }
    if (req.headers['x-api-key'] !== API_KEY) return send(401, { meta: { success: false, http_code: 401 } })
    const p = listParams(url)
    const envelope = {
      count: 0,
      filters: {},
      sort: url.searchParams.getAll('sort'),
      limit: p.limit,
      offset: p.offset,
    }
    if (url.pathname === `/api/v2/partners/${PARTNER_ID}/channels`) {
      const out = page(CHANNELS, p, (i) => genChannel(i), channelIndex, renamed)
      return send(200, {
        ...envelope,
        count: out.items.length,
        total: out.total,
        partner_channels: out.items,
      })
    }
    if (url.pathname === `/api/v2/partners/${PARTNER_ID}/clients`) {
      const out = page(CLIENTS, p, genClient, clientIndex, [])
      return send(200, { ...envelope, count: out.items.length, total: out.total, clients: out.items })
    }
    return send(404, { meta: { success: false, http_code: 404, developer_message: 'Not found' } })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  process.stdout.write(
    `@@${JSON.stringify({ endpoint: dynamo.endpoint, baseUrl: `http://127.0.0.1:${port}/api/v2` })}\n`,
  )
  for await (const _line of createInterface({ input: process.stdin })) break
  server.close()
  await dynamo.close()
  process.exit(0)
}

// ---------------------------------------------------------------------------------------------
// Driver: the stored clients and channels, from the index, counting DynamoDB requests.

interface GenCounts {
  reads: number
  writes: number
  /** Of the reads: Scan requests (missing detection's digest scan). */
  scans: number
  /** Read request units DynamoDB would bill: 0.5 per 4 KB of each item read (eventually consistent). */
  readUnits: number
}

const pause = (ms: number): Promise<void> =>
  ms > 0 ? new Promise((ok) => setTimeout(ok, ms)) : Promise.resolve()

/** DynamoDB's size of an item, close enough: its JSON (names and values) as stored, index keys included. */
const itemSize = (item: object): number => Buffer.byteLength(JSON.stringify(item))

/**
 * A segment of the digest Scan over stored items 1..n: DynamoDB splits a table between segments by
 * key hash; here segment s holds a contiguous range of indexes, and the position is the next index.
 */
function scanRange(
  n: number,
  q: DigestScan,
  perPage: number,
): { from: number; to: number; next: string | null } {
  const segments = Math.max(1, q.segments)
  const lo = Math.floor((q.segment * n) / segments) + 1
  const hi = Math.floor(((q.segment + 1) * n) / segments)
  const from = q.start === null ? lo : Number(q.start)
  const to = Math.min(hi, from + Math.min(perPage, q.limit ?? perPage) - 1)
  return { from, to, next: to < hi ? String(to + 1) : null }
}

/** When the previous sweep stored the fleet: after every generated date (the latest is in 2024). */
const STORED_AT = new Date(Date.UTC(2025, 0, 1))
const snapshot = { now: STORED_AT, source: 'poll', kind: 'snapshot', previous: null } as const

function digestOf(
  record: { orderKey: string; contentHash: string; absentRuns?: number; missingSince?: string | null },
  id: string,
): Digest {
  return {
    id,
    orderKey: record.orderKey,
    contentHash: record.contentHash,
    absentRuns: record.absentRuns ?? 0,
    missingSince: record.missingSince ?? null,
  }
}

/**
 * A scanned digest whose order key and hash are derived only when read. DynamoDB returns them as
 * stored; deriving them here (the mapping costs tens of microseconds an item) would bill the bench's
 * stand-in for storage to the poller. Missing detection reads them only for items it found absent.
 */
function lazyDigest<
  T extends { orderKey: string; contentHash: string; absentRuns?: number; missingSince?: string | null },
>(id: string, overlay: Map<string, T>, stored: (id: string) => T | null): Digest {
  const hit = overlay.get(id)
  if (hit) return digestOf(hit, id)
  let full: Digest | null = null
  const load = (): Digest => {
    full ??= digestOf(stored(id) as T, id)
    return full
  }
  return {
    id,
    absentRuns: 0,
    missingSince: null,
    get orderKey() {
      return load().orderKey
    },
    get contentHash() {
      return load().contentHash
    },
  }
}

function unused(what: string): never {
  throw new Error(`${what} is not used by a reconciliation run`)
}

/** Stored channels 1..CHANNELS+GONE (the last GONE are no longer upstream), plus what runs wrote. */
function generatedChannels(counts: GenCounts): ChannelRepository {
  const overlay = new Map<string, Channel>()
  const stored = (id: string): Channel | null => {
    const hit = overlay.get(id)
    if (hit) return hit
    const i = channelIndex(id)
    if (!(i >= 1 && i <= CHANNELS + GONE)) return null
    return channelFromUpstream(genChannel(i, true), snapshot)
  }
  const itemBytes = itemSize(channelItem(stored(channelId(1)) as Channel))
  const perScanPage = Math.max(1, Math.floor(SCAN_PAGE_BYTES / itemBytes))
  const itemUnits = Math.ceil(itemBytes / 4096) * 0.5
  return {
    get: async (id) => {
      counts.reads += 1
      counts.readUnits += itemUnits * 2
      await pause(DYNAMO_MS)
      const c = stored(id)
      if (!c || c.clientOrganisation) return c
      // A previous sweep stored the client's legal name on the channel (shared/services/state/legal-name.ts).
      const client = clientFromUpstream(genClient(clientIndex(c.clientId)), snapshot)
      return { ...c, clientOrganisation: { value: client.organisation, clientOrderKey: client.orderKey } }
    },
    putIfNewer: async (channel): Promise<GuardedWrite> => {
      counts.writes += 1
      await pause(DYNAMO_MS)
      overlay.set(channel.channelId, channel)
      return 'written'
    },
    putIfVersion: async () => unused('putIfVersion'),
    writeFact: async () => unused('writeFact'),
    list: async () => unused('list'),
    listByClient: async () => unused('listByClient'),
    findByPhoneNumber: async () => unused('findByPhoneNumber'),
    countByLifecycle: async () => unused('countByLifecycle'),
    countByQuality: async () => unused('countByQuality'),
    scan: () => unused('scan'),
    scanDigests: async (q) => {
      const { from, to, next } = scanRange(CHANNELS + GONE, q, perScanPage)
      counts.reads += 1
      counts.scans += 1
      counts.readUnits += Math.ceil(((to - from + 1) * itemBytes) / 4096) * 0.5
      await pause(SCAN_PAGE_MS * (((to - from + 1) * itemBytes) / SCAN_PAGE_BYTES))
      const items: Digest[] = []
      for (let i = from; i <= to; i++) items.push(lazyDigest(channelId(i), overlay, stored))
      return { items, next }
    },
    digestsOf: async (ids) => {
      const unique = [...new Set(ids)]
      counts.reads += Math.ceil(unique.length / 100)
      const found = unique.flatMap((id) => {
        const c = stored(id)
        return c ? [digestOf(c, id)] : []
      })
      counts.readUnits += found.length * itemUnits
      await pause(DYNAMO_MS)
      return found
    },
    setHealth: async () => unused('setHealth'),
    setKeyRejected: async () => unused('setKeyRejected'),
    // Key provisioning is the poller handler's step after a run, not the run this bench measures.
    // The poller's key step after each run (issue 15) finds no ready channel without a key: the
    // fleet a previous sweep stored had its keys provisioned then. The figures are the sweep's.
    keyNeededIds: () => (async function* (): AsyncGenerator<string[]> {})(),
    setKeyStatus: async () => unused('setKeyStatus'),
    setClientOrganisation: async (id, _clientId, organisation): Promise<GuardedWrite> => {
      counts.writes += 1
      await pause(DYNAMO_MS)
      const c = stored(id)
      if (!c) return 'stale'
      overlay.set(id, { ...c, clientOrganisation: organisation })
      return 'written'
    },
    markAbsence: async (id, _key, absentRuns, missingSince): Promise<GuardedWrite> => {
      counts.writes += 1
      await pause(DYNAMO_MS)
      const c = stored(id)
      if (!c) return 'stale'
      overlay.set(id, { ...c, absentRuns, missingSince })
      return 'written'
    },
  }
}

function generatedClients(counts: GenCounts): ClientRepository {
  const overlay = new Map<string, Client>()
  const stored = (id: string): Client | null => {
    const hit = overlay.get(id)
    if (hit) return hit
    const j = clientIndex(id)
    return j >= 1 && j <= CLIENTS ? clientFromUpstream(genClient(j), snapshot) : null
  }
  const itemBytes = itemSize(clientItem(stored(clientId(1)) as Client))
  const perScanPage = Math.max(1, Math.floor(SCAN_PAGE_BYTES / itemBytes))
  const itemUnits = Math.ceil(itemBytes / 4096) * 0.5
  return {
    get: async (id) => {
      counts.reads += 1
      counts.readUnits += itemUnits * 2
      await pause(DYNAMO_MS)
      return stored(id)
    },
    putIfNewer: async (client): Promise<GuardedWrite> => {
      counts.writes += 1
      await pause(DYNAMO_MS)
      overlay.set(client.clientId, client)
      return 'written'
    },
    putIfVersion: async (client): Promise<GuardedWrite> => {
      counts.writes += 1
      await pause(DYNAMO_MS)
      overlay.set(client.clientId, client)
      return 'written'
    },
    writeFact: async () => unused('writeFact'),
    list: async () => unused('list'),
    scanDigests: async (q) => {
      const { from, to, next } = scanRange(CLIENTS, q, perScanPage)
      counts.reads += 1
      counts.scans += 1
      counts.readUnits += Math.ceil(((to - from + 1) * itemBytes) / 4096) * 0.5
      await pause(SCAN_PAGE_MS * (((to - from + 1) * itemBytes) / SCAN_PAGE_BYTES))
      const items: Digest[] = []
      for (let j = from; j <= to; j++) items.push(lazyDigest(clientId(j), overlay, stored))
      return { items, next }
    },
    digestsOf: async (ids) => {
      const unique = [...new Set(ids)]
      counts.reads += Math.ceil(unique.length / 100)
      const found = unique.flatMap((id) => {
        const c = stored(id)
        return c ? [digestOf(c, id)] : []
      })
      counts.readUnits += found.length * itemUnits
      await pause(DYNAMO_MS)
      return found
    },
  }
}

interface Invocation {
  run: string
  mode: string
  phase: string
  /** Where the sweep stands after the run: its list offset, or the stored items missing detection scanned. */
  position: string
  calls: number
  reads: number
  scans: number
  writes: number
  readUnits: number
  wallS: number
  peakRssMb: number
  missing: number
  changed: number
}

async function drive(endpoint: string, baseUrl: string): Promise<Invocation[]> {
  const config: Config = loadConfig({
    PARTNER_ID,
    PARTNER_API_BASE_URL: baseUrl,
    SECRETS_SOURCE: 'env',
    PARTNER_API_KEY: API_KEY,
    DYNAMODB_ENDPOINT: endpoint,
    EVENT_SINK: 'none',
    POLL_PAGE_SIZE: String(PAGE_SIZE),
    POLL_CONCURRENCY: '4',
    TABLE_CLIENTS: 'm-clients',
    TABLE_CHANNELS: 'm-channels',
    TABLE_EVENTS: 'm-webhook-events',
    TABLE_CANCELLATIONS: 'm-cancellations',
    TABLE_AUDIT: 'm-audit',
    TABLE_OPS: 'm-ops',
  })
  const real = countingStore(config)
  await ensureTables(real.client, tableNamesFromConfig(config))
  const gen: GenCounts = { reads: 0, writes: 0, scans: 0, readUnits: 0 }
  const store: StateStore = {
    ...real.store,
    clients: generatedClients(gen),
    channels: generatedChannels(gen),
  }
  const api = createPartnerApiClient({
    baseUrl,
    partnerId: PARTNER_ID,
    auth: 'api_key',
    secrets: createEnvSecretSource({ partnerApi: API_KEY }),
    timeoutMs: 30_000,
  })
  const deps = createAppDeps(config, 'poller-bench', {
    store,
    partnerApi: api,
    events: { publish: async (batch) => ({ published: batch.length }) },
  })
  const handler = buildPollerHandler(deps)
  const context = lambdaContext('poller', 300_000)
  const out: Invocation[] = []
  const once = async (label: string): Promise<RunSummary> => {
    real.counts.reset()
    Object.assign(gen, { reads: 0, writes: 0, scans: 0, readUnits: 0 })
    const calls = api.stats().calls
    const started = performance.now()
    const { result, peakRssMb } = await withPeakRss(() => handler({}, context))
    const wallS = round((performance.now() - started) / 1000, 1)
    const row: Invocation = {
      run: label,
      mode: result.mode,
      phase: result.sweep?.phase ?? '–',
      position: '–',
      calls: api.stats().calls - calls,
      reads: real.counts.reads + gen.reads,
      scans: gen.scans,
      writes: real.counts.writes + gen.writes,
      readUnits: Math.round(gen.readUnits),
      wallS,
      peakRssMb,
      missing: result.missing.channels + result.missing.clients,
      changed: result.changed.channels + result.changed.clients,
    }
    // Read after the counts were taken: where the sweep stands (not in the run summary for the scan).
    const cp = (await store.ops.getReconcileState())?.sweep
    if (cp?.phase === 'absence' && cp.absence) {
      row.position = `${(cp.absence.scanned.clients + cp.absence.scanned.channels).toLocaleString('en-US')} stored scanned`
    } else if (cp?.phase === 'marking' && cp.absence) row.position = `${cp.absence.marked} marked`
    else if (cp) row.position = `${cp.phase} ${cp.offset.toLocaleString('en-US')}`
    out.push(row)
    process.stderr.write(`    ${label}: ${JSON.stringify(row)} load ${loadavg()[0]?.toFixed(2)}\n`)
    if (result.outcome !== 'succeeded') throw new Error(`run ${result.outcome}: ${result.error}`)
    return result
  }
  let done = false
  for (let n = 1; n <= MAX_INVOCATIONS && !done; n++) {
    const s = await once(`sweep, invocation ${n}`)
    done = s.sweep?.phase === 'done'
  }
  if (!done) throw new Error(`the sweep did not complete in ${MAX_INVOCATIONS} invocations`)
  await once('incremental, unchanged')
  return out
}

// ---------------------------------------------------------------------------------------------

async function spawnRole(
  role: string,
  env: Record<string, string>,
  flags: string[] = [],
): Promise<ChildProcess> {
  return spawn(process.execPath, [...flags, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, RECONCILE_MILLION_ROLE: role, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
}

async function firstLine(proc: ChildProcess): Promise<Record<string, unknown>> {
  for await (const line of createInterface({ input: proc.stdout as NodeJS.ReadableStream })) {
    if (line.startsWith('@@')) return JSON.parse(line.slice(2)) as Record<string, unknown>
  }
  throw new Error('bench process exited without an answer')
}

export const bench: Bench = {
  name: 'reconcile-million',
  async run(): Promise<BenchTable[]> {
    const env = await spawnRole('env', {})
    try {
      const hello = await firstLine(env)
      process.stderr.write(`  reconcile-million: ${CHANNELS} channels, ${LATENCY_MS} ms per call…\n`)
      const flags = (process.env.RECONCILE_BENCH_NODE_FLAGS ?? DRIVER_FLAGS)
        .split(' ')
        .filter((f) => f !== '')
      const driver = await spawnRole(
        'driver',
        {
          RECONCILE_MILLION_ENDPOINT: String(hello.endpoint),
          RECONCILE_MILLION_BASE_URL: String(hello.baseUrl),
        },
        flags,
      )
      const loadBefore = loadavg()[0] ?? 0
      const rows = (await firstLine(driver)).rows as Invocation[]
      const loadAfter = loadavg()[0] ?? 0
      const sweep = rows.filter((r) => r.run.startsWith('sweep'))
      const sum = (f: (r: Invocation) => number): number => sweep.reduce((n, r) => n + f(r), 0)
      return [
        {
          title: `Full sweep of ${CHANNELS.toLocaleString('en-US')} channels across invocations, missing detection, then an incremental run`,
          note:
            `\`npm run bench -- reconcile-million\`; load average ${loadBefore.toFixed(1)} at the start, ${loadAfter.toFixed(1)} at the end (1 min). ` +
            `${CLIENTS.toLocaleString('en-US')} clients; ${LATENCY_MS} ms per Partner API call (generated upstream over HTTP, real client), ` +
            `page size ${PAGE_SIZE}, 4 pages in flight, the default 4-minute budget per invocation (a sweep yields at 80 %). ` +
            `The poller runs in its own process (node ${process.env.RECONCILE_BENCH_NODE_FLAGS ?? DRIVER_FLAGS}; tsx alone is about 115 MB RSS); ` +
            `stored clients and channels (${(CHANNELS + GONE).toLocaleString('en-US')}) are derived from the index on demand, each request counted as the DynamoDB adapter sends it ` +
            '(BatchGetItem per 100 ids; the digest Scan in 4 parallel segments, one request per 1 MB page of whole items as stored, index keys included) ' +
            `and delayed by a modelled DynamoDB latency (${DYNAMO_MS} ms a request, ${SCAN_PAGE_MS} ms per 1 MB Scan page: an assumption, not a measurement); ` +
            'read units are what DynamoDB would bill on the clients and channels tables (0.5 per 4 KB of each item read, eventually consistent); the ops table is dynalite. ' +
            `${Math.floor(CHANNELS / RENAMED_EVERY)} channels changed upstream, ${GONE} stored channels gone (looked up by id, 25 lookups per ` +
            'run, and marked missing). ' +
            `Sweep total: ${sweep.length} invocations, ${sum((r) => r.calls).toLocaleString('en-US')} upstream calls, ` +
            `${sum((r) => r.reads).toLocaleString('en-US')} DynamoDB reads (${sum((r) => r.scans)} Scan), ${sum((r) => r.writes).toLocaleString('en-US')} writes, ` +
            `${sum((r) => r.readUnits).toLocaleString('en-US')} read units, ${round(
              sum((r) => r.wallS),
              0,
            )} s.`,
          columns: [
            'run',
            'mode',
            'sweep phase after',
            'position after',
            'upstream calls',
            'DynamoDB reads',
            'of which Scan',
            'DynamoDB writes',
            'read units',
            'changed',
            'missing',
            'wall s',
            'peak RSS MB',
          ],
          rows: rows.map((r) => [
            r.run,
            r.mode,
            r.phase,
            r.position,
            r.calls,
            r.reads,
            r.scans,
            r.writes,
            r.readUnits,
            r.changed,
            r.missing,
            r.wallS,
            r.peakRssMb,
          ]),
        },
      ]
    } finally {
      env.stdin?.end()
      env.kill()
    }
  },
}

const role = process.env.RECONCILE_MILLION_ROLE
if (role === 'env') {
  child().catch((err: unknown) => {
    process.stderr.write(`bench child failed: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  })
} else if (role === 'driver') {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT'
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
  drive(String(process.env.RECONCILE_MILLION_ENDPOINT), String(process.env.RECONCILE_MILLION_BASE_URL))
    .then((rows) => {
      process.stdout.write(`@@${JSON.stringify({ rows })}\n`)
      process.exit(0)
    })
    .catch((err: unknown) => {
      process.stderr.write(`bench driver failed: ${err instanceof Error ? err.stack : String(err)}\n`)
      process.exit(1)
    })
}

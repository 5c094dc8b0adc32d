import { spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import type { APIGatewayProxyEvent } from 'aws-lambda'
import { buildExportHandler } from '../../functions/export/handler'
import { LOCAL_DEFAULTS } from '../../local/app'
import { LOCAL_BUILDERS, localLambdaContext } from '../../local/handlers'
import { installLambdaStreaming, LocalResponseStream, preludeSink } from '../../local/lambda-streaming'
import { type LocalServer, startLocalServer } from '../../local/server'
import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { fleetStore } from '../support/fleet'
import { apiEvent } from '../support/lambda'
import { signedFetch } from '../support/signed-fetch'
import { type Bench, type BenchTable, round } from './harness'

const MILLION = 1_000_000
const BASELINE = 10_000
/** Each case runs in a fresh process with the V8 heap capped like this: it must fit, whatever the fleet. */
const DRIVER_FLAGS = '--max-old-space-size=128'
/** Lambda streams the first 6 MB of a response at full speed, then at most 2 MB/s (AWS documentation). */
const UNCAPPED_BYTES = 6_000_000
const CAPPED_RATE = 2_000_000

interface Measured {
  ms: number
  bytes: number
  peakRssMb: number
  peakHeapMb: number
}

/** Runs `fn`, sampling RSS and V8 heap every 20 ms (plus once at the end). */
async function measure(fn: (count: (n: number) => void) => Promise<void>): Promise<Measured> {
  let rss = process.memoryUsage().rss
  let heap = process.memoryUsage().heapUsed
  const sample = (): void => {
    const m = process.memoryUsage()
    rss = Math.max(rss, m.rss)
    heap = Math.max(heap, m.heapUsed)
  }
  const timer = setInterval(sample, 20)
  let bytes = 0
  const started = performance.now()
  try {
    await fn((n) => {
      bytes += n
    })
  } finally {
    clearInterval(timer)
  }
  const ms = performance.now() - started
  sample()
  return { ms, bytes, peakRssMb: round(rss / 1024 / 1024, 1), peakHeapMb: round(heap / 1024 / 1024, 1) }
}

function depsFor(n: number) {
  return createAppDeps(
    loadConfig({ PARTNER_ID: 'benchPA', SECRETS_SOURCE: 'env', PARTNER_API_KEY: 'unused' }),
    'export',
    { store: fleetStore(n).store },
  )
}

function exportEvent(gzip: boolean): APIGatewayProxyEvent {
  return apiEvent({
    method: 'GET',
    resource: '/exports/channels.csv',
    path: '/exports/channels.csv',
    headers: gzip ? { 'accept-encoding': 'gzip' } : {},
    principal: LOCAL_DEFAULTS.principalArn,
  })
}

/**
 * The AWS-shaped path: the export handler invoked as the Lambda runtime invokes a streaming handler,
 * its response stream split as API Gateway splits it (prelude, then body bytes counted and dropped).
 */
async function handlerRun(n: number, gzip: boolean): Promise<Measured> {
  installLambdaStreaming()
  const handler = buildExportHandler(depsFor(n))
  return measure(async (count) => {
    let status = 0
    let stream: LocalResponseStream | null = null
    stream = new LocalResponseStream(
      preludeSink(() => stream?.contentType ?? '', {
        onHead(head) {
          status = head.statusCode
        },
        onBody(chunk, done) {
          count(chunk.length)
          done()
        },
        onEnd(done) {
          done()
        },
      }),
    )
    await handler(exportEvent(gzip), stream, localLambdaContext('export'))
    if (status !== 200) throw new Error(`export answered ${status}`)
  })
}

/** The local runner's path: the local server (SigV4, STREAM stand-in) and a fetch client reading it all. */
async function httpRun(n: number): Promise<Measured> {
  const handlers: Parameters<typeof startLocalServer>[0]['handlers'] = {}
  const server: LocalServer = await startLocalServer({
    host: '127.0.0.1',
    port: 0,
    handlers,
    credentials: [
      {
        accessKeyId: LOCAL_DEFAULTS.accessKeyId,
        secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
        principalArn: LOCAL_DEFAULTS.principalArn,
      },
    ],
    region: LOCAL_DEFAULTS.region,
    service: LOCAL_DEFAULTS.service,
    now: () => new Date(),
  })
  try {
    handlers.export = await LOCAL_BUILDERS.export(depsFor(n))
    const target = {
      url: server.url,
      credentials: {
        accessKeyId: LOCAL_DEFAULTS.accessKeyId,
        secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
        region: LOCAL_DEFAULTS.region,
        service: LOCAL_DEFAULTS.service,
      },
    }
    return await measure(async (count) => {
      const res = await signedFetch(target, '/exports/channels.csv')
      if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`)
      // fetch asks for gzip and decodes it: count the CSV bytes the caller ends up with.
      for await (const chunk of res.body) count((chunk as Uint8Array).length)
    })
  } finally {
    await server.close()
  }
}

interface Case {
  path: 'handler' | 'http'
  n: number
  gzip: boolean
}

/** One case in a fresh process (heap capped), so each peak is its own. */
async function runCase(c: Case): Promise<Measured> {
  const proc = spawn(process.execPath, [DRIVER_FLAGS, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, EXPORT_BENCH_CASE: JSON.stringify(c) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let result: Measured | null = null
  for await (const line of createInterface({ input: proc.stdout as NodeJS.ReadableStream })) {
    if (line.startsWith('@@')) result = JSON.parse(line.slice(2)) as Measured
  }
  if (!result) throw new Error(`export bench case ${JSON.stringify(c)} failed`)
  return result
}

/** `npm run bench -- export`: a full export of 1,000,000 channels, streamed, memory flat. */
export const bench: Bench = {
  name: 'export',
  async run(): Promise<BenchTable[]> {
    const rows: (string | number)[][] = []
    const row = (label: string, c: Case, r: Measured, streamedBytes: number | null): (string | number)[] => [
      label,
      c.n.toLocaleString('en-US'),
      c.gzip ? (c.path === 'http' ? 'gzip, decoded' : 'gzip') : 'identity',
      round(r.ms / 1000, 2),
      Math.round((c.n / r.ms) * 1000).toLocaleString('en-US'),
      round(r.bytes / 1e6, 1),
      r.peakRssMb,
      r.peakHeapMb,
      streamedBytes === null ? '–' : round(Math.max(0, streamedBytes - UNCAPPED_BYTES) / CAPPED_RATE, 1),
    ]
    const cases: { label: string; c: Case }[] = [
      { label: 'handler (baseline)', c: { path: 'handler', n: BASELINE, gzip: true } },
      { label: 'handler', c: { path: 'handler', n: MILLION, gzip: true } },
      { label: 'handler (baseline)', c: { path: 'handler', n: BASELINE, gzip: false } },
      { label: 'handler', c: { path: 'handler', n: MILLION, gzip: false } },
      { label: 'local server + fetch', c: { path: 'http', n: MILLION, gzip: true } },
    ]
    let gzipBytes: number | null = null
    for (const { label, c } of cases) {
      process.stderr.write(`  export bench: ${label}, ${c.n} channels, ${c.gzip ? 'gzip' : 'identity'}…\n`)
      const r = await runCase(c)
      if (c.path === 'handler' && c.gzip && c.n === MILLION) gzipBytes = r.bytes
      rows.push(row(label, c, r, c.path === 'http' ? gzipBytes : r.bytes))
    }
    return [
      {
        title: 'CSV export of 1,000,000 channels, streamed (npm run bench -- export)',
        note: `handler: the export function invoked as the Lambda runtime invokes a streaming handler, its stream split as API Gateway does (prelude, then body bytes counted); the store yields generated channels page by page (1,000 a page) so only the export is measured, not DynamoDB. local server + fetch: the same through real HTTP with SigV4, the client decoding gzip in the same process. body MB = bytes leaving the function (for fetch: CSV after decoding). Lambda floor = (body − 6 MB) ÷ 2 MB/s, the least time Lambda needs to stream that body (computed from AWS’s documented rate, not measured). Each row runs in a fresh process (tsx, node ${DRIVER_FLAGS}): peak RSS and peak V8 heap are that row's own, and a million channels must fit the same capped heap as ten thousand.`,
        columns: [
          'path',
          'channels',
          'encoding',
          'wall s',
          'rows/s',
          'body MB',
          'peak RSS MB',
          'peak heap MB',
          'Lambda floor s',
        ],
        rows,
      },
    ]
  },
}

if (process.env.EXPORT_BENCH_CASE) {
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT'
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const c = JSON.parse(process.env.EXPORT_BENCH_CASE) as Case
  ;(c.path === 'http' ? httpRun(c.n) : handlerRun(c.n, c.gzip))
    .then((r) => {
      process.stdout.write(`@@${JSON.stringify(r)}\n`)
      process.exit(0)
    })
    .catch((err: unknown) => {
      process.stderr.write(`export bench case failed: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(1)
    })
}

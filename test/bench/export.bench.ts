import { performance } from 'node:perf_hooks'
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
import { type Bench, type BenchTable, round, withPeakRss } from './harness'

const MILLION = 1_000_000
const BASELINE = 10_000
/** Lambda streams the first 6 MB of a response at full speed, then at most 2 MB/s (AWS documentation). */
const UNCAPPED_BYTES = 6_000_000
const CAPPED_RATE = 2_000_000

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
async function handlerRun(
  n: number,
  gzip: boolean,
): Promise<{ ms: number; bytes: number; peakRssMb: number }> {
  installLambdaStreaming()
  const handler = buildExportHandler(depsFor(n))
  let bytes = 0
  let status = 0
  let stream: LocalResponseStream | null = null
  stream = new LocalResponseStream(
    preludeSink(() => stream?.contentType ?? '', {
      onHead(head) {
        status = head.statusCode
      },
      onBody(chunk, done) {
        bytes += chunk.length
        done()
      },
      onEnd(done) {
        done()
      },
    }),
  )
  const response = stream
  const started = performance.now()
  const { peakRssMb } = await withPeakRss(() =>
    handler(exportEvent(gzip), response, localLambdaContext('export')),
  )
  const ms = performance.now() - started
  if (status !== 200) throw new Error(`export answered ${status}`)
  return { ms, bytes, peakRssMb }
}

/** The local runner's path: the local server (SigV4, STREAM stand-in) and a fetch client reading it all. */
async function httpRun(n: number): Promise<{ ms: number; bytes: number; peakRssMb: number }> {
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
    let bytes = 0
    const started = performance.now()
    const { peakRssMb } = await withPeakRss(async () => {
      const res = await signedFetch(target, '/exports/channels.csv')
      if (res.status !== 200 || !res.body) throw new Error(`export answered ${res.status}`)
      // fetch asks for gzip and decodes it: count the CSV bytes the caller ends up with.
      for await (const chunk of res.body) bytes += (chunk as Uint8Array).length
    })
    return { ms: performance.now() - started, bytes, peakRssMb }
  } finally {
    await server.close()
  }
}

/** `npm run bench -- export`: a full export of 1,000,000 channels, streamed, memory flat. */
export const bench: Bench = {
  name: 'export',
  async run(): Promise<BenchTable[]> {
    // Warm-up (JIT), not reported.
    await handlerRun(BASELINE, true)
    const rssBefore = process.memoryUsage().rss / 1024 / 1024
    const rows: (string | number)[][] = []
    const row = (
      path: string,
      n: number,
      encoding: string,
      r: { ms: number; bytes: number; peakRssMb: number },
      streamedBytes: number | null,
    ): (string | number)[] => [
      path,
      n.toLocaleString('en-US'),
      encoding,
      round(r.ms / 1000, 2),
      Math.round((n / r.ms) * 1000).toLocaleString('en-US'),
      round(r.bytes / 1e6, 1),
      r.peakRssMb,
      round(r.peakRssMb - rssBefore, 1),
      streamedBytes === null ? '–' : round(Math.max(0, streamedBytes - UNCAPPED_BYTES) / CAPPED_RATE, 1),
    ]
    const small = await handlerRun(BASELINE, true)
    rows.push(row('handler (baseline)', BASELINE, 'gzip', small, small.bytes))
    const gz = await handlerRun(MILLION, true)
    rows.push(row('handler', MILLION, 'gzip', gz, gz.bytes))
    const plain = await handlerRun(MILLION, false)
    rows.push(row('handler', MILLION, 'identity', plain, plain.bytes))
    const http = await httpRun(MILLION)
    rows.push(row('local server + fetch', MILLION, 'gzip, decoded', http, gz.bytes))
    return [
      {
        title: 'CSV export of 1,000,000 channels, streamed (npm run bench -- export)',
        note: 'handler: the export function invoked as the Lambda runtime invokes a streaming handler, its stream split as API Gateway does (prelude, then body bytes counted); the store yields generated channels page by page (1,000 a page) so only the export is measured, not DynamoDB. local server + fetch: the same through real HTTP with SigV4, the client decoding gzip in the same process. body MB = bytes leaving the function (for fetch: CSV after decoding). Lambda floor = (body − 6 MB) ÷ 2 MB/s, the least time Lambda needs to stream that body (computed from AWS’s documented rate, not measured). RSS growth is against the process before the first row.',
        columns: [
          'path',
          'channels',
          'encoding',
          'wall s',
          'rows/s',
          'body MB',
          'peak RSS MB',
          'RSS growth MB',
          'Lambda floor s',
        ],
        rows,
      },
    ]
  },
}

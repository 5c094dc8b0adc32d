import { performance } from 'node:perf_hooks'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { startApp } from '../../local/app'
import type { Channel } from '../../shared/domain/types'
import type { UpstreamChannel } from '../../shared/domain/upstream'
import type { StateStore } from '../../shared/ports'
import { exportChannels } from '../../shared/services/export/export-channels'
import { applyChannel } from '../../shared/services/state/apply-upstream'
import { signedFetch } from '../support/signed-fetch'
import { startDynamoProcess } from './dynamo-process'
import { type Bench, type BenchTable, percentile, round, withPeakRss } from './harness'

const UPSTREAM_LATENCY_MS = 50
const CANCELLATIONS = 100
const CLIENT = 'Kd82nQ1zCL'

/**
 * Cancellation latency through the local stack vs the same upstream call made directly, with
 * dynalite in this process or (given its endpoint) in its own. The local change stream is held: it
 * stands in for the event publisher, another function in AWS, whose writes would otherwise queue
 * on the same dynalite as the request's.
 */
/**
 * DynamoDB requests sent during the measured requests, and how many sequential round trips they
 * took: a round trip starts when a request leaves while none is in flight (requests sent side by
 * side count once). Counted on the SDK's client class, so every function's client in the local
 * stack is seen.
 */
const dynamo = { active: false, calls: 0, waves: 0, inFlight: 0 }
// The SDK's base client class: DynamoDBClient and the document client (whose commands do not go
// through DynamoDBClient.send) both send through it.
const SdkClient = Object.getPrototypeOf(DynamoDBClient.prototype) as {
  send(...args: unknown[]): Promise<unknown>
}
const send = SdkClient.send
SdkClient.send = function (this: unknown, ...args: unknown[]) {
  if (!dynamo.active) return send.apply(this, args)
  dynamo.calls += 1
  if (dynamo.inFlight === 0) dynamo.waves += 1
  dynamo.inFlight += 1
  return send.apply(this, args).finally(() => {
    dynamo.inFlight -= 1
  })
}

async function cancellationLatency(dynamoEndpoint?: string): Promise<(string | number)[][]> {
  const app = await startApp({
    port: 0,
    ...(dynamoEndpoint ? { dynamoEndpoint } : {}),
    holdStream: true,
    dataDir: null,
    pollIntervalSeconds: null,
    env: { CANCELLATION_BUDGET_PER_HOUR: '100000' },
    simulator: { deliverWebhooks: false },
  })
  try {
    const sim = app.simulator
    if (!sim) throw new Error('no simulator')
    const fresh = async (): Promise<string> => {
      const up = sim.addChannel({ client_id: CLIENT, account_mode: 'live', status: 'live' })
      await applyChannel(app.deps, up as unknown as UpstreamChannel, { source: 'poll', kind: 'snapshot' })
      return up.id
    }
    const direct = async (channelId: string): Promise<number> => {
      const started = performance.now()
      const res = await fetch(
        `${sim.baseUrl}/partners/${sim.partnerId}/clients/${CLIENT}/channels/${channelId}/control/cancellation_request`,
        {
          method: 'POST',
          headers: { 'x-api-key': 'local-partner-api-key', 'content-type': 'application/json' },
          body: '{"enabled":true}',
        },
      )
      await res.text()
      if (res.status !== 200) throw new Error(`direct cancellation answered ${res.status}`)
      return performance.now() - started
    }
    const ours = async (channelId: string, i: number): Promise<number> => {
      dynamo.active = true
      const started = performance.now()
      const res = await signedFetch(app, `/clients/${CLIENT}/channels/${channelId}/cancellation`, {
        method: 'POST',
        headers: { 'Idempotency-Key': `bench-${i}` },
        body: '{"reason":"benchmark"}',
      })
      await res.text()
      if (res.status !== 202) throw new Error(`cancellation answered ${res.status}`)
      const ms = performance.now() - started
      dynamo.active = false
      return ms
    }
    // Warm-up (JIT, connections), not reported.
    for (let i = 0; i < 10; i++) {
      await direct(await fresh())
      await ours(await fresh(), -i - 1)
    }
    sim.setFaults({ latencyMs: UPSTREAM_LATENCY_MS })
    dynamo.calls = 0
    dynamo.waves = 0
    const upstream: number[] = []
    const api: number[] = []
    for (let i = 0; i < CANCELLATIONS; i++) {
      upstream.push(await direct(await fresh()))
      api.push(await ours(await fresh(), i))
    }
    const where = dynamoEndpoint ? 'dynalite in its own process' : 'dynalite in this process'
    const row = (name: string, v: number[], calls: string): (string | number)[] => [
      `${name}, ${where}`,
      v.length,
      round(percentile(v, 50)),
      round(percentile(v, 99)),
      round(percentile(v, 50) / percentile(upstream, 50), 2),
      round(percentile(v, 99) / percentile(upstream, 99), 2),
      calls,
    ]
    const perRequest = `${round(dynamo.calls / CANCELLATIONS, 1)} in ${round(dynamo.waves / CANCELLATIONS, 1)} round trips`
    return [row('upstream call alone (baseline)', upstream, '–'), row('POST …/cancellation', api, perRequest)]
  } finally {
    await app.close()
  }
}

/**
 * A store whose scan produces `n` channels lazily, so that only the export's own memory is measured.
 * It holds no clients (one empty page), so every row carries the channel's own company name.
 */
function syntheticStore(n: number): Pick<StateStore, 'channels' | 'clients'> {
  const channel = (i: number): Channel =>
    ({
      channelId: `Ch${i.toString(36).padStart(6, '0')}CH`,
      clientId: `Cl${(i % 997).toString(36).padStart(6, '0')}CL`,
      phoneNumber: `+4916${String(i).padStart(8, '0')}`,
      displayName: `Channel ${i}`,
      lifecycle: i % 7 === 0 ? 'pending_deletion' : 'live',
      accountMode: 'live',
      status: 'live',
      availabilityStatus: 'ready',
      terminatedAt: i % 7 === 0 ? '2026-01-31T23:59:59Z' : null,
      partnerPayload: i % 11 === 0 ? '=cmd|"/c calc"!A1' : `tenant:${i}`,
      companyName: i % 5 === 0 ? `Company, "Quoted" ${i}` : `Company ${i}`,
      contactEmail: `ops${i}@example.test`,
      numberRegistration: 'live',
      metaBusinessVerification: 'verified',
      messageOnBehalf: 'approved',
      upstreamModifiedAt: '2026-01-15T10:00:00Z',
    }) as Channel
  const channels = {
    scan: (pageSize = 100) =>
      (async function* () {
        for (let i = 0; i < n; i += pageSize) {
          yield Array.from({ length: Math.min(pageSize, n - i) }, (_, k) => channel(i + k))
        }
      })(),
  } as unknown as StateStore['channels']
  const clients = {
    list: async () => ({ items: [], nextCursor: null }),
  } as unknown as StateStore['clients']
  return { channels, clients }
}

/** Streams an export of `n` channels into a sink that counts bytes (as a socket would consume it). */
async function exportRun(n: number): Promise<(string | number)[]> {
  const deps = { store: syntheticStore(n) as StateStore }
  let bytes = 0
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length
      done()
    },
  })
  const rssBefore = process.memoryUsage().rss / 1024 / 1024
  const started = performance.now()
  const { peakRssMb } = await withPeakRss(() => pipeline(Readable.from(exportChannels(deps)), sink))
  const ms = performance.now() - started
  return [
    n.toLocaleString('en-US'),
    round(ms),
    Math.round((n / ms) * 1000).toLocaleString('en-US'),
    round(bytes / 1024 / 1024, 1),
    peakRssMb,
    round(peakRssMb - rssBefore, 1),
  ]
}

/** `npm run bench -- api`: cancellation overhead and export memory. */
export const bench: Bench = {
  name: 'api',
  async run(): Promise<BenchTable[]> {
    const inProcess = await cancellationLatency()
    const dynamo = await startDynamoProcess()
    const ownProcess = await cancellationLatency(dynamo.endpoint).finally(() => dynamo.close())
    const latency: BenchTable = {
      title: `Cancellation latency, ${UPSTREAM_LATENCY_MS} ms simulated upstream latency (sequential, local stack; DynamoDB = dynalite in this process, then in its own process as DynamoDB is remote in AWS)`,
      note: 'Baseline: the same upstream cancellation POST sent straight to the simulator in the same run, next to each request. Ours: SigV4-verified POST through the local server, idempotency, budget, lock, one upstream call, audit, apply. The local change stream (the event publisher, another function in AWS) is held during the run.',
      columns: [
        'path',
        'requests',
        'p50 ms',
        'p99 ms',
        'p50 × upstream',
        'p99 × upstream',
        'DynamoDB requests per request',
      ],
      rows: [...inProcess, ...ownProcess],
    }
    await exportRun(1_000)
    const small = await exportRun(1_000)
    const large = await exportRun(100_000)
    return [
      latency,
      {
        title: 'CSV export (streamed, csv-stringify per 100-row store page)',
        note: 'exportChannels piped into a counting sink; the store produces pages lazily so only the export pipeline is measured. 1,000 rows is the baseline of the same run; memory must stay flat.',
        columns: ['channels', 'wall ms', 'rows/s', 'CSV MB', 'peak RSS MB', 'RSS growth MB'],
        rows: [small, large],
      },
    ]
  },
}

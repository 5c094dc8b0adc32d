import { performance } from 'node:perf_hooks'
import { type App, startApp } from '../../local/app'
import { getBalance } from '../../shared/services/balance/get-balance'
import { signedFetch } from '../support/signed-fetch'
import { type Bench, type BenchTable, percentile, round } from './harness'

const CALLERS = 50
/** Each round is a client of its own, so each starts with an empty cache (a new 30 s window). */
const ROUNDS = 10
/** Calls per caller within one window in the sustained case. */
const REPEATS = 5
const LATENCY_MS = 100

function simOf(app: App): NonNullable<App['simulator']> {
  if (!app.simulator) throw new Error('no simulator')
  return app.simulator
}

function upstreamCalls(app: App, clientId: string): number {
  return simOf(app)
    .requests()
    .filter((r) => r.method === 'GET' && r.path.endsWith(`/clients/${clientId}/info/balance`)).length
}

interface Outcome {
  requests: number
  upstream: number
  ok: number
  refused: number
  times: number[]
}

/** `callers` concurrent callers, each calling `repeats` times in a row, for one client. */
async function burst(app: App, clientId: string, callers: number, repeats: number): Promise<Outcome> {
  const before = upstreamCalls(app, clientId)
  const times: number[] = []
  let ok = 0
  let refused = 0
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < repeats; i++) {
        const started = performance.now()
        const res = await signedFetch(app, `/clients/${clientId}/balance`)
        await res.text()
        times.push(performance.now() - started)
        if (res.status === 200) ok += 1
        else refused += 1
      }
    }),
  )
  return { requests: callers * repeats, upstream: upstreamCalls(app, clientId) - before, ok, refused, times }
}

/**
 * 50 callers as 50 Lambda instances would be: each with deps of its own (so no shared in-process
 * flight), all on the one store, calling the service directly (no HTTP): only the conditional write
 * of the ops table keeps them to one upstream call.
 */
async function instances(app: App, clientId: string, callers: number): Promise<Outcome> {
  const before = upstreamCalls(app, clientId)
  const times: number[] = []
  let ok = 0
  let refused = 0
  await Promise.all(
    Array.from({ length: callers }, async () => {
      const started = performance.now()
      try {
        await getBalance({ ...app.deps }, clientId)
        ok += 1
      } catch {
        refused += 1
      }
      times.push(performance.now() - started)
    }),
  )
  return { requests: callers, upstream: upstreamCalls(app, clientId) - before, ok, refused, times }
}

/** The same callers asking the Partner API directly (no cache): what the documented limit leaves them. */
async function direct(app: App, clientId: string, callers: number): Promise<Outcome> {
  const sim = simOf(app)
  const times: number[] = []
  let ok = 0
  let refused = 0
  await Promise.all(
    Array.from({ length: callers }, async () => {
      const started = performance.now()
      const res = await fetch(`${sim.baseUrl}/partners/${sim.partnerId}/clients/${clientId}/info/balance`, {
        headers: { 'x-api-key': 'local-partner-api-key' },
      })
      await res.text()
      times.push(performance.now() - started)
      if (res.status === 200) ok += 1
      else refused += 1
    }),
  )
  return { requests: callers, upstream: callers, ok, refused, times }
}

function row(label: string, outcomes: Outcome[]): (string | number)[] {
  const sum = (f: (o: Outcome) => number): number => outcomes.reduce((a, o) => a + f(o), 0)
  const requests = sum((o) => o.requests)
  const upstream = sum((o) => o.upstream)
  const times = outcomes.flatMap((o) => o.times)
  return [
    label,
    requests,
    upstream,
    round(upstream / outcomes.length, 2),
    `${round((100 * (requests - upstream)) / requests, 1)} %`,
    sum((o) => o.ok),
    sum((o) => o.refused),
    round(percentile(times, 50)),
    round(percentile(times, 99)),
  ]
}

/**
 * `GET /clients/{clientId}/balance` under 50 concurrent callers over HTTP on the local app (dynalite
 * store, real Partner API client, simulator with 100 ms latency and its documented limit of 5 balance
 * calls per 30 s): how many answers come from the cache (hit ratio = 1 − upstream calls / requests),
 * against the same callers asking the Partner API directly in the same run.
 */
export const bench: Bench = {
  name: 'balance',
  async run(): Promise<BenchTable[]> {
    const app = await startApp({
      port: 0,
      dataDir: null,
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: false, autoAdvanceMs: 0 },
    })
    try {
      const sim = simOf(app)
      const ids = Array.from({ length: ROUNDS * 4 + 1 }, () => sim.addClient().id)
      await app.poll()
      // Warm-up: signing, the first DynamoDB calls, the first upstream call.
      await burst(app, ids[0] as string, 5, 1)
      sim.setFaults({ latencyMs: LATENCY_MS })
      const cold: Outcome[] = []
      const sustained: Outcome[] = []
      const directs: Outcome[] = []
      const separate: Outcome[] = []
      for (let r = 0; r < ROUNDS; r++) {
        cold.push(await burst(app, ids[1 + r] as string, CALLERS, 1))
        sustained.push(await burst(app, ids[1 + ROUNDS + r] as string, CALLERS, REPEATS))
        separate.push(await instances(app, ids[1 + 3 * ROUNDS + r] as string, CALLERS))
        directs.push(await direct(app, ids[1 + 2 * ROUNDS + r] as string, CALLERS))
      }
      return [
        {
          title: `Balance cache under ${CALLERS} concurrent callers (${LATENCY_MS} ms upstream latency)`,
          note:
            `${ROUNDS} rounds, each on a client with an empty cache. "cold burst": ${CALLERS} callers at once; ` +
            `"sustained": each of them calls ${REPEATS} times in a row within the window; "direct": the same ` +
            `${CALLERS} callers ask the Partner API simulator themselves (no PartnerOps); "separate instances": ` +
            `${CALLERS} callers each with its own deps, as ${CALLERS} Lambda instances, sharing only the store. ` +
            'Hit ratio = 1 − upstream calls / requests.',
          columns: [
            'case',
            'requests',
            'upstream calls',
            'upstream calls per round',
            'hit ratio',
            '200',
            'refused (429/503)',
            'p50 ms',
            'p99 ms',
          ],
          rows: [
            row('PartnerOps, cold burst', cold),
            row('PartnerOps, sustained', sustained),
            row('PartnerOps service, 50 separate instances, no HTTP', separate),
            row('direct to the Partner API', directs),
          ],
        },
      ]
    } finally {
      await app.close()
    }
  },
}

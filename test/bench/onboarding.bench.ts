import { performance } from 'node:perf_hooks'
import { type App, startApp } from '../../local/app'
import { signedFetch } from '../support/signed-fetch'
import { type Bench, type BenchTable, percentile, round } from './harness'

const LATENCY_MS = 20
const CALLBACKS = 40
const WARMUP = 5

interface Case {
  label: string
  channels: number
  /** Whether the client already carries partner_payload (else the callback also PATCHes it). */
  payloadSet: boolean
}

const CASES: Case[] = [
  { label: 'payload already set', channels: 1, payloadSet: true },
  { label: 'payload already set', channels: 10, payloadSet: true },
  { label: 'payload missing (PATCH)', channels: 1, payloadSet: false },
  { label: 'payload missing (PATCH)', channels: 10, payloadSet: false },
]

function simOf(app: App): NonNullable<App['simulator']> {
  if (!app.simulator) throw new Error('no simulator')
  return app.simulator
}

/** A freshly onboarded client with `channels` draft channels in the simulator. */
function newClient(app: App, c: Case): { clientId: string; channelIds: string[] } {
  const sim = simOf(app)
  const client = sim.addClient({ partner_payload: c.payloadSet ? 'bench-payload' : null })
  const channelIds: string[] = []
  for (let i = 0; i < c.channels; i++) channelIds.push(sim.addChannel({ client_id: client.id }).id)
  return { clientId: client.id, channelIds }
}

async function callbackUrl(app: App): Promise<string> {
  const res = await signedFetch(app, '/onboarding-links', {
    method: 'POST',
    body: JSON.stringify({ partnerPayload: 'bench-payload' }),
  })
  if (res.status !== 200) throw new Error(`link answered ${res.status}`)
  const { url } = (await res.json()) as { url: string }
  return new URL(url).searchParams.get('redirect_url') ?? ''
}

/**
 * One callback over HTTP, as the browser arrives; returns its wall time in ms. Each callback gets a
 * link of its own (made before the clock starts): a link's ref binds to the first client that
 * completes with it, so a second client on the same link is refused.
 */
async function timeCallback(app: App, c: Case): Promise<number> {
  const base = await callbackUrl(app)
  const { clientId, channelIds } = newClient(app, c)
  const started = performance.now()
  const res = await fetch(`${base}&client=${clientId}&channels=[${channelIds.join(',')}]`, {
    redirect: 'manual',
  })
  const text = await res.text()
  const ms = performance.now() - started
  if (res.status !== 200 && res.status !== 302)
    throw new Error(`callback answered ${res.status}: ${text.slice(0, 300)}`)
  return ms
}

/** The upstream calls the callback needs, made directly with the same client: the floor. */
async function timeUpstreamOnly(app: App, c: Case): Promise<number> {
  const { clientId } = newClient(app, c)
  const api = app.deps.partnerApi
  const started = performance.now()
  const [client] = await Promise.all([
    api.findClient(clientId),
    api.listChannels({ filters: { client_id: clientId }, limit: 100, offset: 0 }),
  ])
  if (!client?.partner_payload) await api.patchClient(clientId, { partner_payload: 'bench-payload' })
  return performance.now() - started
}

/**
 * `GET /onboarding/callback` end to end over the local app (HTTP, SigV4-free public route, dynalite
 * store, real Partner API client) against the simulator with 20 ms latency per upstream request,
 * compared with making just the upstream calls it needs, sequentially, in the same run.
 */
export const bench: Bench = {
  name: 'onboarding',
  async run(): Promise<BenchTable[]> {
    const app = await startApp({
      port: 0,
      dataDir: null,
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: false },
      env: { ONBOARDING_CALLBACK_RATE_PER_MINUTE: '100000' },
    })
    try {
      const sim = simOf(app)
      for (let i = 0; i < WARMUP; i++) await timeCallback(app, CASES[1] as Case)
      sim.setFaults({ latencyMs: LATENCY_MS })
      const rows: (string | number)[][] = []
      for (const c of CASES) {
        for (let i = 0; i < WARMUP; i++) {
          await timeUpstreamOnly(app, c)
          await timeCallback(app, c)
        }
        const floor: number[] = []
        for (let i = 0; i < CALLBACKS; i++) floor.push(await timeUpstreamOnly(app, c))
        const before = sim.requests().length
        const times: number[] = []
        for (let i = 0; i < CALLBACKS; i++) times.push(await timeCallback(app, c))
        const calls = (sim.requests().length - before) / CALLBACKS
        const p50 = percentile(times, 50)
        const f50 = percentile(floor, 50)
        rows.push([
          c.label,
          c.channels,
          round(calls, 1),
          round(p50),
          round(percentile(times, 99)),
          round(f50),
          round(percentile(floor, 99)),
          round(p50 - f50),
          round(p50 / f50, 2),
        ])
      }
      return [
        {
          title: 'Onboarding callback latency (20 ms upstream latency)',
          note:
            `${CALLBACKS} callbacks per row, each for a new client, over HTTP on the local app (dynalite). ` +
            '"upstream only" makes the same Partner API calls directly (lookups in parallel, then the PATCH when needed).',
          columns: [
            'case',
            'channels',
            'upstream calls / callback',
            'callback p50 ms',
            'callback p99 ms',
            'upstream only p50 ms',
            'upstream only p99 ms',
            'overhead p50 ms',
            'ratio p50',
          ],
          rows,
        },
      ]
    } finally {
      await app.close()
    }
  },
}

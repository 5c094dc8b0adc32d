import { performance } from 'node:perf_hooks'
import { startSimulator } from '../../local/simulator/server'
import { createPartnerApiClient } from '../../shared/adapters/partner-api/client'
import { createEnvSecretSource } from '../../shared/adapters/secrets'
import { type Bench, type BenchTable, round, withPeakRss } from './harness'
import { startSimulatorProcess } from './simulator-process'

const CHANNELS = 10_000
const PAGE_SIZE = 100
const LATENCY_MS = 20

interface Upstream {
  baseUrl: string
  partnerId: string
  setFaults(faults: { latencyMs?: number }): Promise<void> | void
}

/** The walks of one table: warm-up, the no-latency walk, then concurrency 1 and 4 at LATENCY_MS. */
async function walks(sim: Upstream): Promise<(string | number)[][]> {
  const walk = async (concurrency: number, latencyMs: number) => {
    await sim.setFaults(latencyMs > 0 ? { latencyMs } : {})
    const api = createPartnerApiClient({
      baseUrl: sim.baseUrl,
      partnerId: sim.partnerId,
      auth: 'api_key',
      secrets: createEnvSecretSource({ partnerApi: 'local-partner-api-key' }),
    })
    const started = performance.now()
    const { result: count, peakRssMb } = await withPeakRss(async () => {
      let n = 0
      for await (const page of api.iterateChannels({ limit: PAGE_SIZE, concurrency })) n += page.length
      return n
    })
    const ms = performance.now() - started
    if (count !== CHANNELS) throw new Error(`walk returned ${count} channels, expected ${CHANNELS}`)
    return { ms, peakRssMb, stats: api.stats() }
  }

  // Warm-up (JIT, cached list order in the simulator), not reported.
  await walk(4, 0)
  const bare = await walk(1, 0)
  const rows: (string | number)[][] = []
  for (const concurrency of [1, 4]) {
    const r = await walk(concurrency, LATENCY_MS)
    const ideal = (r.stats.calls * LATENCY_MS) / concurrency
    rows.push([
      concurrency,
      r.stats.calls,
      r.stats.retries,
      round(r.ms, 0),
      round(ideal, 0),
      round(r.ms / ideal, 2),
      r.peakRssMb,
    ])
  }
  rows.push([
    '1 (no latency)',
    bare.stats.calls,
    bare.stats.retries,
    round(bare.ms, 0),
    0,
    '–',
    bare.peakRssMb,
  ])
  return rows
}

// Variance off: the figures measure the client against canonical pages, comparable across runs.
const SIMULATOR = { seed: 'empty', deliverWebhooks: false, variance: 'off' } as const
const COLUMNS = ['concurrency', 'calls', 'retries', 'wall ms', 'ideal ms', 'ratio', 'peak RSS MB']
const RATIO =
  'ideal = pages × latency ÷ concurrency; ratio = wall ÷ ideal (1.00 = no overhead beyond the simulated latency).'

/**
 * The Partner API client walking 10,000 simulator channels, sequentially and with 4 pages in flight:
 * first against a simulator in its own process (the Partner API is remote: only the client's CPU is
 * on the measured event loop), then against one in this process (as the earlier figures were taken).
 */
export const bench: Bench = {
  name: 'partner-client',
  async run(): Promise<BenchTable[]> {
    const child = await startSimulatorProcess(SIMULATOR)
    let remote: (string | number)[][]
    try {
      await child.generate({ clients: 500, channels: CHANNELS })
      remote = await walks(child)
    } finally {
      await child.close()
    }
    const sim = await startSimulator(SIMULATOR)
    let local: (string | number)[][]
    try {
      sim.generate({ clients: 500, channels: CHANNELS })
      local = await walks(sim)
    } finally {
      await sim.close()
    }
    const title = `Partner API client: list ${CHANNELS.toLocaleString('en')} channels (page ${PAGE_SIZE}, ${LATENCY_MS} ms simulated latency)`
    return [
      {
        title: `${title}, simulator in its own process`,
        note: `Simulator in a child process over loopback (the Partner API is remote). ${RATIO} The no-latency row is the client's cost plus the simulator's answer time.`,
        columns: COLUMNS,
        rows: remote,
      },
      {
        title: `${title}, simulator in this process`,
        note: `In-process simulator over loopback: its CPU shares the client's event loop. ${RATIO} The no-latency row is the client + simulator cost of the same walk.`,
        columns: COLUMNS,
        rows: local,
      },
    ]
  },
}

import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { SimulatorOptions } from '../../local/simulator/server'

/**
 * The Partner API simulator in a child process, for benchmarks: the Partner API is a remote service,
 * so its own CPU (building and serialising pages) should not share the measured client's event
 * loop. Controlled over HTTP through its `/_sim` routes (local/simulator/README.md).
 */
export interface SimulatorProcess {
  /** The API base (…/api/v2), as `Simulator.baseUrl`. */
  baseUrl: string
  partnerId: string
  /** `POST /_sim/generate`. */
  generate(spec: { clients: number; channels: number }): Promise<void>
  /** `POST /_sim/faults` (`{}` clears). */
  setFaults(faults: { latencyMs?: number }): Promise<void>
  close(): Promise<void>
}

const SERVER = fileURLToPath(new URL('../../local/simulator/server.ts', import.meta.url))

/** Starts the simulator (options must be JSON) in its own `node --import tsx` process on an ephemeral port. */
export async function startSimulatorProcess(
  opts: Omit<SimulatorOptions, 'clock' | 'port'>,
): Promise<SimulatorProcess> {
  const script = `
    const { startSimulator } = await import(${JSON.stringify(SERVER)})
    const sim = await startSimulator({ ...${JSON.stringify(opts)}, port: 0 })
    process.stdout.write(JSON.stringify({ url: sim.url, baseUrl: sim.baseUrl, partnerId: sim.partnerId }) + '\\n')
    process.on('SIGTERM', () => sim.close().then(() => process.exit(0)))
  `
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  const started = await new Promise<{ url: string; baseUrl: string; partnerId: string }>((ok, fail) => {
    let out = ''
    child.once('exit', (code) => fail(new Error(`simulator process exited (${code})`)))
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line && out.includes('\n'))
        ok(JSON.parse(line) as { url: string; baseUrl: string; partnerId: string })
    })
  })
  const control = async (path: string, body: unknown): Promise<void> => {
    const res = await fetch(`${started.url}/_sim/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    await res.text()
    if (!res.ok) throw new Error(`simulator control ${path} answered ${res.status}`)
  }
  return {
    baseUrl: started.baseUrl,
    partnerId: started.partnerId,
    generate: (spec) => control('generate', spec),
    setFaults: (faults) => control('faults', faults),
    close: () =>
      new Promise<void>((ok) => {
        child.removeAllListeners('exit')
        child.once('exit', () => ok())
        child.kill('SIGTERM')
      }),
  }
}

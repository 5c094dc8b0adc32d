import { cliOrExit } from '../cli'
import { loadSimulatorConfig, SimulatorConfigError, simulatorOptions } from './config'
import { type Simulator, startSimulator } from './server'

// `npm run simulator`: the Partner API simulator on its own, in demo mode (channels move forward
// over time). Settings come from config.ts; a bad one or a taken port stops with one line.

function fail(message: string): never {
  process.stderr.write(`simulator: ${message}\n`)
  process.exit(1)
}

const CLI = {
  usage: 'npm run simulator [-- --help]',
  description: `The 360dialog Partner API simulator on its own, in demo mode: seeded clients and channels that
move forward over time, signed webhooks, and its controls at /_sim.`,
  flags: {},
  env: {
    SIMULATOR_PORT: 'port (default 4010)',
    PARTNER_ID: 'partner id (default demoPA)',
    PARTNER_API_KEY: 'the X-API-Key it accepts (default local-partner-api-key)',
    SIMULATOR_AUTO_ADVANCE_MS: 'how often a demo channel moves forward (default 20000, 0 = never)',
    SIMULATOR_VARIANCE: 'on/off: also emit the documented real-world body variants',
  },
} as const

async function main(): Promise<void> {
  cliOrExit('simulator', CLI)
  let config: ReturnType<typeof loadSimulatorConfig>
  try {
    config = loadSimulatorConfig(process.env)
  } catch (err) {
    if (err instanceof SimulatorConfigError) fail(`invalid environment: ${err.message}`)
    throw err
  }
  let sim: Simulator
  try {
    sim = await startSimulator(simulatorOptions(config))
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : ''
    fail(
      `cannot start: ${code === 'EADDRINUSE' ? `port ${config.port} is already in use` : err instanceof Error ? err.message : 'failed'}`,
    )
  }
  const defaultKey = config.apiKey === 'local-partner-api-key'
  const lines = [
    `360dialog Partner API simulator listening on ${sim.url}`,
    `  API base:     ${sim.baseUrl}`,
    `  partner id:   ${sim.partnerId}`,
    `  X-API-Key:    ${defaultKey ? config.apiKey : '(from PARTNER_API_KEY)'}`,
    '  Bearer login: POST /api/v2/token {"username":"demo@partnerops.local","password":"local-password"}',
    `  controls:     ${sim.url}/_sim`,
    `  try:          curl -H 'X-API-Key: ${defaultKey ? config.apiKey : '…'}' '${sim.baseUrl}/partners/${sim.partnerId}/channels?limit=5'`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

void main()

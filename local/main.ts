import { ConfigError } from '../shared/domain/errors'
import { int, loadConfig, localSettings, parseSettings, startEnvSettings, text } from '../shared/env'
import { type App, LOCAL_DEFAULTS, startApp } from './app'
import { loadSimulatorConfig, type SimulatorConfig, SimulatorConfigError } from './simulator/config'

/**
 * `npm start`: the whole product on this machine (README, Running locally). Reads only the documented
 * variables: the runner's own below, and the product settings SETTINGS marks `startEnv`
 * (shared/env.ts), parsed by the same code as in Lambda. Prints the URLs, the local credentials and
 * one example request, and shuts down cleanly on SIGINT/SIGTERM. Startup problems print one line,
 * never a stack trace.
 */

/**
 * The runner's own settings: where it listens and stores. The simulator's (SIMULATOR_*) are parsed
 * by its own config (local/simulator/config.ts).
 */
const RUNNER_SETTINGS = {
  PORT: int(3000, 0, 65_535),
  DATA_DIR: text('.data', 1),
  POLL_INTERVAL_SECONDS: int(60, 1, 86_400),
  LOCAL_ACCESS_KEY_ID: text(LOCAL_DEFAULTS.accessKeyId, 1),
  LOCAL_SECRET_ACCESS_KEY: text(LOCAL_DEFAULTS.secretAccessKey, 1),
}

type RunnerEnv = ReturnType<typeof parseSettings<typeof RUNNER_SETTINGS>>['values']

function fail(message: string): never {
  process.stderr.write(`partnerops: ${message}\n`)
  process.exit(1)
}

function describeStartError(err: unknown, env: RunnerEnv): string {
  const code = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : ''
  if (code === 'EADDRINUSE') {
    const p = (err as NodeJS.ErrnoException & { port?: number }).port
    return `port ${p ?? env.PORT} is already in use (set PORT or SIMULATOR_PORT to another port)`
  }
  if (code === 'EACCES') return `permission denied (${(err as Error).message})`
  return err instanceof Error ? (err.message.split('\n')[0] ?? 'failed to start') : String(err)
}

async function main(): Promise<void> {
  const { values: env, problems } = parseSettings(RUNNER_SETTINGS, process.env)
  if (problems.length > 0) fail(`invalid environment: ${problems.join('; ')}`)
  let sim: SimulatorConfig
  try {
    sim = loadSimulatorConfig(process.env)
  } catch (err) {
    if (err instanceof SimulatorConfigError) fail(`invalid environment: ${err.message}`)
    throw err
  }
  const overrides = startEnvSettings(process.env)
  const external = overrides.PARTNER_API_BASE_URL !== undefined
  if (external && (!overrides.PARTNER_ID || !overrides.PARTNER_API_KEY)) {
    fail('PARTNER_API_BASE_URL is set, so PARTNER_ID and PARTNER_API_KEY are required too')
  }
  try {
    // Checked before anything starts: the app parses the same values again with its own additions.
    loadConfig({ ...localSettings(), ...overrides })
  } catch (err: unknown) {
    if (err instanceof ConfigError)
      fail(`invalid environment: ${err.message.replace(/^Invalid configuration: /, '')}`)
    throw err
  }

  let app: App
  try {
    app = await startApp({
      port: env.PORT,
      dataDir: env.DATA_DIR,
      pollIntervalSeconds: env.POLL_INTERVAL_SECONDS,
      env: overrides,
      credentials: { accessKeyId: env.LOCAL_ACCESS_KEY_ID, secretAccessKey: env.LOCAL_SECRET_ACCESS_KEY },
      simulator: external
        ? false
        : {
            port: sim.port,
            deliverWebhooks: sim.deliverWebhooks,
            autoAdvanceMs: sim.autoAdvanceMs,
            variance: sim.variance,
          },
      onChange: (e) => {
        const d = e.detail
        process.stdout.write(
          `event  ${e.detailType}: ${d.channelId ?? d.clientId} ${d.from ?? '∅'} → ${d.to} (${d.source})\n`,
        )
      },
      onRequest: (r) => {
        process.stdout.write(`http   ${r.method} ${r.path.split('?')[0]} ${r.status} ${r.ms.toFixed(1)}ms\n`)
      },
    })
  } catch (err) {
    fail(describeStartError(err, env))
  }

  // Handlers first: whoever reads the banner may signal at once.
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stdout.write(`\n${signal}: shutting down…\n`)
    app
      .close()
      .then(() => {
        process.stdout.write('stopped\n')
        process.exit(0)
      })
      .catch((err: unknown) => fail(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`))
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))

  const key = env.LOCAL_ACCESS_KEY_ID
  const secretShown =
    env.LOCAL_SECRET_ACCESS_KEY === LOCAL_DEFAULTS.secretAccessKey
      ? env.LOCAL_SECRET_ACCESS_KEY
      : '<LOCAL_SECRET_ACCESS_KEY>'
  process.stdout.write(
    [
      '',
      'PartnerOps is running locally',
      `  API                  ${app.url}`,
      `  webhook receiver     POST ${app.url}/webhooks/360dialog`,
      app.simulator
        ? `  Partner API (sim)    ${app.simulator.baseUrl}   (X-API-Key: ${LOCAL_DEFAULTS.partnerApiKey}; controls at ${app.simulator.url}/_sim)`
        : `  Partner API          ${overrides.PARTNER_API_BASE_URL}`,
      `  data                 ${env.DATA_DIR}/ (DynamoDB, events.jsonl)`,
      `  reconciliation       every ${env.POLL_INTERVAL_SECONDS}s (one run now)`,
      `  SigV4 credentials    ${key} / ${secretShown}  (region us-east-1, service execute-api)`,
      '',
      'Try:',
      `  curl -s --aws-sigv4 "aws:amz:us-east-1:execute-api" --user "${key}:${secretShown}" ${app.url}/channels?limit=5`,
      '',
      'Ctrl+C stops everything.',
      '',
    ].join('\n'),
  )
}

void main()

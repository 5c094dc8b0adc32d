import { ConfigError } from '../shared/domain/errors'
import { int, loadConfig, localSettings, parseSettings, startEnvSettings, text } from '../shared/env'
import { createLogger, logStyle } from '../shared/observability'
import { type App, LOCAL_DEFAULTS, startApp } from './app'
import { cliOrExit } from './cli'
import { type ControlServer, startControlServer } from './control'
import { acquireDataDirLock, type DataDirLock, DataDirLockedError } from './lock'
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
  LOCAL_KEY_READER_ACCESS_KEY_ID: text(LOCAL_DEFAULTS.keyReaderAccessKeyId, 1),
  LOCAL_KEY_READER_SECRET_ACCESS_KEY: text(LOCAL_DEFAULTS.keyReaderSecretAccessKey, 1),
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

const CLI = {
  usage: 'npm start [-- --help]',
  description: `The whole product on this machine: embedded DynamoDB under DATA_DIR, the Partner API simulator,
the local API (same handlers as Lambda, SigV4 checked locally) and the reconciliation timer. One
process per DATA_DIR: a second one stops with one line naming the holder.`,
  flags: {},
  env: {
    PORT: 'local API port (default 3000, 0 = any free port)',
    SIMULATOR_PORT: 'simulator port (default 4010)',
    DATA_DIR: 'embedded DynamoDB, event log and lock (default .data)',
    POLL_INTERVAL_SECONDS: 'reconciliation interval (default 60)',
    HEALTH_INTERVAL_MINUTES: 'health job interval in minutes (default 7, at least 7)',
    PARTNER_API_BASE_URL: 'a real Partner API instead of the simulator (then PARTNER_ID, PARTNER_API_KEY)',
    LOCAL_ACCESS_KEY_ID: 'SigV4 key id the local server accepts (default AKIDLOCALPARTNEROPS)',
    LOCAL_SECRET_ACCESS_KEY: 'its secret (default local-secret-access-key)',
    LOCAL_KEY_READER_ACCESS_KEY_ID:
      'a second SigV4 key id that may also read channel API keys (default AKIDLOCALKEYREADER)',
    LOCAL_KEY_READER_SECRET_ACCESS_KEY: 'its secret (default local-key-reader-secret)',
    LOG_FORMAT: 'text (one line each), json, or auto (default: text on a terminal, else JSON)',
    POWERTOOLS_LOG_LEVEL: 'DEBUG, INFO (default here), WARN, ERROR, SILENT',
  },
} as const

async function main(): Promise<void> {
  cliOrExit('partnerops', CLI)
  // Signal handlers before anything async: a signal during startup stops as soon as startup ends,
  // instead of killing the process with half-open files (and exit code 143).
  let app: App | null = null
  let control: ControlServer | null = null
  let lock: DataDirLock | null = null
  let stopRequested: string | null = null
  const stop = (signal: string): void => {
    if (stopRequested) return
    stopRequested = signal
    if (!app) return // startup finishes first, then sees stopRequested
    process.stdout.write(`\n${signal}: shutting down…\n`)
    const closing = app
    Promise.resolve(control?.close())
      .then(() => closing.close())
      .then(() => {
        lock?.release()
        process.stdout.write('stopped\n')
        process.exit(0)
      })
      .catch((err: unknown) => fail(`shutdown failed: ${err instanceof Error ? err.message : String(err)}`))
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))

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

  try {
    lock = acquireDataDirLock(env.DATA_DIR, 'npm start')
  } catch (err: unknown) {
    if (err instanceof DataDirLockedError) fail(err.message)
    fail(`DATA_DIR ${env.DATA_DIR} is not writable (${err instanceof Error ? err.message : String(err)})`)
  }

  // Readable one-liners on a terminal, JSON otherwise (LOG_FORMAT overrides): request and change
  // lines go through the same logger as the functions' own lines (webhook accepted with its event
  // type, one line per reconciliation run).
  process.env.POWERTOOLS_LOG_LEVEL ??= 'INFO'
  const style = logStyle()
  const log = createLogger('local', style)
  let started: App
  try {
    started = await startApp({
      port: env.PORT,
      dataDir: env.DATA_DIR,
      pollIntervalSeconds: env.POLL_INTERVAL_SECONDS,
      healthTimer: true,
      env: overrides,
      credentials: { accessKeyId: env.LOCAL_ACCESS_KEY_ID, secretAccessKey: env.LOCAL_SECRET_ACCESS_KEY },
      keyReaderCredentials: {
        accessKeyId: env.LOCAL_KEY_READER_ACCESS_KEY_ID,
        secretAccessKey: env.LOCAL_KEY_READER_SECRET_ACCESS_KEY,
      },
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
        const subject = d.channelId ?? d.clientId
        const line = `${e.detailType}: ${subject} ${d.from ?? '∅'} → ${d.to} (${d.source})`
        if (style === 'text') log.info(`event ${line}`)
        else log.info('change event', { detailType: e.detailType, detail: d })
      },
      onRequest: (r) => {
        const path = r.path.split('?')[0] ?? r.path
        if (style === 'text') log.info(`http ${r.method} ${path} ${r.status} ${r.ms.toFixed(1)}ms`)
        else
          log.info('http request', { method: r.method, path, status: r.status, ms: Number(r.ms.toFixed(1)) })
      },
    })
  } catch (err) {
    fail(describeStartError(err, env))
  }
  app = started
  // Tools such as `npm run replay` ask this process instead of opening its files (local/control.ts).
  control = await startControlServer(started.deps)
  control.setToken(lock.publishControl(control.url))
  if (stopRequested) {
    const signal = stopRequested
    stopRequested = null
    stop(signal)
    return
  }

  const key = env.LOCAL_ACCESS_KEY_ID
  const secretShown =
    env.LOCAL_SECRET_ACCESS_KEY === LOCAL_DEFAULTS.secretAccessKey
      ? env.LOCAL_SECRET_ACCESS_KEY
      : '<LOCAL_SECRET_ACCESS_KEY>'
  process.stdout.write(
    [
      '',
      'PartnerOps is running locally',
      `  API                  ${started.url}`,
      `  webhook receiver     POST ${started.url}/webhooks/360dialog`,
      started.simulator
        ? `  Partner API (sim)    ${started.simulator.baseUrl}   (X-API-Key: ${LOCAL_DEFAULTS.partnerApiKey}; controls at ${started.simulator.url}/_sim)`
        : `  Partner API          ${overrides.PARTNER_API_BASE_URL}`,
      `  data                 ${env.DATA_DIR}/ (DynamoDB, events.jsonl; held by pid ${process.pid})`,
      `  reconciliation       every ${env.POLL_INTERVAL_SECONDS}s (one run now)`,
      `  channel health       every ${started.deps.config.HEALTH_INTERVAL_MINUTES} min, each live channel with a key (one sweep now)`,
      `  SigV4 credentials    ${key} / ${secretShown}  (region us-east-1, service execute-api)`,
      `  key reader           ${env.LOCAL_KEY_READER_ACCESS_KEY_ID} / ${
        env.LOCAL_KEY_READER_SECRET_ACCESS_KEY === LOCAL_DEFAULTS.keyReaderSecretAccessKey
          ? env.LOCAL_KEY_READER_SECRET_ACCESS_KEY
          : '<LOCAL_KEY_READER_SECRET_ACCESS_KEY>'
      }  (may also GET /channels/{id}/api-key)`,
      '',
      'Try:',
      `  curl -s --aws-sigv4 "aws:amz:us-east-1:execute-api" --user "${key}:${secretShown}" ${started.url}/channels?limit=5`,
      '',
      'Ctrl+C stops everything.',
      '',
    ].join('\n'),
  )
}

void main()

import { z } from 'zod'
import { type App, LOCAL_DEFAULTS, startApp } from './app'

/**
 * `npm start`: the whole product on this machine (contract §2). Reads only the documented variables,
 * prints the URLs, the local credentials and one example request, and shuts down cleanly on
 * SIGINT/SIGTERM. Startup problems print one line, never a stack trace.
 */

const port = z.coerce.number().int().min(0).max(65_535)
const envSchema = z.object({
  PORT: port.default(3000),
  SIMULATOR_PORT: port.default(4010),
  DATA_DIR: z.string().min(1).default('.data'),
  POLL_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  PARTNER_API_BASE_URL: z.url().optional(),
  PARTNER_ID: z.string().min(1).optional(),
  PARTNER_API_KEY: z.string().min(1).optional(),
  PLATFORM_SECRET: z.string().min(1).optional(),
  WEBHOOK_TOKEN: z.string().min(1).optional(),
  LOCAL_ACCESS_KEY_ID: z.string().min(1).default(LOCAL_DEFAULTS.accessKeyId),
  LOCAL_SECRET_ACCESS_KEY: z.string().min(1).default(LOCAL_DEFAULTS.secretAccessKey),
  SIMULATOR_WEBHOOKS: z.enum(['on', 'off']).default('on'),
  SIMULATOR_AUTO_ADVANCE_MS: z.coerce.number().int().min(0).default(20_000),
})

function fail(message: string): never {
  process.stderr.write(`partnerops: ${message}\n`)
  process.exit(1)
}

function describeStartError(err: unknown, env: z.infer<typeof envSchema>): string {
  const code = err instanceof Error && 'code' in err ? String((err as NodeJS.ErrnoException).code) : ''
  if (code === 'EADDRINUSE') {
    const p = (err as NodeJS.ErrnoException & { port?: number }).port
    return `port ${p ?? env.PORT} is already in use (set PORT or SIMULATOR_PORT to another port)`
  }
  if (code === 'EACCES') return `permission denied (${(err as Error).message})`
  return err instanceof Error ? (err.message.split('\n')[0] ?? 'failed to start') : String(err)
}

async function main(): Promise<void> {
  const parsed = envSchema.safeParse(process.env)
  if (!parsed.success) {
    fail(
      `invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  }
  const env = parsed.data
  const external = env.PARTNER_API_BASE_URL !== undefined
  if (external && (!env.PARTNER_ID || !env.PARTNER_API_KEY)) {
    fail('PARTNER_API_BASE_URL is set, so PARTNER_ID and PARTNER_API_KEY are required too')
  }
  const overrides: Record<string, string> = {}
  for (const key of [
    'PARTNER_API_BASE_URL',
    'PARTNER_ID',
    'PARTNER_API_KEY',
    'PLATFORM_SECRET',
    'WEBHOOK_TOKEN',
  ] as const) {
    const v = env[key]
    if (v !== undefined) overrides[key] = v
  }
  if (process.env.CANCELLATION_BUDGET_PER_HOUR)
    overrides.CANCELLATION_BUDGET_PER_HOUR = process.env.CANCELLATION_BUDGET_PER_HOUR

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
            port: env.SIMULATOR_PORT,
            deliverWebhooks: env.SIMULATOR_WEBHOOKS === 'on',
            autoAdvanceMs: env.SIMULATOR_AUTO_ADVANCE_MS === 0 ? null : env.SIMULATOR_AUTO_ADVANCE_MS,
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
        : `  Partner API          ${env.PARTNER_API_BASE_URL}`,
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

import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createDynamoStore, ensureTables, tableNamesFromConfig } from '../shared/adapters/dynamo/dynamo-store'
import { createFileEventSink } from '../shared/adapters/event-sink'
import { loadConfig, localSettings } from '../shared/env'
import { replayWebhooks } from '../shared/services/webhooks/replay-webhooks'
import { createAppDeps } from '../shared/wiring'
import { createLocalDynamoClient, type LocalDynamo, startDynalite } from './dynalite'

/**
 * `npm run replay -- --since <ISO time> [--limit N] [--target local|aws]`: re-applies stored webhook
 * events idempotently and prints the counts. `local` (the default unless PARTNER_ID is set and
 * DATA_DIR is not) opens the local runner's data under DATA_DIR (stop `npm start` first: the embedded
 * DynamoDB files are single-process); `aws` uses the usual deployment environment (PARTNER_ID,
 * TABLE_*, AWS credentials), exactly as the Lambda functions wire themselves.
 */

function fail(message: string): never {
  process.stderr.write(`replay: ${message}\n`)
  process.exit(1)
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN'
  let args: { since?: string; limit?: string; target?: string }
  try {
    args = parseArgs({
      options: { since: { type: 'string' }, limit: { type: 'string' }, target: { type: 'string' } },
      strict: true,
    }).values
  } catch (err: unknown) {
    fail(err instanceof Error ? err.message : 'invalid arguments')
  }
  if (!args.since) fail('usage: npm run replay -- --since <ISO time> [--limit N] [--target local|aws]')
  const limit = args.limit === undefined ? undefined : Number(args.limit)
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    fail('--limit must be a positive integer')
  const target = args.target ?? (process.env.PARTNER_ID && !process.env.DATA_DIR ? 'aws' : 'local')
  if (target !== 'local' && target !== 'aws') fail('--target must be local or aws')

  let dynamo: LocalDynamo | null = null
  let localClient: { destroy(): void } | undefined
  try {
    let deps: ReturnType<typeof createAppDeps>
    if (target === 'aws') {
      deps = createAppDeps(loadConfig(), 'replay')
    } else {
      const dataDir = process.env.DATA_DIR ?? '.data'
      dynamo = await startDynalite({ path: join(dataDir, 'dynamodb') })
      const config = loadConfig({
        ...localSettings(),
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        EVENT_SINK: 'file',
        EVENTS_FILE: join(dataDir, 'events.jsonl'),
      })
      const client = createLocalDynamoClient(dynamo.endpoint)
      localClient = client
      const tables = tableNamesFromConfig(config)
      await ensureTables(client, tables)
      const store = createDynamoStore({ client, tables, cursorSecret: config.CURSOR_SECRET })
      deps = createAppDeps(config, 'replay', {
        store,
        events: createFileEventSink({ path: config.EVENTS_FILE }),
      })
    }
    const summary = await replayWebhooks(deps, { since: args.since, ...(limit ? { limit } : {}) })
    const o = summary.outcomes
    process.stdout.write(
      `replayed ${summary.scanned} events since ${args.since} (${target}): ` +
        `${o.applied} applied, ${o.stale} stale, ${o.rejected} rejected, ` +
        `${o.unknown_type} unknown type, ${summary.failed} failed\n`,
    )
    process.stdout.write(`${JSON.stringify({ target, since: args.since, ...summary })}\n`)
    if (summary.failed > 0) process.exitCode = 2
  } finally {
    localClient?.destroy()
    await dynamo?.close()
  }
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : String(err))
})

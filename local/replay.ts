import { join } from 'node:path'
import { createDynamoStore, ensureTables, tableNamesFromConfig } from '../shared/adapters/dynamo/dynamo-store'
import { createFileEventSink } from '../shared/adapters/event-sink'
import { loadConfig, localSettings } from '../shared/env'
import { type ReplaySummary, replayWebhooks } from '../shared/services/webhooks/replay-webhooks'
import { createAppDeps } from '../shared/wiring'
import { cliOrExit } from './cli'
import { CONTROL_TOKEN_HEADER } from './control'
import { createLocalDynamoClient, type LocalDynamo, startDynalite } from './dynalite'
import { acquireDataDirLock, type DataDirLock, DataDirLockedError, type LockInfo, readLock } from './lock'

/**
 * `npm run replay -- --since <ISO time> [--limit N] [--target local|aws]`: re-applies stored webhook
 * events idempotently and prints the counts. `local` (the default unless PARTNER_ID is set and
 * DATA_DIR is not): when an `npm start` holds DATA_DIR, it asks that instance through its control
 * endpoint (local/control.ts); otherwise it takes DATA_DIR's lock and opens the data itself. `aws`
 * uses the usual deployment environment (PARTNER_ID, TABLE_*, AWS credentials), exactly as the Lambda
 * functions wire themselves.
 */

const CLI = {
  usage: 'npm run replay -- --since <ISO time> [--limit N] [--target local|aws]',
  description: `Re-applies stored webhook events received at or after --since, idempotently (every state write
is guarded by the facts' order), and prints the counts. Locally it asks a running npm start on the
same DATA_DIR, or opens DATA_DIR itself when none runs.`,
  flags: {
    since: { type: 'string', doc: '<ISO time> replay events received at or after this time (required)' },
    limit: { type: 'string', doc: '<N> replay at most N events' },
    target: { type: 'string', doc: '<local|aws> local data or the deployed tables (default local)' },
  },
  env: {
    DATA_DIR: 'the local data directory (default .data)',
    'PARTNER_ID, TABLE_*': 'with --target aws: the deployment settings, as the functions read them',
  },
} as const

/** Asks a running instance to replay; null when it does not answer (then the lock is stale soon). */
async function replayThroughInstance(
  holder: LockInfo,
  body: { since: string; limit?: number },
): Promise<ReplaySummary> {
  const control = holder.control
  if (!control) {
    throw new Error(
      `DATA_DIR is in use by pid ${holder.pid} (${holder.command}), which takes no control requests; stop it first`,
    )
  }
  const res = await fetch(`${control.url}/replay`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CONTROL_TOKEN_HEADER]: control.token },
    body: JSON.stringify(body),
  })
  const answer = (await res.json()) as ReplaySummary & { error?: { message: string } }
  if (!res.ok) throw new Error(answer.error?.message ?? `the running instance answered ${res.status}`)
  return answer
}

function fail(message: string): never {
  process.stderr.write(`replay: ${message}\n`)
  process.exit(1)
}

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN'
  const args = cliOrExit('replay', CLI).values
  if (!args.since) {
    process.stderr.write(`replay: --since is required (usage: ${CLI.usage})\n`)
    process.exit(2)
  }
  const limit = args.limit === undefined ? undefined : Number(args.limit)
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    fail('--limit must be a positive integer')
  const target = args.target ?? (process.env.PARTNER_ID && !process.env.DATA_DIR ? 'aws' : 'local')
  if (target !== 'local' && target !== 'aws') fail('--target must be local or aws')

  let dynamo: LocalDynamo | null = null
  let localClient: { destroy(): void } | undefined
  let lock: DataDirLock | null = null
  let via: string = target
  try {
    let summary: ReplaySummary
    const dataDir = process.env.DATA_DIR ?? '.data'
    const holder = target === 'local' ? readLock(dataDir) : null
    if (holder) {
      via = `local, through the running instance pid ${holder.pid}`
      summary = await replayThroughInstance(holder, { since: args.since, ...(limit ? { limit } : {}) })
    } else {
      summary = await replayHere()
    }
    report(summary)
  } finally {
    localClient?.destroy()
    const opened = dynamo as LocalDynamo | null
    const held = lock as DataDirLock | null
    await opened?.close()
    held?.release()
  }

  async function replayHere(): Promise<ReplaySummary> {
    let deps: ReturnType<typeof createAppDeps>
    if (target === 'aws') {
      deps = createAppDeps(loadConfig(), 'replay')
    } else {
      const dataDir = process.env.DATA_DIR ?? '.data'
      try {
        lock = acquireDataDirLock(dataDir, 'npm run replay')
      } catch (err: unknown) {
        // An instance started between our look and now: ask it after all.
        if (err instanceof DataDirLockedError)
          return replayThroughInstance(err.holder, {
            since: args.since as string,
            ...(limit ? { limit } : {}),
          })
        throw err
      }
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
    return replayWebhooks(deps, { since: args.since as string, ...(limit ? { limit } : {}) })
  }

  function report(summary: ReplaySummary): void {
    const o = summary.outcomes
    process.stdout.write(
      `replayed ${summary.scanned} events since ${args.since} (${via}): ` +
        `${o.applied} applied, ${o.stale} stale, ${o.rejected} rejected, ` +
        `${o.unknown_type} unknown type, ${summary.failed} failed\n`,
    )
    process.stdout.write(`${JSON.stringify({ target, since: args.since, ...summary })}\n`)
    if (summary.failed > 0) process.exitCode = 2
  }
}

main().catch((err: unknown) => {
  fail(err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : String(err))
})

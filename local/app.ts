import { join } from 'node:path'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { createCachingCipher, createLocalCipher } from '../shared/adapters/channel-keys/cipher'
import { createDynamoChannelKeyStore } from '../shared/adapters/channel-keys/dynamo-key-store'
import { createDynamoStore, ensureTables, tableNamesFromConfig } from '../shared/adapters/dynamo/dynamo-store'
import { KEYS } from '../shared/adapters/dynamo/tables'
import { createFileEventSink, createMemoryEventSink } from '../shared/adapters/event-sink'
import type { AppDeps } from '../shared/deps'
import { CHANGE_TABLES, type ChangeTable } from '../shared/domain/change-events'
import type { HealthSweepSummary } from '../shared/domain/health'
import type { ChangeEvent } from '../shared/domain/types'
import { type Config, loadConfig, localSettings, SETTINGS, type SettingValues } from '../shared/env'
import { FUNCTION_KEYS, FUNCTIONS, type FunctionKey, type HttpFunctionKey } from '../shared/functions'
import { CALLBACK_PATH, WEBHOOK_PATH } from '../shared/http/routes'
import type { Clock, EventSink } from '../shared/ports'
import { ADAPTER_BUILDERS, createAppDeps, createSecretSource, wireFunction } from '../shared/wiring'
import { HEALTH_KEY_CACHE } from '../shared/wiring/channel-keys'
import { type ChangeStream, captureChanges, createChangeStream } from './change-stream'
import { createLocalDynamoClient, startDynalite } from './dynalite'
import { type HttpHandler, LOCAL_BUILDERS, localLambdaContext, type StreamingHandler } from './handlers'
import { guardCipher, guardDynamoClient, guardEvents, guardSecrets } from './iam-guard'
import { startLocalServer } from './server'
import { type Simulator, type SimulatorOptions, startSimulator } from './simulator/server'
import { captureInserts, createStreamQueue, type StreamQueue } from './stream-queue'

/**
 * Documented local defaults (README, Running locally): the product settings' `local` values of
 * SETTINGS, and the local server's SigV4 identity. None of these is a real secret.
 */
export const LOCAL_DEFAULTS = {
  partnerId: SETTINGS.PARTNER_ID.local,
  partnerApiKey: SETTINGS.PARTNER_API_KEY.local,
  platformSecret: SETTINGS.PLATFORM_SECRET.local,
  linkSigningKey: SETTINGS.LINK_SIGNING_KEY.local,
  accessKeyId: 'AKIDLOCALPARTNEROPS',
  secretAccessKey: 'local-secret-access-key',
  principalArn: 'arn:aws:iam::000000000000:user/partnerops-local',
  keyReaderAccessKeyId: 'AKIDLOCALKEYREADER',
  keyReaderSecretAccessKey: 'local-key-reader-secret',
  keyReaderPrincipalArn: 'arn:aws:iam::000000000000:user/partnerops-local-key-reader',
  region: 'us-east-1',
  service: 'execute-api',
} as const

export interface AppOptions {
  host?: string
  /** Port of the local API; 0 = ephemeral. */
  port?: number
  /** Where dynalite and the event log persist; null = in memory (tests). */
  dataDir?: string | null
  /** Hold the local stream's records until settle() (benchmarks: the applier runs elsewhere in AWS). */
  holdStream?: boolean
  /** Use this DynamoDB (another process, moto) instead of starting dynalite in-process. */
  dynamoEndpoint?: string
  /** Reconciliation interval; null = no timer and no poll at start. */
  pollIntervalSeconds?: number | null
  /** Run the health job on its schedule (HEALTH_INTERVAL_MINUTES), one sweep at start; default off. */
  healthTimer?: boolean
  /** The health job's clock (tests move it between sweeps; the job paces itself by it). */
  healthClock?: Clock
  /** Settings (shared/env.ts) over the local ones, e.g. WEBHOOK_TOKEN, CANCELLATION_BUDGET_PER_HOUR. */
  env?: SettingValues
  /** Simulator options, or false to use `env.PARTNER_API_BASE_URL` (a real or other Partner API). */
  simulator?: SimulatorOptions | false
  /** Accepted SigV4 credential pair. */
  credentials?: { accessKeyId: string; secretAccessKey: string }
  /** The second pair, which may also read channel API keys (the key-reader policy in AWS). */
  keyReaderCredentials?: { accessKeyId: string; secretAccessKey: string }
  /** The sink behind the publisher instead of events.jsonl (tests: a sink that fails for a while). */
  sink?: EventSink
  /** Retry policy of the local change stream (defaults: PUBLISHER_RETRIES below). */
  changeRetries?: { retryAttempts: number; retryDelayMs: number; maxRetryDelayMs: number }
  /** Called with every change event and every request line (npm start prints them). */
  onChange?: (event: ChangeEvent) => void
  onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void
}

export interface App {
  url: string
  simulator: Simulator | null
  deps: AppDeps
  credentials: { accessKeyId: string; secretAccessKey: string; region: string; service: string }
  /** The key-reader pair (reads channel API keys too). */
  keyReaderCredentials: { accessKeyId: string; secretAccessKey: string; region: string; service: string }
  /** Runs the poller once, as the schedule would (rejects when the run fails). */
  poll(): Promise<unknown>
  /** Runs the health job once, as its schedule would (rejects when the sweep fails). */
  checkHealth(): Promise<HealthSweepSummary>
  /** Resolves when the stream stand-in has applied every event stored so far (nothing queued or in flight). */
  settle(): Promise<void>
  /** The local change stream: failure queue depth, redrive, invocation count. */
  changes: ChangeStream
  close(): Promise<void>
}

/**
 * Starts the whole product in one process: embedded DynamoDB, the Partner API simulator, the local
 * API (same handlers and adapters as Lambda) and the poll timer. Used by `npm start` and the tests.
 */
export async function startApp(opts: AppOptions = {}): Promise<App> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN'
  const host = opts.host ?? '127.0.0.1'
  const dataDir = opts.dataDir ?? null
  const credentials = opts.credentials ?? {
    accessKeyId: LOCAL_DEFAULTS.accessKeyId,
    secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
  }
  const keyReader = opts.keyReaderCredentials ?? {
    accessKeyId: LOCAL_DEFAULTS.keyReaderAccessKeyId,
    secretAccessKey: LOCAL_DEFAULTS.keyReaderSecretAccessKey,
  }
  const cleanups: (() => Promise<void>)[] = []
  const closeAll = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined)
  }

  try {
    const dynamo = opts.dynamoEndpoint
      ? { endpoint: opts.dynamoEndpoint }
      : await startDynalite(dataDir === null ? {} : { path: join(dataDir, 'dynamodb') })
    if ('close' in dynamo) cleanups.push(() => dynamo.close())

    const handlers: Partial<Record<HttpFunctionKey, HttpHandler | StreamingHandler>> = {}
    const server = await startLocalServer({
      host,
      port: opts.port ?? 0,
      handlers,
      credentials: [
        { ...credentials, principalArn: LOCAL_DEFAULTS.principalArn },
        { ...keyReader, principalArn: LOCAL_DEFAULTS.keyReaderPrincipalArn, keyReader: true },
      ],
      region: LOCAL_DEFAULTS.region,
      service: LOCAL_DEFAULTS.service,
      now: () => new Date(),
      ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
    })
    cleanups.push(() => server.close())

    const overrides = opts.env ?? {}
    const webhookToken = overrides.WEBHOOK_TOKEN
    let simulator: Simulator | null = null
    if (opts.simulator !== false) {
      simulator = await startSimulator({
        partnerId: overrides.PARTNER_ID ?? LOCAL_DEFAULTS.partnerId,
        apiKeys: [overrides.PARTNER_API_KEY ?? LOCAL_DEFAULTS.partnerApiKey],
        platformSecret: overrides.PLATFORM_SECRET ?? LOCAL_DEFAULTS.platformSecret,
        webhookUrl: `${server.url}${WEBHOOK_PATH}`,
        redirectUrl: `${server.url}${CALLBACK_PATH}`,
        ...(webhookToken ? { webhookHeaders: { 'x-webhook-token': webhookToken } } : {}),
        ...(opts.simulator ?? {}),
      })
      const sim = simulator
      cleanups.push(() => sim.close())
    }

    // The local values of SETTINGS, then (per function, as the stack gives them) the function's own
    // settings, then the caller's; what makes it local always wins.
    const configWith = (own: SettingValues): Config =>
      loadConfig({
        ...localSettings(),
        ...(simulator
          ? {
              PARTNER_API_BASE_URL: simulator.baseUrl,
              HUB_BASE_URL: simulator.url,
              MESSAGING_API_BASE_URL: `${simulator.url}/messaging`,
            }
          : {}),
        ONBOARDING_CALLBACK_URL: `${server.url}${CALLBACK_PATH}`,
        WEBHOOK_URL: `${server.url}${WEBHOOK_PATH}`,
        ...own,
        ...overrides,
        SECRETS_SOURCE: 'env',
        DYNAMODB_ENDPOINT: dynamo.endpoint,
        EVENT_SINK: dataDir === null ? 'none' : 'file',
        EVENTS_FILE: dataDir === null ? 'events.jsonl' : join(dataDir, 'events.jsonl'),
      })
    const config = configWith({})
    const dynamoClient = createLocalDynamoClient(dynamo.endpoint)
    const tables = tableNamesFromConfig(config)
    cleanups.push(async () => dynamoClient.destroy())
    await ensureTables(dynamoClient, tables)
    const store = createDynamoStore({ client: dynamoClient, tables, cursorSecret: config.CURSOR_SECRET })
    const baseSink =
      opts.sink ??
      (dataDir === null ? createMemoryEventSink() : createFileEventSink({ path: config.EVENTS_FILE }))
    const events: AppDeps['events'] = {
      async publish(batch) {
        const outcome = await baseSink.publish(batch)
        for (const e of batch.slice(0, outcome.published)) opts.onChange?.(e)
        return outcome
      },
    }
    // Channel API keys: the same table and store as in AWS, a local AES key instead of KMS.
    const keyCipher = createLocalCipher(config.CHANNEL_KEY_LOCAL_SECRET)
    // Unguarded deps, for tests and tools to inspect state; the functions get their own below.
    const channelKeys = createDynamoChannelKeyStore({
      doc: DynamoDBDocumentClient.from(dynamoClient, { marshallOptions: { removeUndefinedValues: true } }),
      tableName: tables.channelKeys,
      cipher: keyCipher,
    })
    const deps = createAppDeps(config, 'partnerops-local', { store, events, channelKeys })
    const report = (message: string): void => {
      process.stderr.write(`${message}\n`)
    }
    const secrets = createSecretSource(config)
    // Each function gets its own configuration (with its settings from FUNCTIONS), DynamoDB client
    // and secret source, held to its grants in FUNCTIONS, so a grant the stack lacks fails here too,
    // not only in AWS.
    let stream: StreamQueue | null = null
    let changeStream: ChangeStream | null = null
    // Every write to the state tables, whichever client makes it, is a record of their streams.
    const changeTables = Object.fromEntries(CHANGE_TABLES.map((t) => [t, tables[t]])) as Record<
      ChangeTable,
      string
    >
    const reader = DynamoDBDocumentClient.from(dynamoClient)
    const captureState = (client: typeof dynamoClient): void =>
      captureChanges(client, changeTables, STATE_KEYS, reader, (c) => changeStream?.push(c))
    captureState(dynamoClient)
    const failureQueue = { depth: async () => changeStream?.failureDepth() ?? 0 }
    const depsFor = (fn: FunctionKey, clock?: Clock): AppDeps => {
      const client = guardDynamoClient(createLocalDynamoClient(dynamo.endpoint), fn, tables, report)
      captureInserts(client, tables.events, KEYS.events.pk, (item) => stream?.push(item))
      captureState(client)
      cleanups.push(async () => client.destroy())
      const own = configWith(FUNCTIONS[fn].settings)
      // As in Lambda, a function has only the adapters FUNCTIONS lists for it (any other throws on use).
      return wireFunction(fn, own, ADAPTER_BUILDERS, {
        store: createDynamoStore({ client, tables, cursorSecret: own.CURSOR_SECRET }),
        secrets: guardSecrets(secrets, fn, report),
        events: guardEvents(events, fn, report),
        failureQueue,
        channelKeys: createDynamoChannelKeyStore({
          doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
          tableName: tables.channelKeys,
          // As deployed: the health job keeps what it decrypted (shared/wiring/channel-keys.ts).
          cipher:
            fn === 'health'
              ? createCachingCipher(guardCipher(keyCipher, fn, report), HEALTH_KEY_CACHE)
              : guardCipher(keyCipher, fn, report),
        }),
        ...(clock ? { clock } : {}),
      })
    }

    const changes = await startChangeStream(depsFor('eventPublisher'), {
      held: opts.holdStream ?? false,
      ...(opts.changeRetries ?? PUBLISHER_RETRIES),
    })
    changeStream = changes
    cleanups.push(() => changes.close())
    const applierStream = await startEventsStream(depsFor('webhookApplier'), opts.holdStream ?? false)
    stream = applierStream
    for (const fn of FUNCTION_KEYS) {
      if (isHttp(fn)) handlers[fn] = await LOCAL_BUILDERS[fn](depsFor(fn))
    }
    cleanups.push(() => applierStream.close())
    const poller = await LOCAL_BUILDERS.poller(depsFor('poller'))
    let running: Promise<unknown> | null = null
    const poll = async (): Promise<unknown> =>
      poller(
        { source: 'local.timer', 'detail-type': 'Scheduled Event', time: new Date().toISOString() },
        localLambdaContext('poller'),
      )
    if (opts.pollIntervalSeconds) {
      const tick = (): void => {
        if (running) return
        running = poll()
          .catch((err: unknown) => deps.logger.error('scheduled reconciliation failed', { error: err }))
          .finally(() => {
            running = null
          })
      }
      tick()
      const timer = setInterval(tick, opts.pollIntervalSeconds * 1000)
      timer.unref()
      cleanups.push(async () => {
        clearInterval(timer)
        await running
      })
    }

    const health = await LOCAL_BUILDERS.health(depsFor('health', opts.healthClock))
    let sweeping: Promise<unknown> | null = null
    const checkHealth = async (): Promise<HealthSweepSummary> =>
      (await health(
        { source: 'local.timer', 'detail-type': 'Scheduled Event', time: new Date().toISOString() },
        localLambdaContext('health'),
      )) as HealthSweepSummary
    if (opts.healthTimer) {
      const tick = (): void => {
        if (sweeping) return
        sweeping = checkHealth()
          .catch((err: unknown) => deps.logger.error('scheduled health sweep failed', { error: err }))
          .finally(() => {
            sweeping = null
          })
      }
      tick()
      const timer = setInterval(tick, config.HEALTH_INTERVAL_MINUTES * 60_000)
      timer.unref()
      cleanups.push(async () => {
        clearInterval(timer)
        // A sweep spreads its checks over minutes: stopping does not wait for it (nothing is lost).
      })
    }

    return {
      url: server.url,
      simulator,
      deps,
      checkHealth,
      credentials: { ...credentials, region: LOCAL_DEFAULTS.region, service: LOCAL_DEFAULTS.service },
      keyReaderCredentials: { ...keyReader, region: LOCAL_DEFAULTS.region, service: LOCAL_DEFAULTS.service },
      poll,
      settle: async () => {
        // Applying webhook events writes state, which the change stream then publishes.
        await applierStream.settle()
        await changes.settle()
      },
      changes,
      close: closeAll,
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}

/** Key attribute of each state table whose writes are change records. */
const STATE_KEYS: Record<ChangeTable, string> = {
  clients: KEYS.clients.pk,
  channels: KEYS.channels.pk,
  cancellations: KEYS.cancellations.pk,
}

/**
 * The local change stream's retry policy: a failing batch is retried with a delay doubling from
 * 200 ms to 10 s, 12 times (about a minute and a half) before it waits in the local failure queue.
 * (In AWS: FUNCTIONS.eventPublisher.trigger, 500 retries or 3 hours.)
 */
const PUBLISHER_RETRIES = { retryAttempts: 12, retryDelayMs: 200, maxRetryDelayMs: 10_000 }

/**
 * Stands in for the clients, channels and cancellations tables' streams (dynalite has none): every
 * write to them (captureChanges on each function's client) is handed, in order, to the same publisher
 * Lambda runs, in batches of its trigger's size, which writes events.jsonl.
 */
async function startChangeStream(
  deps: AppDeps,
  opts: { held: boolean; retryAttempts: number; retryDelayMs: number; maxRetryDelayMs: number },
): Promise<ChangeStream> {
  return createChangeStream({
    handler: await LOCAL_BUILDERS.eventPublisher(deps),
    batchSize: FUNCTIONS.eventPublisher.trigger.batchSize,
    ...opts,
    onGiveUp: (records) =>
      deps.logger.error('change records moved to the local failure queue (redrive: app.changes.redrive())', {
        records,
      }),
  })
}

/**
 * Applier invocations at once: like a table whose stream has a few shards. Concurrent applies are
 * safe: every state write is a compare-and-set on what was read.
 */
const STREAM_CONCURRENCY = 4

const isHttp = (fn: FunctionKey): fn is HttpFunctionKey => FUNCTIONS[fn].trigger.kind === 'http'

/**
 * Stands in for the events table's DynamoDB stream (dynalite has none): every event stored for the
 * first time (a PutItem that succeeds, seen by captureInserts on the functions' clients) is queued
 * as an INSERT with its new image (NEW_IMAGE, as in the stack) and handed to the same applier Lambda runs, in batches of its stream trigger's size.
 */
async function startEventsStream(deps: AppDeps, held: boolean): Promise<StreamQueue> {
  const applier = await LOCAL_BUILDERS.webhookApplier(deps)
  return createStreamQueue({
    handler: applier,
    keyAttribute: KEYS.events.pk,
    eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${deps.config.TABLE_EVENTS}/stream/local`,
    concurrency: STREAM_CONCURRENCY,
    batchSize: FUNCTIONS.webhookApplier.trigger.batchSize,
    held,
    onFailure: (keys, error) =>
      deps.logger.warn('webhook events left pending for the sweep', {
        count: keys.length,
        error: error instanceof Error ? error.name : null,
      }),
  })
}

import type { TableKey } from './adapters/dynamo/tables'
import type { AdapterName } from './deps'
import type { SettingValues } from './env'
import { type HttpFunctionName, ROUTES, type RouteSpec } from './http/routes'
import type { SecretName } from './ports'

/**
 * One definition of each Lambda function of the product, as plain data: its entry file, service name,
 * sizing, how it is invoked, what it may touch (IAM) and the settings it is given whatever the
 * deployment says. The CDK stack (infra/stacks/stateless-stack.ts) builds the functions, their grants
 * and triggers from it; the local runner (local/app.ts, local/handlers.ts) builds and invokes the same
 * handlers from it; the local IAM guard (local/iam-guard.ts) holds each function to the same grants.
 * The routes each HTTP function serves are in the route table (shared/http/routes.ts, `fn`).
 *
 * Grants are derived from the repository methods each function's services call
 * (shared/adapters/dynamo/DESIGN.md lists the DynamoDB operation behind each method).
 */

/** The Lambda functions of the product. */
export type FunctionKey =
  | 'webhook'
  | 'webhookApplier'
  | 'api'
  | 'export'
  | 'onboarding'
  | 'poller'
  | 'eventPublisher'
  | 'health'
  | 'channelKeys'

/**
 * DynamoDB data-plane actions PartnerOps uses (no batch writes, no transactions, no PartiQL; one batch
 * read: the poller compares a page of upstream items with their stored digests in one BatchGetItem).
 */
export type TableAction =
  | 'GetItem'
  | 'BatchGetItem'
  | 'PutItem'
  | 'UpdateItem'
  | 'DeleteItem'
  | 'Query'
  | 'Scan'

/** Access to one table: actions on the table itself, and Query on named indexes. */
export interface TableGrant {
  actions: readonly TableAction[]
  indexes?: readonly string[]
}

/** What one function may touch. */
export interface FunctionAccess {
  tables: Partial<Record<TableKey, TableGrant>>
  /** Secrets it may read (the webhook token only exists when the webhook auth mode uses one). */
  secrets: readonly SecretName[]
  /** events:PutEvents on the change-event bus (the event publisher alone: services never publish). */
  publishesEvents: boolean
  /**
   * What it may do with the channel-key KMS key: `Encrypt` on the provisioning path (storing a new
   * key), `Decrypt` only where a key is read (the key route). Absent: nothing.
   */
  channelKeyCipher?: readonly ('Encrypt' | 'Decrypt')[]
}

/** How a function is invoked. */
export type Trigger =
  /**
   * API Gateway routes (ROUTES entries whose `fn` is this function). `streaming`: the integration is in
   * STREAM transfer mode (Lambda InvokeWithResponseStream, a `streamifyResponse` handler) with an
   * integration timeout of the function's own timeout, instead of a buffered 29 s one.
   */
  | { kind: 'http'; streaming?: true }
  /** The events table's DynamoDB stream, INSERT records only, with partial batch responses. */
  | {
      kind: 'stream'
      table: TableKey
      batchSize: number
      retryAttempts: number
      maxRecordAgeSeconds: number
      parallelizationFactor: number
    }
  /** EventBridge Scheduler, at the deployment's poll rate (asynchronous: one retry, then a queue). */
  | {
      kind: 'schedule'
      asyncRetryAttempts: number
      /** Which deployment setting gives its rate: the poll rate, or the health job's interval. */
      rate: 'poll' | 'health'
    }
  /**
   * The state tables' streams (NEW_AND_OLD_IMAGES), one event source mapping each: INSERT and MODIFY
   * records, partial batch responses, bisect on error, bounded retries and age, an on-failure queue.
   */
  | {
      kind: 'changeStreams'
      tables: readonly TableKey[]
      batchSize: number
      retryAttempts: number
      maxRecordAgeSeconds: number
      parallelizationFactor: number
    }

/** One function. */
export interface FunctionSpec {
  /** Lambda entry file, relative to the repository root. */
  entry: string
  /** Powertools service name: POWERTOOLS_SERVICE_NAME and the `service` metric dimension. */
  service: string
  description: string
  memoryMb: number
  timeoutSeconds: number
  /** Reserved concurrency; absent = the account's unreserved pool. */
  reservedConcurrency?: number
  trigger: Trigger
  access: FunctionAccess
  /**
   * The adapters (shared/deps.ts) it builds, each on first use; any other is not wired and its bundle
   * does not hold it. Its entry passes exactly these builders to wireFunction (docs/wiring.md).
   */
  adapters: readonly AdapterName[]
  /** Settings (shared/env.ts) this function is given whatever the deployment says. */
  settings: SettingValues
}

/** The poller's timeout: a run stops starting work a minute before it, and its lease outlives it. */
const POLLER_TIMEOUT_SECONDS = 300
/** The health job's timeout: Lambda's longest (a sweep spreads its checks over most of its interval). */
const HEALTH_TIMEOUT_SECONDS = 900
/** Under API Gateway's 29 s integration timeout, the management functions give upstream calls 20 s. */
const HTTP_UPSTREAM_BUDGET: SettingValues = { UPSTREAM_BUDGET_MS: '20000' }

/** The export's timeout: the longest a streamed API Gateway response may last (15 minutes). */
const EXPORT_TIMEOUT_SECONDS = 900

/** Every function of the product. */
export const FUNCTIONS = {
  webhook: {
    entry: 'functions/webhook/index.ts',
    service: 'webhook',
    description: 'PartnerOps: 360dialog webhook receiver (POST /webhooks/360dialog)',
    // 360dialog waits 5 s for the 200 and retries otherwise: working longer than that is wasted.
    memoryMb: 512,
    timeoutSeconds: 5,
    trigger: { kind: 'http' },
    // ingestWebhook: store first and answer; a redelivery of a still-pending event completes it
    // inline (the same applyPendingEvent the applier runs), hence the state grants.
    access: {
      tables: {
        // PutItem to store; a duplicate's UpdateItem returns the stored event (no GetItem).
        events: { actions: ['PutItem', 'UpdateItem'] },
        // UpdateItem: a fact is written without a read (writeFact); GetItem and PutItem for notices.
        clients: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
        // byClient: a client's changed legal name goes to its channels (state/legal-name.ts).
        channels: { actions: ['GetItem', 'PutItem', 'UpdateItem'], indexes: ['byPhone', 'byClient'] },
        cancellations: { actions: ['GetItem', 'PutItem'] },
        ops: { actions: ['UpdateItem'] },
      },
      secrets: ['platformSecret', 'webhookToken'],
      publishesEvents: false,
    },
    adapters: ['secrets'],
    settings: {},
  },
  webhookApplier: {
    entry: 'functions/webhook-applier/index.ts',
    service: 'webhook-applier',
    description: "PartnerOps: applies stored webhook events from the events table's stream",
    // A batch of up to 25 events, one at a time, a few single-item writes each: seconds, not a minute.
    memoryMb: 512,
    timeoutSeconds: 60,
    trigger: {
      kind: 'stream',
      table: 'events',
      batchSize: 25,
      retryAttempts: 5,
      maxRecordAgeSeconds: 3600,
      // One batch per shard at a time keeps stream order per shard. Concurrent applies would be safe
      // (every state write is a compare-and-set), but one is enough for the webhook rates in scope.
      parallelizationFactor: 1,
    },
    // applyPendingEvents: apply each new event from the stream's new image (GetItem only for a
    // key-only record), record its outcome while still pending, add the sharded counters. The stream
    // read rights come from the event source mapping (grantStreamRead), not from here.
    access: {
      tables: {
        events: { actions: ['GetItem', 'UpdateItem'] },
        // UpdateItem: a fact is written without a read (writeFact), keyStatus on its own
        // (setKeyStatus); GetItem and PutItem for notices.
        clients: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
        // byClient: a client's changed legal name goes to its channels (state/legal-name.ts).
        channels: { actions: ['GetItem', 'PutItem', 'UpdateItem'], indexes: ['byPhone', 'byClient'] },
        cancellations: { actions: ['GetItem', 'PutItem'] },
        // PutItem, DeleteItem: the per-channel key lease (shared/services/channel-keys).
        ops: { actions: ['UpdateItem', 'PutItem', 'DeleteItem'] },
        audit: { actions: ['PutItem'] },
        // Permission events: create and store a channel's key, or delete it (never read it).
        channelKeys: { actions: ['PutItem', 'DeleteItem'] },
      },
      secrets: ['partnerApi'],
      publishesEvents: false,
      channelKeyCipher: ['Encrypt'],
    },
    adapters: ['secrets', 'partnerApi', 'channelKeys'],
    settings: {},
  },
  api: {
    entry: 'functions/api/index.ts',
    service: 'api',
    description: 'PartnerOps: management API (reads, cancellation, status)',
    // Under API Gateway's 29 s integration timeout.
    memoryMb: 1024,
    timeoutSeconds: 28,
    trigger: { kind: 'http' },
    // Reads, cancellation (idempotency, budget, the upstream snapshot stored through applyChannel), audit.
    access: {
      tables: {
        clients: { actions: ['GetItem', 'Scan'], indexes: ['byStatus'] },
        // The list filters and the counts of GET /status read the signal indexes (README, Finding channels).
        // UpdateItem: a channel stored by a cancellation takes its client's legal name (state/legal-name.ts).
        channels: {
          actions: ['GetItem', 'PutItem', 'UpdateItem', 'Scan'],
          indexes: ['byClient', 'byLifecycle', 'byPhone', 'byQuality', 'byLimit', 'byHealth'],
        },
        events: { actions: [], indexes: ['pending'] },
        cancellations: { actions: ['GetItem', 'PutItem'] },
        // Query: GET /status sums the sharded webhook counters.
        ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'] },
        audit: { actions: ['PutItem'] },
      },
      secrets: ['partnerApi'],
      publishesEvents: false,
    },
    adapters: ['secrets', 'partnerApi', 'failureQueue'],
    settings: HTTP_UPSTREAM_BUDGET,
  },
  export: {
    entry: 'functions/export/index.ts',
    service: 'export',
    description: 'PartnerOps: CSV export of every channel, streamed (GET /exports/channels.csv)',
    // Memory stays one Scan page whatever the fleet; the size buys CPU (unmarshalling, CSV, gzip).
    memoryMb: 1024,
    // A streamed response may last 15 minutes (API Gateway and Lambda alike). 1,000,000 channels take
    // about a minute of Scan plus Lambda's 2 MB/s beyond the first 6 MB (README, Performance).
    timeoutSeconds: EXPORT_TIMEOUT_SECONDS,
    trigger: { kind: 'http', streaming: true },
    // The base (store, logger, metrics) is all it uses.
    adapters: [],
    // exportChannels: one paginated Scan of the clients table (their legal names, for company_name),
    // then one of the channels table, nothing else.
    access: {
      tables: { clients: { actions: ['Scan'] }, channels: { actions: ['Scan'] } },
      secrets: [],
      publishesEvents: false,
    },
    settings: {},
  },
  onboarding: {
    entry: 'functions/onboarding/index.ts',
    service: 'onboarding',
    description: 'PartnerOps: onboarding links, onboarding callback, client settings',
    memoryMb: 512,
    timeoutSeconds: 28,
    trigger: { kind: 'http' },
    // Onboarding links, the callback (applies one client and its channels from the Partner API, rate
    // budget per source), PATCH /clients (idempotency, guarded write); every outcome audited.
    access: {
      tables: {
        clients: { actions: ['GetItem', 'PutItem'] },
        // byClient: the callback reads the client's stored channels in one query. UpdateItem also
        // for the client's legal name on its channels (state/legal-name.ts).
        channels: { actions: ['GetItem', 'PutItem', 'UpdateItem'], indexes: ['byClient'] },
        cancellations: { actions: ['GetItem', 'PutItem'] },
        ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
        audit: { actions: ['PutItem'] },
        // The callback creates the keys of the channels it names, deletes those of revoked ones.
        channelKeys: { actions: ['PutItem', 'DeleteItem'] },
      },
      secrets: ['partnerApi', 'linkSigningKey'],
      publishesEvents: false,
      channelKeyCipher: ['Encrypt'],
    },
    adapters: ['secrets', 'partnerApi', 'channelKeys'],
    settings: HTTP_UPSTREAM_BUDGET,
  },
  poller: {
    entry: 'functions/poller/index.ts',
    service: 'poller',
    description: 'PartnerOps: scheduled reconciliation with the Partner API',
    memoryMb: 1024,
    timeoutSeconds: POLLER_TIMEOUT_SECONDS,
    // One run at a time: the lease also guards this, the reservation keeps retries from piling up.
    reservedConcurrency: 1,
    trigger: { kind: 'schedule', asyncRetryAttempts: 1, rate: 'poll' },
    // reconcile: digests (Scan), guarded writes, absence marks, lease and summaries, the pending sweep.
    access: {
      tables: {
        // UpdateItem: the sweep applies webhook facts without a read (writeFact).
        clients: { actions: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'Scan'] },
        // byKeyNeeded: the ready channels without a key, which each run provisions. byClient: a
        // client's changed legal name goes to its channels (state/legal-name.ts).
        channels: {
          actions: ['GetItem', 'BatchGetItem', 'PutItem', 'UpdateItem', 'Scan'],
          indexes: ['byPhone', 'byKeyNeeded', 'byClient'],
        },
        // The sweep lists the pending index and completes each event as listed (outcome written
        // only while still pending), without re-reading it.
        events: { actions: ['UpdateItem'], indexes: ['pending'] },
        cancellations: { actions: ['GetItem', 'PutItem'] },
        // Query: a full sweep reads its seen-id chunks back (one partition per sweep and list).
        ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'] },
        audit: { actions: ['PutItem'] },
        channelKeys: { actions: ['PutItem', 'DeleteItem'] },
      },
      secrets: ['partnerApi'],
      publishesEvents: false,
      channelKeyCipher: ['Encrypt'],
    },
    adapters: ['secrets', 'partnerApi', 'channelKeys'],
    settings: {
      POLL_BUDGET_MS: String((POLLER_TIMEOUT_SECONDS - 60) * 1000),
      POLL_LEASE_MS: String((POLLER_TIMEOUT_SECONDS + 60) * 1000),
    },
  },
  eventPublisher: {
    entry: 'functions/event-publisher/index.ts',
    service: 'event-publisher',
    description:
      "PartnerOps: publishes change events derived from the clients, channels and cancellations tables' streams",
    // A batch of up to 100 records is derived in memory and published in PutEvents calls of 10.
    memoryMb: 512,
    timeoutSeconds: 60,
    // Lambda retries a failing batch from the first record the publisher reports, at once and again:
    // 500 attempts ride out throttling and short EventBridge outages; a record still not published
    // after 3 hours (a long outage, or a record the derivation cannot read) goes with the rest of its
    // batch to the ChangeEventFailures queue, leaving 21 of the stream's 24 hours for a redrive
    // (npm run redrive-events). One batch per shard at a time keeps each item's records in order.
    trigger: {
      kind: 'changeStreams',
      tables: ['clients', 'channels', 'cancellations'],
      batchSize: 100,
      retryAttempts: 500,
      maxRecordAgeSeconds: 3 * 3600,
      parallelizationFactor: 1,
    },
    // publishChanges: no table reads at all (the records carry both images); one UpdateItem per
    // published batch on the ops table (the mark GET /status reads). The stream read rights come from
    // the event source mappings.
    access: {
      tables: { ops: { actions: ['UpdateItem'] } },
      secrets: [],
      publishesEvents: true,
    },
    adapters: ['events'],
    settings: {},
  },
  health: {
    entry: 'functions/health/index.ts',
    service: 'health',
    description: 'PartnerOps: scheduled messaging health checks of every live channel that has a key',
    // A sweep spreads its checks over most of the interval (shared/services/health/sweep-health.ts),
    // so it runs for minutes: Lambda's longest timeout, and it stops starting checks 30 s before it.
    memoryMb: 512,
    timeoutSeconds: HEALTH_TIMEOUT_SECONDS,
    // One sweep at a time: the lease also guards this (and the pacing makes a retry harmless).
    reservedConcurrency: 1,
    trigger: { kind: 'schedule', asyncRetryAttempts: 1, rate: 'health' },
    // sweepHealth: live channels through the byLifecycle index, the health attribute (UpdateItem, only
    // while live), the lease and the sweep summaries. It reads keys (GetItem, Decrypt), never writes
    // them: a refused key is marked invalid (GetItem, UpdateItem on channels; audited) and replaced
    // by the poller's key step.
    access: {
      tables: {
        channels: { actions: ['GetItem', 'UpdateItem'], indexes: ['byLifecycle'] },
        ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
        audit: { actions: ['PutItem'] },
        channelKeys: { actions: ['GetItem'] },
      },
      secrets: [],
      publishesEvents: false,
      channelKeyCipher: ['Decrypt'],
    },
    adapters: ['messaging', 'channelKeys'],
    settings: { HEALTH_BUDGET_MS: String((HEALTH_TIMEOUT_SECONDS - 30) * 1000) },
  },
  channelKeys: {
    entry: 'functions/channel-keys/index.ts',
    service: 'channel-keys',
    description: 'PartnerOps: channel API keys (GET /channels/{channelId}/api-key, rotation)',
    memoryMb: 512,
    timeoutSeconds: 28,
    trigger: { kind: 'http' },
    // The only function that decrypts a stored key: its routes are callable only with the key-reader
    // policy. Reads and rotations are audited; a rotation is idempotent (ops) and leased per channel.
    access: {
      tables: {
        channels: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
        ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
        audit: { actions: ['PutItem'] },
        channelKeys: { actions: ['GetItem', 'PutItem', 'DeleteItem'] },
      },
      secrets: ['partnerApi'],
      publishesEvents: false,
      channelKeyCipher: ['Encrypt', 'Decrypt'],
    },
    adapters: ['secrets', 'partnerApi', 'channelKeys'],
    settings: HTTP_UPSTREAM_BUDGET,
  },
} as const satisfies Record<FunctionKey, FunctionSpec>

/** Every function key, in definition order. */
export const FUNCTION_KEYS = Object.keys(FUNCTIONS) as FunctionKey[]

/** The functions invoked by API Gateway: exactly the ones the route table serves. */
export type HttpFunctionKey = {
  [K in FunctionKey]: (typeof FUNCTIONS)[K]['trigger']['kind'] extends 'http' ? K : never
}[FunctionKey]

// The route table and this definition agree on which functions serve HTTP (a compile error otherwise).
const httpAgrees: [HttpFunctionKey, HttpFunctionName] extends [HttpFunctionName, HttpFunctionKey]
  ? true
  : never = true
void httpAgrees

/** The routes one function serves (none unless its trigger is http). */
export function routesOf(fn: FunctionKey): readonly RouteSpec[] {
  return ROUTES.filter((r) => r.fn === fn)
}

/** One value per function, built from its key. */
export function perFunction<T>(build: (fn: FunctionKey) => T): Record<FunctionKey, T> {
  return Object.fromEntries(FUNCTION_KEYS.map((fn) => [fn, build(fn)])) as Record<FunctionKey, T>
}

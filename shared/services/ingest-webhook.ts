import { createHash } from 'node:crypto'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { parseSecretList } from '../adapters/secrets'
import type { AppDeps } from '../deps'
import {
  DependencyUnavailableError,
  PartnerOpsError,
  UnauthorizedError,
  ValidationError,
} from '../domain/errors'
import type { WebhookEventRecord, WebhookEventStatus } from '../domain/types'
import { type WebhookEnvelope, webhookEnvelopeSchema } from '../domain/upstream'
import { checkWebhookAuth, type RawHeaders, rawBody, type WebhookAuthConfig } from '../http/webhook-auth'
import {
  applyWebhookEvent,
  parseStoredEnvelope,
  type WebhookApplyResult,
  type WebhookOutcome,
} from './apply-webhook-event'

/** EMF metric names of webhook ingestion (RejectedEvents is the alarmed one). */
export const WEBHOOK_METRICS = {
  accepted: 'WebhookAccepted',
  duplicate: 'WebhookDuplicate',
  unauthorized: 'WebhookUnauthorized',
  rejected: 'RejectedEvents',
  unmatched: 'WebhookUnmatchedNotices',
  unknown: 'WebhookUnknownType',
  stale: 'WebhookStale',
  applied: 'WebhookApplied',
  applyFailed: 'WebhookApplyFailed',
  storeFailed: 'WebhookStoreFailed',
} as const

/** Name of the ops counter record holding webhook counts (served by GET /status). */
export const WEBHOOK_COUNTERS = 'webhooks'

/**
 * A duplicate delivery of a still-pending event re-applies it only when the first delivery is at
 * least this old: younger, the first delivery is most likely still applying it (the sender's own
 * timeout is 5 s).
 */
export const HEAL_DUPLICATE_AFTER_MS = 3_000

/** Longest event id used as the dedupe key verbatim (longer ids are hashed). */
const MAX_ID_KEY = 200
/** Sweeps secret refreshes after failed signatures, so bad requests cannot hammer Secrets Manager. */
const SECRET_REFRESH_INTERVAL_MS = 30_000

/** One webhook request as the handler hands it over: raw body and headers, untouched. */
export interface WebhookRequest extends RawHeaders {
  body: string | null
  isBase64Encoded: boolean
}

/** The answer to an accepted webhook (contract §3). */
export interface IngestResult {
  eventKey: string
  duplicate: boolean
  /** The stored event's status after this request ('pending' when applying was deferred). */
  status: WebhookEventStatus
}

/** What ingestion needs. */
export type IngestDeps = Pick<
  AppDeps,
  'config' | 'store' | 'secrets' | 'events' | 'clock' | 'logger' | 'metrics'
>

const lastRefresh = new WeakMap<object, number>()

const errorName = (err: unknown): string => (err instanceof Error ? err.name : 'unknown')

/** The dedupe key: the event's `id` when present, else the SHA-256 of the raw body. */
export function dedupeKey(envelope: Pick<WebhookEnvelope, 'id'>, body: Uint8Array): string {
  const id = envelope.id
  if (id !== null && id !== undefined && String(id) !== '') {
    const text = String(id)
    return text.length <= MAX_ID_KEY
      ? `id:${text}`
      : `idsha256:${createHash('sha256').update(text).digest('hex')}`
  }
  return `sha256:${createHash('sha256').update(body).digest('hex')}`
}

async function authConfig(deps: IngestDeps, forceRefresh: boolean): Promise<WebhookAuthConfig> {
  let platform: string | null
  let token: string | null
  try {
    ;[platform, token] = await Promise.all([
      deps.config.WEBHOOK_SIGNATURE === 'off'
        ? Promise.resolve(null)
        : deps.secrets.get('platformSecret', { forceRefresh }),
      deps.secrets.get('webhookToken', { forceRefresh }),
    ])
  } catch (err: unknown) {
    if (err instanceof DependencyUnavailableError) throw err
    throw new DependencyUnavailableError('webhook secrets could not be read', { cause: err })
  }
  const secrets = platform === null ? [] : parseSecretList(platform)
  const signature = deps.config.WEBHOOK_SIGNATURE
  // Never accept unauthenticated input because a secret is missing: refuse with 503 so the sender retries.
  if ((signature === 'required' && secrets.length === 0) || (signature === 'off' && token === null)) {
    throw new DependencyUnavailableError('webhook authentication is not configured')
  }
  return { signature, secrets, token }
}

/** Counter deltas waiting for the next write, and the write in flight, per store. */
interface CounterBatch {
  pending: Record<string, number> | null
  waiters: (() => void)[]
  flushing: boolean
}
const counterBatches = new WeakMap<object, CounterBatch>()

/**
 * Adds one request's counts and resolves once a write holding them has finished (group commit):
 * one ADD per request when requests arrive one at a time (Lambda), one ADD for many concurrent
 * requests in one process (the local server). Counter failures never fail the request.
 */
async function countRequest(deps: IngestDeps, deltas: Record<string, number>): Promise<void> {
  let batch = counterBatches.get(deps.store)
  if (!batch) {
    batch = { pending: null, waiters: [], flushing: false }
    counterBatches.set(deps.store, batch)
  }
  const b = batch
  b.pending ??= {}
  for (const [k, v] of Object.entries(deltas)) b.pending[k] = (b.pending[k] ?? 0) + v
  const done = new Promise<void>((resolve) => b.waiters.push(resolve))
  if (!b.flushing) void flushCounters(deps, b)
  await done
}

async function flushCounters(deps: IngestDeps, b: CounterBatch): Promise<void> {
  b.flushing = true
  // Bounded by the requests in flight: each round takes everything queued so far.
  while (b.pending !== null) {
    const deltas = b.pending
    const waiters = b.waiters
    b.pending = null
    b.waiters = []
    try {
      await deps.store.ops.incrementCounters(WEBHOOK_COUNTERS, deltas)
    } catch (err: unknown) {
      deps.logger.warn('webhook counters not updated', { error: errorName(err) })
    }
    for (const w of waiters) w()
  }
  b.flushing = false
}

async function authenticate(deps: IngestDeps, body: Buffer, request: WebhookRequest): Promise<void> {
  let failure = checkWebhookAuth(body, request, await authConfig(deps, false))
  if (failure === 'bad_signature' || failure === 'bad_token') {
    // A rotation may have added a secret since it was cached: look once more, at most every 30 s.
    const now = deps.clock.now().getTime()
    const last = lastRefresh.get(deps.secrets) ?? Number.NEGATIVE_INFINITY
    if (now - last >= SECRET_REFRESH_INTERVAL_MS) {
      lastRefresh.set(deps.secrets, now)
      failure = checkWebhookAuth(body, request, await authConfig(deps, true))
    }
  }
  if (failure === null) return
  deps.logger.warn('webhook refused', { reason: failure })
  deps.metrics.addMetric(WEBHOOK_METRICS.unauthorized, MetricUnit.Count, 1)
  await countRequest(deps, { unauthorized: 1 })
  throw new UnauthorizedError('Missing or invalid webhook signature or token', {
    code: 'invalid_signature',
  })
}

function parseEnvelope(body: Buffer): WebhookEnvelope {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new ValidationError('Body is not JSON', { code: 'invalid_json' })
  }
  const parsed = webhookEnvelopeSchema.safeParse(value)
  if (!parsed.success) {
    throw new ValidationError('Body must be a JSON object with "event" (string) and "data" (object)', {
      code: 'invalid_envelope',
    })
  }
  return parsed.data
}

const OUTCOME_COUNTER: Record<WebhookOutcome, string> = {
  applied: 'applied',
  stale: 'stale',
  rejected: 'rejected',
  unknown_type: 'unknown',
}

/** Applies a stored event and records the outcome; null when storage failed (the event stays pending). */
async function applyAndMark(
  deps: IngestDeps,
  envelope: WebhookEnvelope,
  record: Pick<WebhookEventRecord, 'eventKey' | 'receivedAt'>,
  counts: Record<string, number>,
): Promise<WebhookApplyResult | null> {
  try {
    const outcome = await applyWebhookEvent(deps, envelope, { receivedAt: record.receivedAt })
    await deps.store.events.markOutcome(
      record.eventKey,
      outcome.status,
      outcome.reason,
      deps.clock.now().toISOString(),
    )
    const counter = OUTCOME_COUNTER[outcome.status]
    counts[counter] = (counts[counter] ?? 0) + 1
    if (outcome.status === 'rejected') {
      deps.metrics.addMetric(
        outcome.unmatched ? WEBHOOK_METRICS.unmatched : WEBHOOK_METRICS.rejected,
        MetricUnit.Count,
        1,
      )
    } else if (outcome.status === 'unknown_type') {
      deps.metrics.addMetric(WEBHOOK_METRICS.unknown, MetricUnit.Count, 1)
    } else if (outcome.status === 'stale') {
      deps.metrics.addMetric(WEBHOOK_METRICS.stale, MetricUnit.Count, 1)
    } else {
      deps.metrics.addMetric(WEBHOOK_METRICS.applied, MetricUnit.Count, 1)
    }
    return outcome
  } catch (err: unknown) {
    // The event is stored and pending: the sweep (or the next delivery) completes it.
    deps.logger.warn('webhook apply deferred', {
      eventKey: record.eventKey,
      eventType: envelope.event,
      error: errorName(err),
    })
    deps.metrics.addMetric(WEBHOOK_METRICS.applyFailed, MetricUnit.Count, 1)
    counts['deferred'] = (counts['deferred'] ?? 0) + 1
    return null
  }
}

/**
 * Ingests one webhook delivery (contract §3): size limit and authentication on the raw bytes, then
 * envelope validation, then a durable conditional store keyed by the dedupe key, and only then the
 * apply to state. Throws PayloadTooLargeError (413), UnauthorizedError (401), ValidationError (400)
 * or DependencyUnavailableError (503, nothing stored or acknowledged). Once stored, it answers even
 * when applying fails: the event stays pending for the sweep.
 */
export async function ingestWebhook(deps: IngestDeps, request: WebhookRequest): Promise<IngestResult> {
  const body = rawBody(request.body, request.isBase64Encoded)
  await authenticate(deps, body, request)
  const envelope = parseEnvelope(body)
  const eventKey = dedupeKey(envelope, body)
  const now = deps.clock.now()
  const record: WebhookEventRecord = {
    eventKey,
    eventType: envelope.event,
    body: body.toString('utf8'),
    receivedAt: now.toISOString(),
    status: 'pending',
    reason: null,
    appliedAt: null,
    expiresAt: Math.floor(now.getTime() / 1000) + deps.config.WEBHOOK_RETENTION_DAYS * 86_400,
    deliveries: 1,
  }
  let stored: 'created' | 'duplicate'
  try {
    stored = await deps.store.events.putNew(record)
  } catch (err: unknown) {
    deps.logger.error('webhook not stored', { eventKey, eventType: envelope.event, error: errorName(err) })
    deps.metrics.addMetric(WEBHOOK_METRICS.storeFailed, MetricUnit.Count, 1)
    throw err instanceof PartnerOpsError && err.status === 503
      ? err
      : new DependencyUnavailableError('webhook event could not be stored', { cause: err })
  }
  const counts: Record<string, number> = { received: 1 }
  let status: WebhookEventStatus = 'pending'
  if (stored === 'created') {
    deps.metrics.addMetric(WEBHOOK_METRICS.accepted, MetricUnit.Count, 1)
    status = (await applyAndMark(deps, envelope, record, counts))?.status ?? 'pending'
  } else {
    counts['duplicates'] = 1
    deps.metrics.addMetric(WEBHOOK_METRICS.duplicate, MetricUnit.Count, 1)
    status = await healDuplicate(deps, envelope, eventKey, now, counts)
  }
  deps.logger.info('webhook accepted', {
    eventKey,
    eventType: envelope.event,
    duplicate: stored === 'duplicate',
    outcome: status,
  })
  await countRequest(deps, counts)
  return { eventKey, duplicate: stored === 'duplicate', status }
}

/** A redelivered event that is still pending (its first delivery crashed) is applied now. */
async function healDuplicate(
  deps: IngestDeps,
  envelope: WebhookEnvelope,
  eventKey: string,
  now: Date,
  counts: Record<string, number>,
): Promise<WebhookEventStatus> {
  let existing: WebhookEventRecord | null
  try {
    existing = await deps.store.events.get(eventKey)
  } catch (err: unknown) {
    deps.logger.warn('webhook duplicate not checked', { eventKey, error: errorName(err) })
    return 'pending'
  }
  if (!existing) return 'pending'
  if (existing.status !== 'pending') return existing.status
  if (now.getTime() - Date.parse(existing.receivedAt) < HEAL_DUPLICATE_AFTER_MS) return 'pending'
  deps.logger.info('webhook healing pending event', { eventKey, eventType: envelope.event })
  // Apply what was stored first: a sender reusing an id with another body does not change the event.
  const stored = parseStoredEnvelope(existing)
  const target = stored.ok ? stored.envelope : envelope
  return (await applyAndMark(deps, target, existing, counts))?.status ?? 'pending'
}

import { createHash } from 'node:crypto'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import type { AppDeps } from '../../deps'
import { DependencyUnavailableError, errorName } from '../../domain/errors'
import type { WebhookEventRecord, WebhookEventStatus } from '../../domain/types'
import type { WebhookEnvelope } from '../../domain/upstream'
import type { PutNewResult } from '../../ports'
import { applyPendingEvent, countCompleted, WEBHOOK_COUNTERS, WEBHOOK_METRICS } from './apply-pending-event'

export { WEBHOOK_COUNTERS, WEBHOOK_METRICS } from './apply-pending-event'

/**
 * A duplicate delivery of a still-pending event applies it only when the first delivery is at least
 * this old: younger, the stream applier is most likely still applying it (the sender's own timeout
 * is 5 s).
 */
export const HEAL_DUPLICATE_AFTER_MS = 3_000

/** Longest event id used as the dedupe key verbatim (longer ids are hashed). */
const MAX_ID_KEY = 200

/** One authenticated webhook delivery as the edge hands it over: the raw bytes and their envelope. */
export interface WebhookDelivery {
  body: Buffer
  envelope: WebhookEnvelope
}

/** The answer to an accepted webhook (docs/openapi.yaml). */
export interface IngestResult {
  eventKey: string
  duplicate: boolean
  /** The stored event's status after this request ('pending' for a new event: the applier completes it). */
  status: WebhookEventStatus
}

/** What ingestion needs. */
export type IngestDeps = Pick<AppDeps, 'config' | 'store' | 'secrets' | 'clock' | 'logger' | 'metrics'>

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
export async function countWebhookRequest(
  deps: Pick<IngestDeps, 'store' | 'logger'>,
  deltas: Record<string, number>,
): Promise<void> {
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

async function flushCounters(deps: Pick<IngestDeps, 'store' | 'logger'>, b: CounterBatch): Promise<void> {
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

/**
 * Ingests one webhook delivery (docs/openapi.yaml) that the edge has size-checked, authenticated on its
 * raw bytes and parsed: one durable conditional store keyed by the dedupe key, and the answer. A new
 * event is stored `pending` and applied afterwards by the stream applier (functions/webhook-applier);
 * a redelivery of an event still pending after HEAL_DUPLICATE_AFTER_MS completes it inline. Throws
 * DependencyUnavailableError (nothing stored or acknowledged).
 */
export async function ingestWebhook(deps: IngestDeps, delivery: WebhookDelivery): Promise<IngestResult> {
  const { body, envelope } = delivery
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
  let stored: PutNewResult
  try {
    stored = await deps.store.events.putNew(record)
  } catch (err: unknown) {
    deps.logger.error('webhook not stored', { eventKey, eventType: envelope.event, error: errorName(err) })
    deps.metrics.addMetric(WEBHOOK_METRICS.storeFailed, MetricUnit.Count, 1)
    throw err instanceof DependencyUnavailableError
      ? err
      : new DependencyUnavailableError('webhook event could not be stored', { cause: err })
  }
  const duplicate = stored.outcome === 'duplicate'
  let status: WebhookEventStatus = 'pending'
  if (stored.outcome === 'created') {
    // No counter write here: a new event is counted `received` once, by whoever completes it (the
    // applier's one counter write per batch), which keeps the request path at one DynamoDB request.
    deps.metrics.addMetric(WEBHOOK_METRICS.accepted, MetricUnit.Count, 1)
  } else {
    const counts: Record<string, number> = { received: 1, duplicates: 1 }
    deps.metrics.addMetric(WEBHOOK_METRICS.duplicate, MetricUnit.Count, 1)
    status = await healDuplicate(deps, stored.existing, now, counts)
    await countWebhookRequest(deps, counts)
  }
  deps.logger.info('webhook accepted', { eventKey, eventType: envelope.event, duplicate, outcome: status })
  return { eventKey, duplicate, status }
}

/**
 * A redelivered event still pending well after its first delivery (the applier failed or lagged, or
 * the process crashed) is completed now, from what was stored first (as the duplicate's own write
 * returned it): a sender reusing an id with another body does not change the event.
 */
async function healDuplicate(
  deps: IngestDeps,
  existing: WebhookEventRecord,
  now: Date,
  counts: Record<string, number>,
): Promise<WebhookEventStatus> {
  if (existing.status !== 'pending') return existing.status
  if (now.getTime() - Date.parse(existing.receivedAt) < HEAL_DUPLICATE_AFTER_MS) return 'pending'
  try {
    const outcome = await applyPendingEvent(deps, existing, 'redelivery')
    // Not recorded: the applier or the sweep completed it meanwhile, and counted it.
    if (outcome.recorded) countCompleted(counts, outcome.status)
    return outcome.status
  } catch {
    // Logged and counted by applyPendingEvent; the event stays pending for the next try.
    counts['deferred'] = (counts['deferred'] ?? 0) + 1
    return 'pending'
  }
}

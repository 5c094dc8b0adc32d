import { MetricUnit } from '@aws-lambda-powertools/metrics'
import type { AppDeps } from '../../deps'
import { errorName } from '../../domain/errors'
import type { WebhookEventRecord } from '../../domain/types'
import type { ApplyDeps } from '../state/apply-upstream'
import { applyStoredEvent, type WebhookApplyResult, type WebhookOutcome } from './apply-webhook-event'

/** EMF metric names of webhook ingestion and application (RejectedEvents is the alarmed one). */
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

/** The counter each outcome adds to in the `webhooks` counter record. */
export const OUTCOME_COUNTER: Record<WebhookOutcome, string> = {
  applied: 'applied',
  stale: 'stale',
  rejected: 'rejected',
  unknown_type: 'unknown',
}

/** Who completes a pending event: the stream applier, a redelivery of the event, or the sweep. */
export type ApplyVia = 'stream' | 'redelivery' | 'sweep'

/** What completing a stored event needs; metrics are optional (the reconciliation run has none). */
export type ApplyPendingDeps = Pick<AppDeps, 'store' | 'clock' | 'logger'> &
  Partial<Pick<AppDeps, 'metrics'>> &
  Pick<ApplyDeps, 'onKeyPermission'>

/** What happened to one event key handed to applyPendingEvents. */
export type PendingKeyOutcome =
  | { eventKey: string; result: 'completed'; status: WebhookOutcome }
  /** Already completed by someone else (a redelivery, the sweep, an earlier attempt). */
  | { eventKey: string; result: 'not_pending' }
  /** No such record (expired, or the key never existed): nothing to do. */
  | { eventKey: string; result: 'missing' }
  /** Storage failed: the event stays pending and is retried (stream retry, redelivery or sweep). */
  | { eventKey: string; result: 'failed'; error: string }

/** Adds one outcome to a map of counter deltas. */
export function countOutcome(counts: Record<string, number>, status: WebhookOutcome): void {
  const name = OUTCOME_COUNTER[status]
  counts[name] = (counts[name] ?? 0) + 1
}

function outcomeMetric(deps: ApplyPendingDeps, outcome: WebhookApplyResult): void {
  if (!deps.metrics) return
  const name =
    outcome.status === 'rejected'
      ? outcome.unmatched
        ? WEBHOOK_METRICS.unmatched
        : WEBHOOK_METRICS.rejected
      : outcome.status === 'unknown_type'
        ? WEBHOOK_METRICS.unknown
        : outcome.status === 'stale'
          ? WEBHOOK_METRICS.stale
          : WEBHOOK_METRICS.applied
  deps.metrics.addMetric(name, MetricUnit.Count, 1)
}

/**
 * Completes one stored event that is still pending: applies it to state and records its outcome on
 * the event only while it is still pending (applyStoredEvent), emits the outcome metric and logs key,
 * type and outcome. THE completion step of the stream applier, of a redelivery healing its event and
 * of the sweep. `recorded: false` = someone else completed it first (nothing to count). Throws when
 * storage fails; the event then stays pending.
 */
export async function applyPendingEvent(
  deps: ApplyPendingDeps,
  record: WebhookEventRecord,
  via: ApplyVia,
): Promise<WebhookApplyResult & { recorded: boolean }> {
  try {
    const outcome = await applyStoredEvent(deps, record, { onlyIfPending: true })
    if (outcome.recorded) outcomeMetric(deps, outcome)
    deps.logger.info('webhook event applied', {
      eventKey: record.eventKey,
      eventType: record.eventType,
      outcome: outcome.status,
      recorded: outcome.recorded,
      via,
    })
    return outcome
  } catch (err: unknown) {
    deps.metrics?.addMetric(WEBHOOK_METRICS.applyFailed, MetricUnit.Count, 1)
    deps.logger.warn('webhook event left pending', {
      eventKey: record.eventKey,
      eventType: record.eventType,
      via,
      error: errorName(err),
    })
    throw err
  }
}

/** Adds counter deltas to the `webhooks` counter record; a failure is logged, never thrown. */
export async function addWebhookCounters(
  deps: Pick<AppDeps, 'store' | 'logger'>,
  counts: Record<string, number>,
): Promise<void> {
  if (Object.keys(counts).length === 0) return
  try {
    await deps.store.ops.incrementCounters(WEBHOOK_COUNTERS, counts)
  } catch (err: unknown) {
    deps.logger.warn('webhook counters not updated', { error: errorName(err) })
  }
}

/**
 * One event to complete: its stored record as the caller already holds it (the stream record's new
 * image, a sweep's page), or just its key (read here, consistently).
 */
export type PendingEvent = WebhookEventRecord | string

async function complete(
  deps: ApplyPendingDeps,
  event: PendingEvent,
  via: ApplyVia,
): Promise<PendingKeyOutcome> {
  const eventKey = typeof event === 'string' ? event : event.eventKey
  let record: WebhookEventRecord | null
  if (typeof event === 'string') {
    try {
      record = await deps.store.events.get(eventKey)
    } catch (err: unknown) {
      deps.logger.warn('webhook event not read', { eventKey, via, error: errorName(err) })
      return { eventKey, result: 'failed', error: errorName(err) }
    }
  } else {
    // Not re-read: the body never changes, and whether it is still pending is settled by the
    // conditional outcome write (applying a completed event again changes nothing: writes are guarded).
    record = event
  }
  if (record === null) return { eventKey, result: 'missing' }
  if (record.status !== 'pending') return { eventKey, result: 'not_pending' }
  try {
    const outcome = await applyPendingEvent(deps, record, via)
    return outcome.recorded
      ? { eventKey, result: 'completed', status: outcome.status }
      : { eventKey, result: 'not_pending' }
  } catch (err: unknown) {
    return { eventKey, result: 'failed', error: errorName(err) }
  }
}

/**
 * Completes stored events (the stream applier's batch, the sweep's backlog): skips those that are
 * gone or no longer pending, completes the rest with applyPendingEvent, then adds the outcome counts
 * (and `received`, counted once per event when it is completed) in one counter write. Never throws; a
 * storage failure is that event's `failed` outcome. One event at a time, in the given order: two
 * notices about one channel must not be written concurrently (their optimistic check compares the
 * channel's orderKey, which notices keep).
 */
export async function applyPendingEvents(
  deps: ApplyPendingDeps,
  events: readonly PendingEvent[],
  opts: { via: ApplyVia },
): Promise<PendingKeyOutcome[]> {
  const results: PendingKeyOutcome[] = []
  const seen = new Set<string>()
  for (const event of events) {
    const key = typeof event === 'string' ? event : event.eventKey
    if (seen.has(key)) continue
    seen.add(key)
    results.push(await complete(deps, event, opts.via))
  }
  const counts: Record<string, number> = {}
  for (const r of results) if (r.result === 'completed') countCompleted(counts, r.status)
  await addWebhookCounters(deps, counts)
  return results
}

/**
 * Counts one completed new event: its outcome, and `received` (a new event is counted received
 * when it is completed, by whoever completes it, so the request path writes no counter; a
 * duplicate is counted on the request path).
 */
export function countCompleted(counts: Record<string, number>, status: WebhookOutcome): void {
  countOutcome(counts, status)
  counts['received'] = (counts['received'] ?? 0) + 1
}

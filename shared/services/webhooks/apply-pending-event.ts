import { MetricUnit } from '@aws-lambda-powertools/metrics'
import type { AppDeps } from '../../deps'
import { errorName } from '../../domain/errors'
import type { WebhookEventRecord } from '../../domain/types'
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
export type ApplyPendingDeps = Pick<AppDeps, 'store' | 'clock' | 'logger'> & Partial<Pick<AppDeps, 'metrics'>>

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
 * the event (applyStoredEvent), emits the outcome metric and logs key, type and outcome. THE
 * completion step of the stream applier, of a redelivery healing its event and of the sweep. Throws
 * when storage fails; the event then stays pending.
 */
export async function applyPendingEvent(
  deps: ApplyPendingDeps,
  record: WebhookEventRecord,
  via: ApplyVia,
): Promise<WebhookApplyResult> {
  try {
    const outcome = await applyStoredEvent(deps, record)
    outcomeMetric(deps, outcome)
    deps.logger.info('webhook event applied', {
      eventKey: record.eventKey,
      eventType: record.eventType,
      outcome: outcome.status,
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

async function completeKey(
  deps: ApplyPendingDeps,
  eventKey: string,
  via: ApplyVia,
): Promise<PendingKeyOutcome> {
  let record: WebhookEventRecord | null
  try {
    // Read consistently: the caller's view (a stream record, the pending index) may be out of date.
    record = await deps.store.events.get(eventKey)
  } catch (err: unknown) {
    deps.logger.warn('webhook event not read', { eventKey, via, error: errorName(err) })
    return { eventKey, result: 'failed', error: errorName(err) }
  }
  if (record === null) return { eventKey, result: 'missing' }
  if (record.status !== 'pending') return { eventKey, result: 'not_pending' }
  try {
    const outcome = await applyPendingEvent(deps, record, via)
    return { eventKey, result: 'completed', status: outcome.status }
  } catch (err: unknown) {
    return { eventKey, result: 'failed', error: errorName(err) }
  }
}

/**
 * Completes stored events by key (the stream applier's batch, the sweep's backlog): reads each one,
 * skips those that are gone or no longer pending, completes the rest with applyPendingEvent, then adds
 * the outcome counts in one counter write. Never throws; a storage failure is that key's `failed`
 * outcome. One event at a time, in the given order: two notices about one channel must not be
 * written concurrently (their optimistic check compares the channel's orderKey, which notices keep).
 */
export async function applyPendingEvents(
  deps: ApplyPendingDeps,
  eventKeys: readonly string[],
  opts: { via: ApplyVia },
): Promise<PendingKeyOutcome[]> {
  const results: PendingKeyOutcome[] = []
  for (const key of new Set(eventKeys)) results.push(await completeKey(deps, key, opts.via))
  const counts: Record<string, number> = {}
  for (const r of results) if (r.result === 'completed') countOutcome(counts, r.status)
  await addWebhookCounters(deps, counts)
  return results
}

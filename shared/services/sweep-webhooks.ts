import type { AppDeps } from '../deps'
import { applyStoredEvent, type WebhookOutcome } from './apply-webhook-event'

/** Pending events younger than this are left alone: their own delivery is probably still applying them. */
export const DEFAULT_SWEEP_AGE_MS = 60_000
/** Events taken per sweep (oldest first); the next reconciliation run takes the rest. */
export const DEFAULT_SWEEP_LIMIT = 200

const COUNTER_OF: Record<WebhookOutcome, string> = {
  applied: 'applied',
  stale: 'stale',
  rejected: 'rejected',
  unknown_type: 'unknown',
}

/**
 * Completes webhook events that were stored but never applied (a crash or a storage failure between
 * the two steps): applies each pending event older than `olderThanMs` and records its outcome. Called
 * by the reconciliation run. `swept` = pending events found, `applied` = events whose outcome is now
 * recorded (applied, stale, rejected or unknown_type), `failed` = events left pending (retried next run).
 */
export async function sweepPendingEvents(
  deps: Pick<AppDeps, 'store' | 'events' | 'clock' | 'logger'>,
  opts: { olderThanMs?: number; limit?: number } = {},
): Promise<{ swept: number; applied: number; failed: number }> {
  const now = deps.clock.now()
  const before = new Date(now.getTime() - (opts.olderThanMs ?? DEFAULT_SWEEP_AGE_MS)).toISOString()
  const pending = await deps.store.events.listPending(before, opts.limit ?? DEFAULT_SWEEP_LIMIT)
  const counters: Record<string, number> = {}
  let applied = 0
  let failed = 0
  // One at a time: the backlog is small and events of one channel are better applied in arrival order.
  for (const record of pending) {
    try {
      const outcome = await applyStoredEvent(deps, record)
      applied++
      const name = COUNTER_OF[outcome.status]
      counters[name] = (counters[name] ?? 0) + 1
      deps.logger.info('webhook event swept', {
        eventKey: record.eventKey,
        eventType: record.eventType,
        outcome: outcome.status,
      })
    } catch (err: unknown) {
      failed++
      deps.logger.warn('webhook event sweep failed', {
        eventKey: record.eventKey,
        eventType: record.eventType,
        error: err instanceof Error ? err.name : 'unknown',
      })
    }
  }
  if (Object.keys(counters).length > 0) {
    try {
      await deps.store.ops.incrementCounters('webhooks', counters)
    } catch (err: unknown) {
      deps.logger.warn('webhook counters not updated', { error: err instanceof Error ? err.name : 'unknown' })
    }
  }
  if (pending.length > 0) deps.logger.info('webhook sweep done', { swept: pending.length, applied, failed })
  return { swept: pending.length, applied, failed }
}

import type { AppDeps } from '../../deps'
import { applyPendingEvents } from './apply-pending-event'

/**
 * Pending events younger than this are left alone: the stream applier (or their own redelivery) is
 * probably still applying them.
 */
export const DEFAULT_SWEEP_AGE_MS = 60_000
/** Events taken per sweep (oldest first); the next reconciliation run takes the rest. */
export const DEFAULT_SWEEP_LIMIT = 200

/**
 * Completes webhook events that were stored but never applied (the stream applier gave up on them, or
 * a crash or storage failure came between the two steps): each pending event older than `olderThanMs`
 * goes through applyPendingEvents, the completion step the stream applier uses. Called by the
 * reconciliation run. `swept` = pending events found, `applied` = events no longer pending (their
 * outcome recorded now or meanwhile), `failed` = events left pending (retried next run).
 */
export async function sweepPendingEvents(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'> & Partial<Pick<AppDeps, 'metrics'>>,
  opts: { olderThanMs?: number; limit?: number } = {},
): Promise<{ swept: number; applied: number; failed: number }> {
  const now = deps.clock.now()
  const before = new Date(now.getTime() - (opts.olderThanMs ?? DEFAULT_SWEEP_AGE_MS)).toISOString()
  const pending = await deps.store.events.listPending(before, opts.limit ?? DEFAULT_SWEEP_LIMIT)
  if (pending.length === 0) return { swept: 0, applied: 0, failed: 0 }
  // Oldest first (the index's order): events of one channel are better applied in arrival order. The
  // records as the index returned them: not re-read, since only a pending event's outcome is recorded.
  const results = await applyPendingEvents(deps, pending, { via: 'sweep' })
  const failed = results.filter((r) => r.result === 'failed').length
  const applied = results.length - failed
  deps.logger.info('webhook sweep done', { swept: pending.length, applied, failed })
  return { swept: pending.length, applied, failed }
}

import type { AppDeps } from '../../deps'
import { ValidationError } from '../../domain/errors'
import { normalizeTime } from '../../domain/ordering'
import { applyStoredEvent, type WebhookOutcome } from './apply-webhook-event'

/** Counts of one replay: events read, their outcomes, and events that could not be applied (storage). */
export interface ReplaySummary {
  scanned: number
  outcomes: Record<WebhookOutcome, number>
  failed: number
}

/**
 * Re-applies every stored webhook event received at or after `since` (`npm run replay`), whatever
 * its status, in storage order (a filtered Scan; `limit` takes at most that many, not the oldest).
 * Order does not matter: every state write is guarded by the facts' order keys. Idempotent: guarded writes make re-applying a fact a no-op, and an
 * event already applied is not re-marked stale because state has moved on since. Events that fail
 * (storage) are counted and left as they were.
 */
export async function replayWebhooks(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'>,
  input: { since: string; limit?: number },
): Promise<ReplaySummary> {
  const since = normalizeTime(input.since)
  if (since === null) throw new ValidationError('since must be an ISO date-time', { code: 'invalid_since' })
  const limit = input.limit ?? Number.POSITIVE_INFINITY
  const summary: ReplaySummary = {
    scanned: 0,
    outcomes: { applied: 0, stale: 0, rejected: 0, unknown_type: 0 },
    failed: 0,
  }
  for await (const page of deps.store.events.listSince(since)) {
    for (const record of page) {
      if (summary.scanned >= limit) return summary
      summary.scanned++
      try {
        const outcome = await applyStoredEvent(deps, record, { keepApplied: true })
        summary.outcomes[outcome.status]++
      } catch (err: unknown) {
        summary.failed++
        deps.logger.warn('webhook replay failed', {
          eventKey: record.eventKey,
          eventType: record.eventType,
          error: err instanceof Error ? err.name : 'unknown',
        })
      }
    }
  }
  deps.logger.info('webhook replay done', { since, ...summary })
  return summary
}

import { randomUUID } from 'node:crypto'
import type { AppDeps } from '../../deps'
import { UpstreamError } from '../../domain/errors'

/**
 * What the audited, idempotent management writes share (cancellation request and revoke, client
 * settings): the attempt appended to the audit trail whatever happens, and how upstream lookups fail.
 */

/** What appending an attempt needs. */
export type AttemptDeps = Pick<AppDeps, 'store' | 'clock' | 'logger'>

/**
 * How long one attempt holds its idempotency key (and a cancellation its channel's upstream-call
 * lock): one upstream lookup (retried within the upstream budget), one single-shot call, and a
 * margin. A crashed attempt is taken over after this.
 */
export function lockDurationMs(config: AppDeps['config']): number {
  return config.UPSTREAM_BUDGET_MS + config.UPSTREAM_TIMEOUT_MS + 5_000
}

/** Maps an upstream failure of a read of `what` to an error that says nothing about the upstream request. */
export function lookupFailure(err: unknown, what: 'channel' | 'client' = 'channel'): unknown {
  if (err instanceof UpstreamError) {
    return new UpstreamError(`The ${what} could not be looked up upstream`, {
      upstreamStatus: err.upstreamStatus,
      retryable: err.retryable,
      code: err.retryable
        ? 'upstream_unavailable'
        : err.code === 'upstream_unauthorized'
          ? err.code
          : 'upstream_lookup_failed',
    })
  }
  return err
}

/**
 * What one attempt did, filled in as it goes: the audit middleware creates it and appends it at the
 * end with the answer's outcome and status; the service notes the upstream status and details.
 */
export interface AttemptAudit {
  action: string
  subject: string
  principal: string
  idempotencyKey: string | null
  requestHash: string | null
  upstreamStatus: number | null
  details: Record<string, unknown>
}

/** Appends one audit entry; returns false (and logs) when the trail could not be written. */
export async function appendAudit(
  deps: AttemptDeps,
  attempt: AttemptAudit,
  outcome: string,
  httpStatus: number | null,
): Promise<boolean> {
  try {
    await deps.store.audit.append({
      subject: attempt.subject,
      at: deps.clock.now().toISOString(),
      id: randomUUID(),
      action: attempt.action,
      principal: attempt.principal,
      idempotencyKey: attempt.idempotencyKey,
      requestHash: attempt.requestHash,
      outcome,
      httpStatus,
      upstreamStatus: attempt.upstreamStatus,
      // A copy: the entry may still be on its way while the attempt goes on filling in details.
      details: { ...attempt.details },
    })
    return true
  } catch (err) {
    deps.logger.error('audit entry not written', { error: err, action: attempt.action, outcome })
    return false
  }
}

import { randomUUID } from 'node:crypto'
import type { AppDeps } from '../../deps'
import { PartnerOpsError, UpstreamError } from '../../domain/errors'
import type { StoredResponse } from '../../domain/types'
import { toErrorResponse } from '../../http/responses'

/**
 * What the audited, idempotent management writes share (cancellation request and revoke, client
 * settings): the attempt record appended to the audit trail whatever happens, the stored responses
 * replayed for an idempotency key, and how upstream lookups fail.
 */

/** What appending an attempt needs. */
export type AttemptDeps = Pick<AppDeps, 'store' | 'clock' | 'logger'>

/** The answer of one attempt and whether it is a replay of the first one. */
export interface AttemptResult {
  response: StoredResponse
  replayed: boolean
}

/** The code of a refused upstream lookup: refused credentials keep their own code. */
export function lookupCode(err: UpstreamError): string {
  return err.code === 'upstream_unauthorized' ? err.code : 'upstream_lookup_failed'
}

/**
 * How long one attempt holds its idempotency key (and a cancellation its channel's upstream-call
 * lock): one upstream lookup (retried within the upstream budget), one single-shot call, and a margin. A crashed attempt
 * is taken over after this.
 */
export function lockDurationMs(config: AppDeps['config']): number {
  return config.UPSTREAM_BUDGET_MS + config.UPSTREAM_TIMEOUT_MS + 5_000
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }

/** A JSON response as stored for replay. */
export function storedJson(statusCode: number, body: unknown): StoredResponse {
  return { statusCode, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) }
}

/** The API's error response of an error, with extra top-level fields (e.g. the existing record). */
export function storedError(err: PartnerOpsError, extra: Record<string, unknown> = {}): StoredResponse {
  const base = toErrorResponse(err)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(base.headers ?? {})) headers[k] = String(v)
  const body =
    Object.keys(extra).length > 0 ? JSON.stringify({ ...JSON.parse(base.body), ...extra }) : base.body
  return { statusCode: base.statusCode, headers, body }
}

/** Maps an upstream failure of a read of `what` to an error that says nothing about the upstream request. */
export function lookupFailure(err: unknown, what: 'channel' | 'client' = 'channel'): unknown {
  if (err instanceof UpstreamError) {
    return new UpstreamError(`The ${what} could not be looked up upstream`, {
      upstreamStatus: err.upstreamStatus,
      retryable: err.retryable,
      code: err.retryable ? 'upstream_unavailable' : lookupCode(err),
    })
  }
  return err
}

/** What one attempt did, filled in as it goes and appended to the audit trail at the end. */
export interface AttemptAudit {
  action: string
  subject: string
  principal: string
  idempotencyKey: string | null
  requestHash: string | null
  outcome: string | null
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
      details: attempt.details,
    })
    return true
  } catch (err) {
    deps.logger.error('audit entry not written', { error: err, action: attempt.action, outcome })
    return false
  }
}

/**
 * Runs one attempt and appends its audit entry whatever happens (accepted, refused, replayed or
 * failed). Audit trouble never changes the answer: the attempt's effect, if any, has already happened.
 */
export async function audited<R extends AttemptResult>(
  deps: AttemptDeps,
  attempt: AttemptAudit,
  fn: () => Promise<R>,
): Promise<R> {
  let result: R
  try {
    result = await fn()
  } catch (err) {
    const status = err instanceof PartnerOpsError ? err.status : 500
    const code = err instanceof PartnerOpsError ? err.code : 'internal_error'
    await appendAudit(deps, attempt, attempt.outcome ?? code, status)
    throw err
  }
  const outcome = result.replayed ? 'replayed' : (attempt.outcome ?? 'ok')
  await appendAudit(deps, attempt, outcome, result.response.statusCode)
  return result
}

import type { APIGatewayProxyResult } from 'aws-lambda'
import { type ErrorCode, PartnerOpsError } from '../domain/errors'
import type { CallbackOutcome, CancellationOutcome, ClientSettingsOutcome } from '../domain/outcomes'
import { toCancellationView, toClientView } from '../services/reads/views'
import { errorResponse, json } from './responses'

/**
 * The one HTTP contract: every error code and every outcome a service returns is turned into its
 * status, body and replayability here, and nowhere else. Handlers and the idempotency and audit
 * middlewares read these answers; services never see HTTP.
 */

/** An HTTP answer as the handlers return it and the idempotency store keeps it. */
export type Answer = APIGatewayProxyResult & { headers: Record<string, string> }

/** What the middlewares need to know about an answer besides its bytes. */
export interface AnswerMeta {
  /** Final: kept for replay under its idempotency key. Otherwise the key is released. */
  replayable: boolean
  /** The audit trail's name for what happened: the outcome kind or the error code. */
  outcome: string
}

/** The status of every error code (docs/openapi.yaml, §4 and "Errors"). */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = {
  validation_error: 400,
  invalid_body: 400,
  invalid_json: 400,
  invalid_envelope: 400,
  invalid_id: 400,
  invalid_path: 400,
  invalid_query: 400,
  invalid_limit: 400,
  invalid_cursor: 400,
  invalid_since: 400,
  invalid_redirect_url: 400,
  missing_idempotency_key: 400,
  invalid_idempotency_key: 400,
  unauthorized: 401,
  invalid_signature: 401,
  // A signed caller without the policy a route needs (locally; API Gateway answers its own 403 in AWS).
  forbidden: 403,
  not_found: 404,
  route_not_found: 404,
  channel_not_found: 404,
  client_not_found: 404,
  cancellation_not_found: 404,
  channel_key_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  cancellation_in_flight: 409,
  idempotency_key_in_flight: 409,
  already_cancelled: 409,
  nothing_pending: 409,
  channel_not_ready: 409,
  key_rotation_in_flight: 409,
  payload_too_large: 413,
  idempotency_key_reused: 422,
  rate_limited: 429,
  internal_error: 500,
  configuration_error: 500,
  bad_gateway: 502,
  upstream_rejected: 502,
  upstream_unauthorized: 502,
  upstream_lookup_failed: 502,
  upstream_invalid_response: 502,
  upstream_redirect: 502,
  upstream_item_quarantined: 502,
  items_key_missing: 502,
  revoke_not_applied: 502,
  // The client has not granted the partner permission to create the channel's key (upstream 403).
  key_permission_missing: 502,
  service_unavailable: 503,
  // The local server before its functions exist.
  starting: 503,
  // Our own secret is malformed: a configuration fault, never the caller's (the sender retries).
  invalid_secret: 503,
  upstream_unavailable: 503,
  upstream_outcome_unknown: 503,
  upstream_rate_limited: 503,
  upstream_ambiguous: 503,
  upstream_timeout: 503,
  upstream_unreachable: 503,
  upstream_budget_exhausted: 503,
  upstream_list_unstable: 503,
  poll_budget_exhausted: 503,
  reconcile_state_conflict: 503,
}

/** 5xx codes that are upstream's final answer to this very request: kept for replay. */
const FINAL_UPSTREAM: ReadonlySet<ErrorCode> = new Set([
  'upstream_rejected',
  'revoke_not_applied',
  'key_permission_missing',
])

/**
 * Whether an answer with this code is final. Refusals (4xx) are, except 409 (a conflict of the
 * moment) and 429 (a budget); upstream's own refusal of the request is; every other 5xx says that
 * nothing final happened (or that we do not know yet), so a retry with the same key runs again.
 */
export function isReplayableCode(code: ErrorCode): boolean {
  const status = ERROR_STATUS[code]
  if (status < 500) return status !== 409 && status !== 429
  return FINAL_UPSTREAM.has(code)
}

const meta = new WeakMap<object, AnswerMeta>()

function tag(answer: Answer, m: AnswerMeta): Answer {
  meta.set(answer, m)
  return answer
}

/** What is known about an answer built here; an answer built elsewhere is not replayable. */
export function answerMeta(answer: APIGatewayProxyResult): AnswerMeta {
  return meta.get(answer) ?? { replayable: false, outcome: 'unclassified' }
}

/** A stored answer replayed for its idempotency key, byte for byte, marked as a replay. */
export function replayAnswer(stored: {
  statusCode: number
  headers: Record<string, string>
  body: string
}): Answer {
  return tag(
    {
      statusCode: stored.statusCode,
      headers: { ...stored.headers, 'idempotent-replayed': 'true' },
      body: stored.body,
    },
    { replayable: true, outcome: 'replayed' },
  )
}

/** A success answer with a JSON body (final). */
export function ok(statusCode: 200 | 202, body: unknown, outcome = 'ok'): Answer {
  return tag(json(statusCode, body), { replayable: true, outcome })
}

/**
 * Any thrown value as the API's error answer: the code's status; 4xx and 502 messages are
 * shown (a 502 message carries only upstream's sanitised message), other 5xx say nothing internal;
 * anything that is not a PartnerOpsError is a 500. Never a stack trace, never a cause.
 */
export function errorAnswer(err: unknown): Answer {
  if (!(err instanceof PartnerOpsError)) {
    return tag(errorResponse(500, 'internal_error', 'Internal error'), {
      replayable: false,
      outcome: 'internal_error',
    })
  }
  const status = ERROR_STATUS[err.code]
  const message =
    status < 500 || status === 502
      ? err.message
      : status === 503
        ? 'Temporarily unavailable, please retry'
        : 'Internal error'
  const headers: Record<string, string> =
    err.retryAfterSeconds !== undefined
      ? { 'retry-after': String(Math.max(1, Math.ceil(err.retryAfterSeconds))) }
      : {}
  return tag(errorResponse(status, err.code, message, headers), {
    replayable: isReplayableCode(err.code),
    outcome: err.code,
  })
}

/** The status of an error code. */
export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code]
}

/** A cancellation outcome as its answer: 202/200 with the record, 409 with the record beside the error. */
export function cancellationAnswer(outcome: CancellationOutcome): Answer {
  switch (outcome.kind) {
    case 'accepted':
    case 'already_requested':
    case 'resolved_without_new_call':
    case 'confirmed_meanwhile':
      return ok(202, toCancellationView(outcome.record), outcome.kind)
    case 'revoked':
      return ok(200, toCancellationView(outcome.record), outcome.kind)
    case 'already_cancelled':
      return conflict(
        outcome.kind,
        outcome.terminated
          ? 'The channel is already terminated'
          : 'A cancellation of this channel is already pending',
        outcome.record,
      )
    case 'nothing_pending':
      return conflict(
        outcome.kind,
        outcome.terminated
          ? 'The channel is already terminated; nothing can be revoked'
          : 'No cancellation is pending for this channel',
        outcome.record,
      )
  }
}

function conflict(code: ErrorCode, message: string, record: CancellationOutcome['record'] | null): Answer {
  return tag(
    errorResponse(
      ERROR_STATUS[code],
      code,
      message,
      {},
      {
        cancellation: record ? toCancellationView(record) : null,
      },
    ),
    { replayable: isReplayableCode(code), outcome: code },
  )
}

/** A client PATCH outcome: 200 with the client as stored and the settings upstream did not take. */
export function clientSettingsAnswer(outcome: ClientSettingsOutcome): Answer {
  return ok(200, { ...toClientView(outcome.client), notApplied: outcome.notApplied }, outcome.kind)
}

/** The status of an onboarding callback outcome (the page itself is rendered by the handler). */
export function callbackStatus(outcome: CallbackOutcome): 200 | 302 | 400 | 429 | 502 | 503 {
  switch (outcome.kind) {
    case 'redirect':
      return 302
    case 'confirmation':
      return 200
    case 'rejected':
      return 400
    case 'rate_limited':
      return 429
    case 'unavailable':
      // The browser only ever sees "not yet": upstream's refusal (502) or anything else (503).
      return ERROR_STATUS[outcome.code] === 502 ? 502 : 503
  }
}

/** The audit trail's name for a callback outcome. */
export function callbackAuditOutcome(outcome: CallbackOutcome): string {
  switch (outcome.kind) {
    case 'redirect':
    case 'confirmation':
      return 'stored'
    case 'rejected':
      return `rejected_${outcome.reason}`
    case 'rate_limited':
      return 'rate_limited'
    case 'unavailable':
      return outcome.code
  }
}

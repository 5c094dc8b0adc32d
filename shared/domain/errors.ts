/**
 * The one error hierarchy of PartnerOps. Adapters translate SDK and HTTP failures into these;
 * services throw them. An error carries a typed `code` and no HTTP status: shared/http/answers.ts
 * maps every code to its status, body and replayability, once.
 */

/**
 * Every error code PartnerOps answers or records (the snake_case `code` of the API's error body
 * (docs/openapi.yaml)). One union, so a new code is a compile-time decision and the HTTP mapping must cover it.
 */
export type ErrorCode =
  // 400: the request does not fit
  | 'validation_error'
  | 'invalid_body'
  | 'invalid_json'
  | 'invalid_envelope'
  | 'invalid_id'
  | 'invalid_path'
  | 'invalid_query'
  | 'invalid_limit'
  | 'invalid_cursor'
  | 'invalid_since'
  | 'invalid_redirect_url'
  | 'missing_idempotency_key'
  | 'invalid_idempotency_key'
  // 401
  | 'unauthorized'
  | 'invalid_signature'
  | 'forbidden'
  // 404
  | 'not_found'
  | 'route_not_found'
  | 'channel_not_found'
  | 'client_not_found'
  | 'cancellation_not_found'
  | 'channel_key_not_found'
  // 405
  | 'method_not_allowed'
  // 409: a conflict of the moment
  | 'conflict'
  | 'cancellation_in_flight'
  | 'idempotency_key_in_flight'
  | 'already_cancelled'
  | 'channel_not_ready'
  | 'key_rotation_in_flight'
  | 'nothing_pending'
  // 413
  | 'payload_too_large'
  // 422
  | 'idempotency_key_reused'
  // 429: the caller's budget
  | 'rate_limited'
  // 500
  | 'internal_error'
  | 'configuration_error'
  // 502: the local server's own answer for a handler that crashed (as API Gateway would)
  | 'bad_gateway'
  // 502: upstream answered, and the answer is final
  | 'upstream_rejected'
  | 'upstream_unauthorized'
  | 'upstream_lookup_failed'
  | 'upstream_invalid_response'
  | 'upstream_redirect'
  | 'upstream_item_quarantined'
  | 'items_key_missing'
  | 'revoke_not_applied'
  | 'key_permission_missing'
  // 503: nothing final happened; a retry may succeed
  | 'service_unavailable'
  | 'starting'
  | 'invalid_secret'
  | 'upstream_unavailable'
  | 'upstream_outcome_unknown'
  | 'upstream_rate_limited'
  | 'upstream_ambiguous'
  | 'upstream_timeout'
  | 'upstream_unreachable'
  | 'upstream_budget_exhausted'
  | 'upstream_list_unstable'
  | 'poll_budget_exhausted'
  | 'reconcile_state_conflict'

interface ErrorOptions<C extends ErrorCode = ErrorCode> {
  cause?: unknown
  code?: C
  details?: Record<string, unknown>
  /** When a retry may succeed, in seconds (a `Retry-After` header). */
  retryAfterSeconds?: number
}

/** Base class: `code` is the snake_case code of the API's error body (docs/openapi.yaml). */
export abstract class PartnerOpsError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>
  readonly retryAfterSeconds?: number

  constructor(code: ErrorCode, message: string, options?: Omit<ErrorOptions, 'code'>) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.name = new.target.name
    if (options?.details) this.details = options.details
    if (options?.retryAfterSeconds !== undefined) this.retryAfterSeconds = options.retryAfterSeconds
  }
}

/** Input that does not fit. */
export class ValidationError extends PartnerOpsError {
  constructor(message: string, options?: ErrorOptions) {
    super(options?.code ?? 'validation_error', message, options)
  }
}

/** Missing or wrong credentials, signature or token. */
export class UnauthorizedError extends PartnerOpsError {
  constructor(message = 'Unauthorized', options?: ErrorOptions) {
    super(options?.code ?? 'unauthorized', message, options)
  }
}

/** The addressed thing does not exist (or is not the caller's to see). */
export class NotFoundError extends PartnerOpsError {
  constructor(message: string, options?: ErrorOptions) {
    super(options?.code ?? 'not_found', message, options)
  }
}

/** The request conflicts with current state (in flight, already done, same key other request). */
export class ConflictError extends PartnerOpsError {
  constructor(message: string, options?: ErrorOptions) {
    super(options?.code ?? 'conflict', message, options)
  }
}

/** Body larger than allowed. */
export class PayloadTooLargeError extends PartnerOpsError {
  constructor(message = 'Request body too large', options?: Omit<ErrorOptions, 'code'>) {
    super('payload_too_large', message, options)
  }
}

/** Caller over its budget, with the seconds until it may retry. */
export class RateLimitedError extends PartnerOpsError {
  constructor(message: string, retryAfterSeconds: number, options?: Omit<ErrorOptions, 'code'>) {
    super('rate_limited', message, { ...options, retryAfterSeconds })
  }
}

/**
 * The Partner API (or another upstream) failed. `upstreamStatus` is the upstream HTTP status (0 for
 * a network error or timeout), `retryable` says whether trying again can help, `upstreamMessage` is
 * the upstream `developer_message` (never the raw body). Without a code, a retryable failure is
 * `upstream_unavailable` and any other `upstream_rejected`.
 */
export class UpstreamError extends PartnerOpsError {
  readonly upstreamStatus: number
  readonly retryable: boolean
  readonly upstreamMessage: string | undefined
  constructor(
    message: string,
    options: ErrorOptions & { upstreamStatus: number; retryable: boolean; upstreamMessage?: string },
  ) {
    super(
      options.code ?? (options.retryable ? 'upstream_unavailable' : 'upstream_rejected'),
      message,
      options,
    )
    this.upstreamStatus = options.upstreamStatus
    this.retryable = options.retryable
    this.upstreamMessage = options.upstreamMessage
  }
}

/** A dependency we own (DynamoDB, Secrets Manager, EventBridge) is unavailable: nothing acknowledged. */
export class DependencyUnavailableError extends PartnerOpsError {
  constructor(message: string, options?: ErrorOptions) {
    super(options?.code ?? 'service_unavailable', message, options)
  }
}

/** Configuration missing or invalid: fails at start, names every bad variable. */
export class ConfigError extends PartnerOpsError {
  constructor(message: string) {
    super('configuration_error', message)
  }
}

/** The name of a thrown value, for logs and messages: never its message or contents. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'unknown'
}

/** Longest upstream message passed on to a caller, in characters. */
export const MAX_UPSTREAM_MESSAGE = 300

/**
 * Upstream's own message (its `developer_message`) as PartnerOps passes it on, everywhere: control
 * characters become spaces, the text is trimmed and cut at {@link MAX_UPSTREAM_MESSAGE}. Never the
 * raw body or our request; `HTTP <status>` when upstream gave no message.
 */
export function upstreamMessageOf(err: unknown): string {
  const raw =
    err instanceof UpstreamError && err.upstreamMessage
      ? err.upstreamMessage
      : `HTTP ${err instanceof UpstreamError ? err.upstreamStatus : 'error'}`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return clean.length > MAX_UPSTREAM_MESSAGE ? `${clean.slice(0, MAX_UPSTREAM_MESSAGE)}…` : clean
}

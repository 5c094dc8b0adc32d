/**
 * Errors of the PartnerOps client. Every answer of the API that is not a success becomes an
 * {@link ApiError} subclass chosen by HTTP status, carrying the contract's snake_case error `code`
 * (from `{"error":{"code","message"}}`), the status and, where the API sent one, `Retry-After`.
 * Failures before any answer (connection refused, reset, timeout) are a {@link NetworkError}.
 */

/** Error codes the API documents; any other string may appear too (forward compatible). */
export type KnownErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'invalid_query'
  | 'invalid_limit'
  | 'invalid_cursor'
  | 'invalid_json'
  | 'invalid_body'
  | 'invalid_id'
  | 'invalid_redirect_url'
  | 'missing_idempotency_key'
  | 'invalid_idempotency_key'
  | 'client_not_found'
  | 'channel_not_found'
  | 'cancellation_not_found'
  | 'route_not_found'
  | 'already_cancelled'
  | 'nothing_pending'
  | 'cancellation_in_flight'
  | 'idempotency_key_in_flight'
  | 'idempotency_key_reused'
  | 'payload_too_large'
  | 'export_too_large'
  | 'rate_limited'
  | 'upstream_rejected'
  | 'upstream_rate_limited'
  | 'upstream_outcome_unknown'
  | 'revoke_not_applied'
  | 'service_unavailable'
  | 'internal_error'
  | 'not_implemented'

export type ErrorCode = KnownErrorCode | (string & {})

/** Base class of everything the client throws on purpose. */
export class PartnerOpsClientError extends Error {
  override name = 'PartnerOpsClientError'
}

export interface ApiErrorInit {
  status: number
  code: ErrorCode
  message: string
  /** The parsed JSON body (e.g. the existing `cancellation` of a 409), or null. */
  body: unknown
  /** Seconds from `Retry-After`, when the answer carried one. */
  retryAfterSeconds: number | null
  method: string
  path: string
  /** The Idempotency-Key the call was sent with, if any. */
  idempotencyKey: string | null
  /** How many HTTP attempts the call made (retries included). */
  attempts: number
}

/** The API answered with an error status. */
export class ApiError extends PartnerOpsClientError {
  override name = 'ApiError'
  readonly status: number
  readonly code: ErrorCode
  readonly body: unknown
  readonly retryAfterSeconds: number | null
  readonly method: string
  readonly path: string
  readonly idempotencyKey: string | null
  readonly attempts: number

  constructor(init: ApiErrorInit) {
    super(init.message)
    this.status = init.status
    this.code = init.code
    this.body = init.body
    this.retryAfterSeconds = init.retryAfterSeconds
    this.method = init.method
    this.path = init.path
    this.idempotencyKey = init.idempotencyKey
    this.attempts = init.attempts
  }
}

/** 400: the request was malformed (bad id, filter, cursor, body or Idempotency-Key). */
export class BadRequestError extends ApiError {
  override name = 'BadRequestError'
}
/** 401 (local runner) or 403 (API Gateway): not signed, wrongly signed, or not allowed by IAM. */
export class AuthError extends ApiError {
  override name = 'AuthError'
}
/** 404: no such client, channel, cancellation or route. */
export class NotFoundError extends ApiError {
  override name = 'NotFoundError'
}
/** 409: a conflict. For a cancellation already pending or nothing to revoke, `cancellation` is the record. */
export class ConflictError extends ApiError {
  override name = 'ConflictError'
  /** The existing cancellation record a 409 of the cancellation routes carries, or null. */
  get cancellation(): unknown {
    const b = this.body as { cancellation?: unknown } | null
    return b && typeof b === 'object' && 'cancellation' in b ? (b.cancellation ?? null) : null
  }
}
/** 413: the request body or the buffered export is too large. */
export class PayloadTooLargeError extends ApiError {
  override name = 'PayloadTooLargeError'
}
/** 422: the Idempotency-Key was used before with a different request. */
export class IdempotencyKeyReusedError extends ApiError {
  override name = 'IdempotencyKeyReusedError'
}
/** 429: over a budget (cancellations per hour, API Gateway throttling); see `retryAfterSeconds`. */
export class RateLimitedError extends ApiError {
  override name = 'RateLimitedError'
}
/** 502: 360dialog refused the request (its message is in `message`). */
export class UpstreamError extends ApiError {
  override name = 'UpstreamError'
}
/** 503: temporarily unavailable (storage, or 360dialog unreachable or ambiguous); retried by the client first. */
export class ServiceUnavailableError extends ApiError {
  override name = 'ServiceUnavailableError'
}
/** Any other error status (500, 501, …). */
export class ServerError extends ApiError {
  override name = 'ServerError'
}

/** No answer at all: connection refused or reset, DNS failure, or the per-attempt timeout. */
export class NetworkError extends PartnerOpsClientError {
  override name = 'NetworkError'
  readonly method: string
  readonly path: string
  readonly attempts: number
  constructor(message: string, init: { method: string; path: string; attempts: number; cause: unknown }) {
    super(message, { cause: init.cause })
    this.method = init.method
    this.path = init.path
    this.attempts = init.attempts
  }
}

/**
 * The API answered list items that do not match a filter the client sent: it does not apply that
 * filter (an older deployment). Thrown instead of handing back unfiltered data as if filtered.
 */
export class FilterNotAppliedError extends PartnerOpsClientError {
  override name = 'FilterNotAppliedError'
  readonly code = 'filter_not_applied'
  readonly filter: string
  constructor(filter: string, value: string, path: string) {
    super(`${path} answered items that do not match ${filter}=${value}: this API does not apply that filter`)
    this.filter = filter
  }
}

/** No credentials could be found, or the endpoint could not be determined (e.g. `--stack`). */
export class ConfigurationError extends PartnerOpsClientError {
  override name = 'ConfigurationError'
}

const BY_STATUS: Record<number, new (init: ApiErrorInit) => ApiError> = {
  400: BadRequestError,
  401: AuthError,
  403: AuthError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  422: IdempotencyKeyReusedError,
  429: RateLimitedError,
  502: UpstreamError,
  503: ServiceUnavailableError,
}

/** Codes for answers that do not carry the contract's error body (API Gateway's own 403, 429, 5xx). */
const FALLBACK_CODE: Record<number, string> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  429: 'rate_limited',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
}

/** Parses `Retry-After` (delta seconds or an HTTP date) into seconds, or null. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === '') return null
  if (/^\d+$/.test(value.trim())) return Number(value.trim())
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000))
}

/** Builds the typed error for an error answer: the contract's body when present, API Gateway's otherwise. */
export function errorFromResponse(
  status: number,
  bodyText: string,
  headers: Headers,
  context: Pick<ApiErrorInit, 'method' | 'path' | 'idempotencyKey' | 'attempts'>,
): ApiError {
  let body: unknown = null
  try {
    body = bodyText ? JSON.parse(bodyText) : null
  } catch {
    body = null
  }
  const detail = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error
  const gatewayMessage = (body as { message?: unknown } | null)?.message
  const code =
    typeof detail?.code === 'string' ? detail.code : (FALLBACK_CODE[status] ?? `http_${String(status)}`)
  const message =
    typeof detail?.message === 'string'
      ? detail.message
      : typeof gatewayMessage === 'string'
        ? gatewayMessage
        : `HTTP ${String(status)}`
  const Cls = BY_STATUS[status] ?? (status >= 500 ? ServerError : ApiError)
  return new Cls({
    status,
    code,
    message,
    body,
    retryAfterSeconds: parseRetryAfter(headers.get('retry-after')),
    ...context,
  })
}

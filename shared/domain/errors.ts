/**
 * The one error hierarchy of PartnerOps. Adapters translate SDK and HTTP failures into these;
 * shared/http maps them to status codes once. 4xx messages are shown to callers, 5xx never.
 */

/** Base class: `code` is the snake_case code of the API's error body (docs/openapi.yaml). */
export abstract class PartnerOpsError extends Error {
  abstract readonly status: number
  readonly code: string
  readonly details?: Record<string, unknown>

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.name = new.target.name
    if (options?.details) this.details = options.details
  }
}

/** Input that does not fit: 400. */
export class ValidationError extends PartnerOpsError {
  readonly status = 400
  constructor(
    message: string,
    options?: { cause?: unknown; code?: string; details?: Record<string, unknown> },
  ) {
    super(options?.code ?? 'validation_error', message, options)
  }
}

/** Missing or wrong credentials, signature or token: 401. */
export class UnauthorizedError extends PartnerOpsError {
  readonly status = 401
  constructor(message = 'Unauthorized', options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'unauthorized', message, options)
  }
}

/** The addressed thing does not exist (or is not the caller's to see): 404. */
export class NotFoundError extends PartnerOpsError {
  readonly status = 404
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'not_found', message, options)
  }
}

/** The request conflicts with current state (in flight, already done): 409. */
export class ConflictError extends PartnerOpsError {
  readonly status = 409
  constructor(
    message: string,
    options?: { cause?: unknown; code?: string; details?: Record<string, unknown> },
  ) {
    super(options?.code ?? 'conflict', message, options)
  }
}

/** Same idempotency key, different request: 422. */
export class UnprocessableError extends PartnerOpsError {
  readonly status = 422
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'unprocessable', message, options)
  }
}

/** Body larger than allowed: 413. */
export class PayloadTooLargeError extends PartnerOpsError {
  readonly status = 413
  constructor(message = 'Request body too large', options?: { cause?: unknown }) {
    super('payload_too_large', message, options)
  }
}

/** Caller over its budget: 429 with Retry-After. */
export class RateLimitedError extends PartnerOpsError {
  readonly status = 429
  readonly retryAfterSeconds: number
  constructor(message: string, retryAfterSeconds: number, options?: { cause?: unknown }) {
    super('rate_limited', message, options)
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/**
 * The Partner API (or another upstream) failed. `status` is the upstream HTTP status (0 for a network
 * error or timeout), `retryable` says whether trying again can help, `upstreamMessage` is the
 * upstream `developer_message` (never the raw body).
 */
export class UpstreamError extends PartnerOpsError {
  readonly status: number
  readonly upstreamStatus: number
  readonly retryable: boolean
  readonly upstreamMessage: string | undefined
  constructor(
    message: string,
    options: {
      upstreamStatus: number
      retryable: boolean
      upstreamMessage?: string
      cause?: unknown
      code?: string
    },
  ) {
    super(options.code ?? 'upstream_error', message, options)
    this.upstreamStatus = options.upstreamStatus
    this.retryable = options.retryable
    this.upstreamMessage = options.upstreamMessage
    this.status = options.retryable ? 503 : 502
  }
}

/** A dependency we own (DynamoDB, Secrets Manager, EventBridge) is unavailable: 503, nothing acknowledged. */
export class DependencyUnavailableError extends PartnerOpsError {
  readonly status = 503
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'service_unavailable', message, options)
  }
}

/** Configuration missing or invalid: fails at start, names every bad variable. */
export class ConfigError extends PartnerOpsError {
  readonly status = 500
  constructor(message: string) {
    super('configuration_error', message)
  }
}

/** The name of a thrown value, for logs and messages: never its message or contents. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : 'unknown'
}

import type { APIGatewayProxyResult } from 'aws-lambda'
import { PartnerOpsError, RateLimitedError } from '../domain/errors'

/** The API's error body (docs/openapi.yaml): `{"error":{"code":"snake_case_code","message":"…"}}`. */
export interface ErrorBody {
  error: { code: string; message: string }
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }

/** A JSON response. */
export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) }
}

/** An error response with the API's error body. */
export function errorResponse(
  statusCode: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  const body: ErrorBody = { error: { code, message } }
  return json(statusCode, body, headers)
}

/**
 * Maps any thrown value to a response: our errors keep their status, 4xx messages are shown, 5xx say
 * nothing internal; anything else is a 500. Never a stack trace, never a cause.
 */
export function toErrorResponse(err: unknown): APIGatewayProxyResult {
  if (err instanceof PartnerOpsError) {
    const status = err.status
    if (status >= 500) {
      const message =
        status === 503
          ? 'Temporarily unavailable, please retry'
          : status === 502
            ? (err.message ?? 'Upstream refused the request')
            : 'Internal error'
      return errorResponse(status, err.code, message)
    }
    const headers: Record<string, string> =
      err instanceof RateLimitedError ? { 'retry-after': String(err.retryAfterSeconds) } : {}
    return errorResponse(status, err.code, err.message, headers)
  }
  return errorResponse(500, 'internal_error', 'Internal error')
}

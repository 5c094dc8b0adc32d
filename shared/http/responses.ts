import type { APIGatewayProxyResult } from 'aws-lambda'
import type { ErrorCode } from '../domain/errors'

/**
 * The low-level JSON response builders. Which status and body a code or an outcome gets is decided
 * in ./answers.ts, not here.
 */

/** The API's error body (docs/openapi.yaml): `{"error":{"code":"snake_case_code","message":"…"}}`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string }
}

/** Headers of every JSON answer. */
export const JSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
}

/** A JSON response. */
export function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): APIGatewayProxyResult & { headers: Record<string, string> } {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) }
}

/** An error response with the API's error body (and optional extra top-level fields). */
export function errorResponse(
  statusCode: number,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): APIGatewayProxyResult & { headers: Record<string, string> } {
  const body: ErrorBody = { error: { code, message } }
  return json(statusCode, { ...body, ...extra }, headers)
}

/**
 * 360dialog's error bodies (README "What it models"): every Partner API error is a `meta` object with
 * `success: false`, the HTTP status and a `developer_message`, plus a `details` list for a wrong
 * payload. The simulator stands in for someone else's API, so it keeps its own error type instead of
 * PartnerOps' error classes.
 */

/** The `meta` error envelope of the Partner API. */
export interface MetaErrorBody {
  meta: {
    success: false
    http_code: number
    developer_message: string
    details?: string[]
  }
}

/** An error the simulator answers as a Partner API error body with this status. */
export class SimApiError extends Error {
  override name = 'SimApiError'
  constructor(
    readonly status: number,
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message)
  }

  body(): MetaErrorBody {
    return metaBody(this.status, this.message, this.details)
  }
}

/** The `meta` body for a status and message (`details` only when there are some). */
export function metaBody(status: number, message: string, details: readonly string[] = []): MetaErrorBody {
  const meta: MetaErrorBody['meta'] = { success: false, http_code: status, developer_message: message }
  if (details.length > 0) meta.details = [...details]
  return { meta }
}

/** 404 with the given developer message (`Client not found`, `Channel not found`, …). */
export function notFound(message: string): SimApiError {
  return new SimApiError(404, message)
}

/** 400 "Wrong payload" with the documented `details` list. */
export function wrongPayload(...details: string[]): SimApiError {
  return new SimApiError(400, 'Wrong payload', details)
}

/** 409 for a test control that would create an object whose id exists. */
export function conflict(message: string): SimApiError {
  return new SimApiError(409, message)
}

import { upstreamErrorSchema } from '../../domain/upstream'
import type { ListQuery } from '../../ports'

/** Codes of network failures that happen before a request can have reached the server. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

function errorCodes(err: unknown, depth = 0): string[] {
  if (depth > 4 || err === null || typeof err !== 'object') return []
  const out: string[] = []
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') out.push(code)
  if (err instanceof AggregateError) for (const e of err.errors) out.push(...errorCodes(e, depth + 1))
  const cause = (err as { cause?: unknown }).cause
  if (cause !== undefined) out.push(...errorCodes(cause, depth + 1))
  return out
}

/**
 * Whether a fetch failure certainly happened before the request was sent (connection refused, DNS),
 * so that even a non-idempotent call may be tried again.
 */
export function failedBeforeSending(err: unknown): boolean {
  const codes = errorCodes(err)
  return codes.length > 0 && codes.every((c) => NOT_SENT_CODES.has(c))
}

/** Whether an error is a timeout (ours or the platform's). */
export function isTimeout(err: unknown): boolean {
  return (
    err instanceof Error &&
    (err.name === 'TimeoutError' || errorCodes(err).includes('UND_ERR_HEADERS_TIMEOUT'))
  )
}

/** The upstream `meta.developer_message` of an error body, bounded in length; never the raw body. */
export function developerMessage(text: string): string | undefined {
  if (text === '') return undefined
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  const parsed = upstreamErrorSchema.safeParse(json)
  const msg = parsed.success ? parsed.data.meta.developer_message : undefined
  return typeof msg === 'string' && msg !== '' ? msg.slice(0, 500) : undefined
}

/** Query string of a list call: `filters` as URL-encoded JSON, `sort` comma-joined. */
export function listQueryString(query: ListQuery): string {
  const parts: string[] = []
  const add = (k: string, v: string): void => {
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
  }
  if (query.filters && Object.keys(query.filters).length > 0) add('filters', JSON.stringify(query.filters))
  if (query.sort && query.sort.length > 0) add('sort', query.sort.join(','))
  if (query.limit !== undefined) add('limit', String(query.limit))
  if (query.offset !== undefined) add('offset', String(query.offset))
  return parts.join('&')
}

/** Query string of plain key/value parameters. */
export function plainQueryString(query: Record<string, string | number> | undefined): string {
  if (!query) return ''
  return Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&')
}

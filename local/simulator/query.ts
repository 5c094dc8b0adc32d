import { wrongPayload } from './errors'

/** A parsed list request: equality filters, sort keys (`-` = descending), page window. */
export interface ListQuery {
  filters: Record<string, unknown>
  sort: string[]
  limit: number
  offset: number
}

function parseIntParam(name: string, raw: string | null, fallback: number, min: number): number {
  if (raw === null || raw === '') return fallback
  if (!/^-?\d+$/.test(raw.trim())) throw wrongPayload(`${name}: not an integer`)
  const value = Number(raw.trim())
  if (value < min) throw wrongPayload(`${name}: must be at least ${min}`)
  return value
}

/**
 * Parses `filters` (URL-encoded JSON object), `sort` (comma-separated, repeated or a JSON array),
 * `limit` (clamped to maxPageSize, defaultPageSize when absent) and `offset`. Anything malformed is
 * a 400 "Wrong payload" with `details`.
 */
export function parseListQuery(
  params: URLSearchParams,
  maxPageSize: number,
  defaultPageSize: number,
): ListQuery {
  const rawFilters = params.get('filters')
  let filters: Record<string, unknown> = {}
  if (rawFilters !== null && rawFilters.trim() !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(rawFilters)
    } catch {
      throw wrongPayload('filters: invalid JSON')
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw wrongPayload('filters: must be a JSON object')
    }
    filters = parsed as Record<string, unknown>
  }
  const sort: string[] = []
  for (const raw of params.getAll('sort')) {
    const trimmed = raw.trim()
    let parts: unknown[] = trimmed.split(',')
    if (trimmed.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(trimmed)
        parts = Array.isArray(parsed) ? parsed : [parsed]
      } catch {
        throw wrongPayload('sort: invalid JSON array')
      }
    }
    for (const part of parts) {
      if (typeof part !== 'string') throw wrongPayload('sort: keys must be strings')
      const key = part.trim()
      if (key !== '' && key !== '-' && key !== '+') sort.push(key)
    }
  }
  const limit = Math.min(parseIntParam('limit', params.get('limit'), defaultPageSize, 1), maxPageSize)
  const offset = parseIntParam('offset', params.get('offset'), 0, 0)
  return { filters, sort, limit, offset }
}

import { ValidationError } from '../domain/errors'
import { isValidId } from '../domain/ids'

/** Page size bounds of every list route (docs/openapi.yaml). */
export const DEFAULT_LIMIT = 50
export const MAX_LIMIT = 100
const MAX_CURSOR_LENGTH = 4096

/** A parsed list query: page size and opaque cursor. */
export interface PageQuery {
  limit: number
  cursor?: string
}

type QueryParams = Record<string, string | undefined> | null | undefined

/**
 * Parses `limit` (an integer 1–100, default 50) and `cursor` (opaque, checked by the store) from
 * query string parameters; anything else in them is left to the caller. ValidationError (400) when
 * either is malformed.
 */
export function parsePageQuery(params: QueryParams): PageQuery {
  const rawLimit = params?.['limit']
  let limit = DEFAULT_LIMIT
  if (rawLimit !== undefined) {
    if (!/^[0-9]{1,3}$/.test(rawLimit)) throw invalidLimit()
    limit = Number(rawLimit)
    if (limit < 1 || limit > MAX_LIMIT) throw invalidLimit()
  }
  const cursor = params?.['cursor']
  if (cursor === undefined) return { limit }
  if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_.=-]+$/.test(cursor)) {
    throw new ValidationError('Invalid cursor; start again without a cursor', { code: 'invalid_cursor' })
  }
  return { limit, cursor }
}

/** An optional filter parameter that must match `pattern` when present; ValidationError otherwise. */
export function optionalFilter(params: QueryParams, name: string, pattern: RegExp): string | undefined {
  const value = params?.[name]
  if (value === undefined) return undefined
  if (!pattern.test(value)) {
    throw new ValidationError(`Invalid value for query parameter ${name}`, { code: 'invalid_query' })
  }
  return value
}

function invalidLimit(): ValidationError {
  return new ValidationError(`limit must be an integer from 1 to ${MAX_LIMIT}`, { code: 'invalid_limit' })
}

/**
 * Checks every path parameter as an id (1–128 characters of `A-Z a-z 0-9 _ -`), at the edge before
 * anything is read, counted or sent upstream: ValidationError `invalid_id` (400) naming the parameter.
 */
export function checkPathIds(params: Record<string, string>): void {
  for (const [name, value] of Object.entries(params)) {
    if (!isValidId(value)) {
      throw new ValidationError(`Invalid ${name}: ids are 1 to 128 characters of A-Z a-z 0-9 _ -`, {
        code: 'invalid_id',
      })
    }
  }
}

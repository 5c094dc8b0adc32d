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

type MultiParams = Record<string, string[] | undefined> | null | undefined

/**
 * Refuses, before anything is read, a query parameter the route does not take and one given more than
 * once (API Gateway would keep only the last value): ValidationError `invalid_query` (400) naming it.
 */
export function checkQueryNames(params: QueryParams, multi: MultiParams, allowed: readonly string[]): void {
  for (const name of Object.keys(params ?? {}).sort()) {
    if (!allowed.includes(name)) {
      throw new ValidationError(
        allowed.length === 0
          ? `Unknown query parameter ${name}: this route takes none`
          : `Unknown query parameter ${name}; this route takes ${allowed.join(', ')}`,
        { code: 'invalid_query' },
      )
    }
    if ((multi?.[name]?.length ?? 0) > 1) {
      throw new ValidationError(`Query parameter ${name} is given more than once`, { code: 'invalid_query' })
    }
  }
}

/** An optional filter that must be one of `values` when present; ValidationError naming it and them otherwise. */
export function optionalChoice<const V extends readonly string[]>(
  params: QueryParams,
  name: string,
  values: V,
  opts: { caseInsensitive?: boolean } = {},
): V[number] | undefined {
  const value = params?.[name]
  if (value === undefined) return undefined
  const found = values.find((v) =>
    opts.caseInsensitive ? v.toLowerCase() === value.toLowerCase() : v === value,
  )
  if (found === undefined) {
    throw new ValidationError(
      `Invalid value for query parameter ${name}; expected one of ${values.join(', ')}`,
      {
        code: 'invalid_query',
      },
    )
  }
  return found
}

/** Longest search text `q` accepted. */
export const MAX_SEARCH_LENGTH = 100

/** An optional search text: 1–100 characters, not blank, no control characters. */
export function optionalSearch(params: QueryParams, name = 'q'): string | undefined {
  const value = params?.[name]
  if (value === undefined) return undefined
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (value.trim() === '' || value.length > MAX_SEARCH_LENGTH || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new ValidationError(
      `Invalid value for query parameter ${name}: 1 to ${MAX_SEARCH_LENGTH} characters, not blank`,
      { code: 'invalid_query' },
    )
  }
  return value
}

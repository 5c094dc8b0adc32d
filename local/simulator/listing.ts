import type { ListQuery } from './query'

/**
 * Filtering, sorting and paging of list routes. Pure functions over plain JSON objects, plus a small
 * cache of sorted/filtered orders so that paging a large list costs one slice per page.
 */

/** The documented list envelope without its items key (added by the HTTP layer). */
export interface ListPage<T> {
  count: number
  filters: Record<string, unknown>
  sort: string[]
  limit: number
  offset: number
  total: number
  items: T[]
}

const pathCache = new Map<string, string[]>()

/** Reads a dotted path (`setup_info.phone_number`) from a JSON object. */
export function getPath(value: unknown, path: string): unknown {
  let parts = pathCache.get(path)
  if (parts === undefined) {
    parts = path.split('.')
    if (pathCache.size < 1000) pathCache.set(path, parts)
  }
  let current: unknown = value
  for (const part of parts) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

function sameValue(actual: unknown, expected: unknown): boolean {
  if (expected === null) return actual === null || actual === undefined
  if (typeof expected === 'object') return JSON.stringify(actual) === JSON.stringify(expected)
  if (typeof expected === 'number' && typeof actual === 'string') return actual === String(expected)
  return actual === expected
}

const SEARCH_PATHS = ['id', 'name', 'setup_info.phone_number', 'setup_info.phone_name', 'client.name']

/** Equality on every key (AND); a null value matches null or absent; `q` is a free-text search. */
export function matchesFilters(item: object, filters: Record<string, unknown>): boolean {
  for (const [path, expected] of Object.entries(filters)) {
    if (path === 'q' && typeof expected === 'string') {
      const needle = expected.toLowerCase()
      const hit = SEARCH_PATHS.some((p) => {
        const v = getPath(item, p)
        return typeof v === 'string' && v.toLowerCase().includes(needle)
      })
      if (!hit) return false
      continue
    }
    if (!sameValue(getPath(item, path), expected)) return false
  }
  return true
}

type SortValue = string | number | boolean | null

function sortValue(raw: unknown, isDate: boolean): SortValue {
  if (raw === null || raw === undefined) return null
  if (isDate && typeof raw === 'string') {
    const ms = Date.parse(raw)
    return Number.isNaN(ms) ? raw : ms
  }
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return raw
  return JSON.stringify(raw)
}

function compareValues(a: SortValue, b: SortValue): number {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  if (typeof a !== typeof b) return typeof a < typeof b ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Multi-key sort; `-key` descends; nulls sort first ascending; ties broken by id ascending. */
export function sortItems<T extends { id: string }>(items: readonly T[], sort: readonly string[]): T[] {
  const keys = sort.map((key) => {
    const desc = key.startsWith('-')
    const path = desc || key.startsWith('+') ? key.slice(1) : key
    return { path, desc, isDate: path.endsWith('_at') }
  })
  const decorated = items.map((item) => ({
    item,
    values: keys.map((k) => sortValue(getPath(item, k.path), k.isDate)),
  }))
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareValues(a.values[i] ?? null, b.values[i] ?? null)
      if (c !== 0) return keys[i]?.desc ? -c : c
    }
    return a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0
  })
  return decorated.map((d) => d.item)
}

/** The page window of an ordered list, with the envelope's counts. */
export function pageOf<T>(query: ListQuery, ordered: readonly T[]): ListPage<T> {
  const items = ordered.slice(query.offset, query.offset + query.limit)
  return {
    count: items.length,
    filters: query.filters,
    sort: query.sort,
    limit: query.limit,
    offset: query.offset,
    total: ordered.length,
    items,
  }
}

const CACHE_LIMIT = 32

/**
 * Filtered and sorted orders of one collection, cached per (filters, sort) until the collection
 * changes (`clear()`), so paging a large list sorts once.
 */
export class OrderCache<T extends { id: string }> {
  private readonly cache = new Map<string, T[]>()

  constructor(private readonly source: Map<string, T>) {}

  ordered(query: ListQuery): T[] {
    const key = `${JSON.stringify(query.filters)}|${query.sort.join(',')}`
    const hit = this.cache.get(key)
    if (hit) return hit
    let items: T[]
    const filterKeys = Object.keys(query.filters)
    const byId = query.filters['id']
    if (filterKeys.length === 1 && typeof byId === 'string') {
      const one = this.source.get(byId)
      items = one ? [one] : []
    } else if (filterKeys.length === 0) {
      items = Array.from(this.source.values())
    } else {
      items = []
      for (const item of this.source.values()) if (matchesFilters(item, query.filters)) items.push(item)
    }
    if (query.sort.length > 0) items = sortItems(items, query.sort)
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear()
    this.cache.set(key, items)
    return items
  }

  clear(): void {
    this.cache.clear()
  }
}

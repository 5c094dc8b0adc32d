import { UpstreamError } from '../../domain/errors'
import type { ListPage, ListQuery, QuarantinedItem } from '../../ports'

/** The sort of an incremental walk: most recently modified first (docs/partner-api-notes.md, lists). */
export const INCREMENTAL_SORT = ['-modified_at']

/**
 * How far before the previous run's watermark an incremental walk still reads (README,
 * Reconciliation: why 5 minutes). The watermark is the previous run's start on our clock, so the
 * overlap covers the skew between our clock and 360dialog's, an upstream write that becomes visible
 * in the list after later ones (a slow transaction stamped at its start), and items that share a
 * `modified_at` across a page boundary. What it costs is re-reading what changed in those 5 minutes:
 * one page in a quiet fleet, and no write, since unchanged digests are skipped.
 */
export const INCREMENTAL_OVERLAP_MS = 5 * 60_000

/**
 * Pages one incremental walk of a list reads at most: beyond it (a burst of changes, or a watermark
 * far in the past) a full sweep is cheaper to reason about and no slower, so the run sweeps instead.
 */
export const INCREMENTAL_MAX_PAGES = 100

/** Why an incremental walk gave up and the run swept fully instead. */
export type FallbackReason = 'sort_refused' | 'unordered' | 'undated' | 'window_too_large'

/** What an incremental walk of one list ended with. */
export type IncrementalOutcome =
  | { kind: 'done'; pages: number; read: number }
  | { kind: 'fallback'; reason: FallbackReason; detail: string; pages: number; read: number }

/** What one incremental walk needs. */
export interface IncrementalWalk<T> {
  /** One list page (the Partner API client's listClients or listChannels). */
  list: (query: ListQuery) => Promise<ListPage<T>>
  /** Read items modified at or after this time (epoch ms): the previous watermark less the overlap. */
  since: number
  limit: number
  maxPages?: number
  /** Applies the page's items that are new enough (called once per page, in page order). */
  apply: (items: T[], receivedAt: Date) => Promise<void>
  onQuarantined: (items: QuarantinedItem[]) => void
  /** Throws when the run is over its time budget. */
  checkBudget: () => void
  now: () => Date
}

/** Upstream refused the request itself (not auth, not a rate limit): the sort, most likely. */
function refusedSort(err: unknown): boolean {
  if (!(err instanceof UpstreamError)) return false
  const s = err.upstreamStatus
  return s >= 400 && s < 500 && s !== 401 && s !== 403 && s !== 429
}

/**
 * Reads one list sorted by `-modified_at` page by page until the first item older than `since`, and
 * applies what is at least that new. It trusts the order only as far as it can check it: every item
 * must carry a `modified_at` no later than the one before it (across pages too), and a page that echoes
 * its sort must name `-modified_at`. A refused sort (4xx), an order that does not hold, or an undated
 * item ends the walk with a fallback, and the run sweeps fully instead (`sort_fallback`). Items that
 * tie on `modified_at` are all read: the walk stops only at one strictly older than `since`.
 */
export async function walkChangedSince<T extends { id: string; modified_at?: string | null | undefined }>(
  w: IncrementalWalk<T>,
): Promise<IncrementalOutcome> {
  const maxPages = w.maxPages ?? INCREMENTAL_MAX_PAGES
  let offset = 0
  let pages = 0
  let read = 0
  let previous = Number.POSITIVE_INFINITY
  const fallback = (reason: FallbackReason, detail: string): IncrementalOutcome => ({
    kind: 'fallback',
    reason,
    detail,
    pages,
    read,
  })
  for (;;) {
    if (pages >= maxPages) {
      return fallback('window_too_large', `more than ${maxPages} pages changed since the watermark`)
    }
    let page: ListPage<T>
    try {
      page = await w.list({ sort: INCREMENTAL_SORT, limit: w.limit, offset })
    } catch (err: unknown) {
      if (refusedSort(err)) {
        return fallback(
          'sort_refused',
          `upstream refused the sort (${(err as UpstreamError).upstreamStatus})`,
        )
      }
      throw err
    }
    pages += 1
    const receivedAt = w.now()
    if (page.sort !== undefined && !page.sort.includes(INCREMENTAL_SORT[0] as string)) {
      return fallback('unordered', `upstream applied sort [${page.sort.join(',')}]`)
    }
    const fresh: T[] = []
    let reachedOlder = false
    for (const item of page.items) {
      const at = typeof item.modified_at === 'string' ? Date.parse(item.modified_at) : Number.NaN
      if (Number.isNaN(at)) return fallback('undated', `item ${item.id} has no usable modified_at`)
      if (at > previous) return fallback('unordered', `item ${item.id} is newer than the item before it`)
      previous = at
      if (at < w.since) reachedOlder = true
      else fresh.push(item)
    }
    const quarantined = page.quarantined ?? []
    if (quarantined.length > 0) w.onQuarantined(quarantined)
    read += fresh.length
    if (fresh.length > 0) await w.apply(fresh, receivedAt)
    const received = page.items.length + quarantined.length
    offset += received
    if (reachedOlder || received === 0 || offset >= page.total) return { kind: 'done', pages, read }
    w.checkBudget()
  }
}

import pLimit from 'p-limit'
import { UpstreamError } from '../../domain/errors'
import type { ListPage, PagePosition, QuarantinedItem, WalkTotals } from '../../ports'

/**
 * Fetches one page at `offset` asking for `limit` items: the page, or a function that reads (parses and
 * validates) the fetched page. With the latter, the page's slot is free for the next request as soon
 * as its bytes have arrived, and the CPU work of reading it runs when the walk reaches it, while the
 * following requests are on the wire (reading a page of 100 channels takes a few milliseconds, a
 * fifth of a 20 ms round trip).
 */
export type FetchPage<T> = (
  offset: number,
  limit: number,
  signal: AbortSignal,
) => Promise<ListPage<T> | (() => ListPage<T>)>

/** Options of an offset-paginated walk. */
export interface WalkOptions {
  /** Page size asked for. */
  limit: number
  /** Pages in flight at once once the total is known. */
  concurrency: number
  signal?: AbortSignal
  /** Told about the items of each page that failed validation, in page order. */
  onQuarantined?: (items: QuarantinedItem[]) => void
  /** Told, when the walk completes, how many distinct items it saw against the last `total`. */
  onComplete?: (totals: WalkTotals) => void
  /** Offset of the first page (a walk resumed where an earlier one stopped; default 0). */
  startOffset?: number
  /** Told about every page read, before its items are yielded (see IterateOptions.onPage). */
  onPage?: (page: PagePosition) => void
}

function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError')
}

/**
 * Walks an offset-paginated list: the first page, then (once `total` is known) the following pages
 * with bounded concurrency, yielded in page order. Offsets advance by the number of items actually
 * returned, so short pages (a server maximum below the asked limit) leave no gaps; prefetched pages
 * that no longer line up are dropped and fetched again. Stops when the offset reaches the latest
 * `total` or on an empty page; ids are yielded at most once per walk; the number of pages is capped
 * so a list that keeps growing cannot make the walk endless. Items a page quarantined (failed
 * validation) are not yielded but are handed to `onQuarantined` and count for offsets and totals.
 */
export async function* walkPages<T extends { id: string }>(
  fetchPage: FetchPage<T>,
  opts: WalkOptions,
): AsyncGenerator<T[], void, undefined> {
  const limiter = pLimit(Math.max(1, opts.concurrency))
  const inflight = new Map<
    number,
    { promise: Promise<ListPage<T> | (() => ListPage<T>)>; controller: AbortController }
  >()
  const seen = new Set<string>()
  // Quarantined items without an id cannot be told apart across pages; each counts once.
  let unnamed = 0

  const start = (offset: number, size: number): void => {
    const controller = new AbortController()
    const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal
    const promise = limiter(() => {
      if (signal.aborted) throw abortError()
      return fetchPage(offset, size, signal)
    })
    // Prefetched pages may fail before anyone awaits them; the failure is seen when their turn comes.
    promise.catch(() => undefined)
    inflight.set(offset, { promise, controller })
  }
  const drop = (keep: (offset: number) => boolean): void => {
    for (const [offset, entry] of inflight) {
      if (keep(offset)) continue
      entry.controller.abort()
      inflight.delete(offset)
    }
  }

  try {
    let cursor = Math.max(0, opts.startOffset ?? 0)
    let pageSize = Math.max(1, opts.limit)
    let total: number | undefined
    let pages = 0
    let maxPages = Number.POSITIVE_INFINITY
    let lastTotal = 0
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? abortError()
      if (total !== undefined) {
        for (let i = 0, o = cursor; i < opts.concurrency && o < total; i += 1, o += pageSize) {
          if (!inflight.has(o)) start(o, pageSize)
        }
      }
      if (!inflight.has(cursor)) start(cursor, pageSize)
      const head = inflight.get(cursor)!
      inflight.delete(cursor)
      const fetched = await head.promise
      // The head's slot is free: keep `concurrency` pages on the wire while this one is read, by asking
      // now for the page after the window (assuming this page is full; if it is not, the offsets move
      // and the request is dropped below like any prefetch that no longer lines up).
      if (total !== undefined && typeof fetched === 'function') {
        const ahead = cursor + opts.concurrency * pageSize
        if (ahead < total && !inflight.has(ahead)) {
          start(ahead, pageSize)
          // Let the request leave (the limiter and fetch start it a few ticks later) before this page
          // is read: reading is synchronous CPU work and would otherwise hold it back.
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      const page = typeof fetched === 'function' ? fetched() : fetched
      pages += 1
      lastTotal = page.total

      const fresh: T[] = []
      for (const item of page.items) {
        if (seen.has(item.id)) continue
        seen.add(item.id)
        fresh.push(item)
      }
      // Quarantined items hold their place in the list: offsets count them like any other item.
      const quarantined = page.quarantined ?? []
      const freshQuarantined = quarantined.filter((q) => {
        if (q.id === null) {
          unnamed += 1
          return true
        }
        if (seen.has(q.id)) return false
        seen.add(q.id)
        return true
      })
      if (freshQuarantined.length > 0) opts.onQuarantined?.(freshQuarantined)
      const received = page.items.length + quarantined.length
      opts.onPage?.({ offset: cursor, received, total: page.total })
      if (fresh.length > 0) yield fresh
      if (received === 0) break

      if (total === undefined) {
        const echoed = page.limit > 0 ? page.limit : pageSize
        pageSize = Math.max(1, Math.min(pageSize, echoed, received))
        maxPages = 2 * Math.ceil(page.total / pageSize) + 10
      }
      total = page.total
      cursor += received
      if (cursor >= total) break
      if (pages >= maxPages) {
        throw new UpstreamError('partner API list kept changing during the walk', {
          upstreamStatus: 0,
          retryable: true,
          code: 'upstream_list_unstable',
        })
      }
      const aligned = cursor
      drop((o) => o >= aligned && (o - aligned) % pageSize === 0)
    }
    opts.onComplete?.({ total: lastTotal, walked: seen.size + unnamed })
  } finally {
    drop(() => false)
  }
}

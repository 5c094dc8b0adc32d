import type { Page } from './types'

/**
 * A list that pages itself: `for await (const ch of client.channels.list({ lifecycle: 'live' }))`
 * walks every item across pages, `pages()` yields whole pages, `page()` fetches one (for a UI that
 * shows a page and its cursor). Nothing is fetched until it is iterated.
 */
export class Paginator<T> implements AsyncIterable<T> {
  constructor(
    private readonly fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
    private readonly startCursor?: string,
  ) {}

  /** One page, from `cursor` (default: the start, or the `cursor` filter given to `list`). */
  page(cursor: string | undefined = this.startCursor): Promise<Page<T>> {
    return this.fetchPage(cursor)
  }

  /** Every page in order, until `nextCursor` is null. */
  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let cursor = this.startCursor
    for (;;) {
      const page = await this.fetchPage(cursor)
      yield page
      if (!page.nextCursor) return
      cursor = page.nextCursor
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.items
  }

  /** Collects every item (at most `max`, default unlimited) into an array. */
  async toArray(max = Number.POSITIVE_INFINITY): Promise<T[]> {
    const out: T[] = []
    for await (const item of this) {
      if (out.length >= max) break
      out.push(item)
    }
    return out
  }
}

import { describe, expect, it } from 'vitest'
import { CursorCodec } from '../../../../shared/adapters/dynamo/cursor'
import { Db, type Item, readPage } from '../../../../shared/adapters/dynamo/db'

// readPage never touches the DocumentClient itself: the reads are the function given.
const db = new Db({} as never, new CursorCodec('unit-cursor-secret'))

/** A table of `n` keys, one item in `every` matching a filter, read `size` keys per request. */
function sparse(n: number, every: number) {
  const keys = Array.from({ length: n }, (_, i) => `k${String(i).padStart(6, '0')}`)
  const requests: number[] = []
  const read = async (start: Item | undefined, _want: number, round: number) => {
    const size = Math.min(1000, 100 * 2 ** round)
    const from = start ? keys.indexOf(String(start['id'])) + 1 : 0
    const slice = keys.slice(from, from + size)
    requests.push(slice.length)
    const last = slice.at(-1)
    return {
      items: slice.filter((_k, i) => (from + i) % every === 0).map((id) => ({ id })),
      lastKey: from + size < keys.length && last ? { id: last } : undefined,
    }
  }
  return { read, requests }
}

describe('readPage with a bound on requests (filtered reads)', () => {
  it('answers a short, even empty, page with a cursor after what it read, and the pages add up', async () => {
    const { read, requests } = sparse(30_000, 7_000)
    const found: string[] = []
    const sizes: number[] = []
    let cursor: string | undefined
    for (let page = 0; page < 20; page++) {
      const res = await readPage(db, { binding: 'b', keyNames: ['id'], limit: 2, cursor, read, maxRounds: 5 })
      sizes.push(res.items.length)
      found.push(...res.items.map((i) => String(i['id'])))
      if (res.nextCursor === null) break
      cursor = res.nextCursor
    }
    expect(found).toEqual(['k000000', 'k007000', 'k014000', 'k021000', 'k028000'])
    expect(sizes).toContain(0)
    // No page read more than its 5 requests.
    expect(requests.length).toBeLessThanOrEqual(5 * sizes.length)
  })

  it('reads on without a bound until the page is full or the data ends', async () => {
    const { read } = sparse(30_000, 7_000)
    const res = await readPage(db, { binding: 'b', keyNames: ['id'], limit: 10, cursor: undefined, read })
    expect(res.items.map((i) => i['id'])).toEqual(['k000000', 'k007000', 'k014000', 'k021000', 'k028000'])
    expect(res.nextCursor).toBeNull()
  })
})

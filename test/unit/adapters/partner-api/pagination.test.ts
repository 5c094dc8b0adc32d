import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { walkPages } from '../../../../shared/adapters/partner-api/paginate'
import type { UpstreamError } from '../../../../shared/domain/errors'
import type { IterateOptions, PartnerApi } from '../../../../shared/ports'
import { channel, json, listServer, makeClient, type Recorded } from './fake-upstream'

const ids = (n: number, prefix = 'ch'): string[] =>
  Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, '0')}`)

async function collect(api: PartnerApi, opts: IterateOptions = {}): Promise<string[][]> {
  const pages: string[][] = []
  for await (const page of api.iterateChannels(opts)) pages.push(page.map((c) => c.id))
  return pages
}

const offsets = (requests: Recorded[]): number[] =>
  requests.map((r) => Number(r.url.searchParams.get('offset')))

describe('iterateChannels', () => {
  it('walks every page in order with the asked page size', async () => {
    const all = ids(250)
    const { api, requests } = makeClient(listServer(() => all))
    const pages = await collect(api, { limit: 100, concurrency: 3 })
    expect(pages.map((p) => p.length)).toEqual([100, 100, 50])
    expect(pages.flat()).toEqual(all)
    expect(offsets(requests).sort((a, b) => a - b)).toEqual([0, 100, 200])
    expect(api.stats().calls).toBe(3)
  })

  it('passes filters and sort to every page', async () => {
    const { api, requests } = makeClient(listServer(() => ids(30)))
    await collect(api, { limit: 10, filters: { client_id: 'cl1' }, sort: ['-modified_at'] })
    expect(requests).toHaveLength(3)
    for (const r of requests) {
      expect(r.url.searchParams.get('filters')).toBe('{"client_id":"cl1"}')
      expect(r.url.searchParams.get('sort')).toBe('-modified_at')
    }
  })

  it('adapts to a server maximum below the asked limit', async () => {
    const all = ids(95)
    const { api, requests } = makeClient(listServer(() => all, 20))
    const pages = await collect(api, { limit: 100, concurrency: 4 })
    expect(pages.flat()).toEqual(all)
    expect(offsets(requests).sort((a, b) => a - b)).toEqual([0, 20, 40, 60, 80])
    expect(requests.slice(1).every((r) => r.url.searchParams.get('limit') === '20')).toBe(true)
  })

  it('fills the gap after an unexpectedly short page in the middle', async () => {
    const all = ids(50)
    const { api, requests } = makeClient((req) => {
      const offset = Number(req.url.searchParams.get('offset'))
      const limit = Number(req.url.searchParams.get('limit'))
      // The page at offset 10 comes back with only 3 items though more exist.
      const n = offset === 10 ? 3 : limit
      const items = all.slice(offset, offset + n).map((id) => channel(id))
      return json(200, { total: all.length, limit, offset, partner_channels: items })
    })
    const pages = await collect(api, { limit: 10, concurrency: 4 })
    expect(pages.flat()).toEqual(all)
    expect(offsets(requests)).toContain(13)
  })

  it('stops on an empty page even when total promised more', async () => {
    const { api, requests } = makeClient((req) => {
      const offset = Number(req.url.searchParams.get('offset'))
      const items =
        offset < 20
          ? ids(20)
              .slice(offset, offset + 10)
              .map((id) => channel(id))
          : []
      return json(200, { total: 1_000, limit: 10, offset, partner_channels: items })
    })
    const pages = await collect(api, { limit: 10, concurrency: 1 })
    expect(pages.flat()).toEqual(ids(20))
    // 0, 10, 20 (empty: the walk stops), and 30, asked for before page 20 was read (the walk keeps its
    // window on the wire while it reads a page) and abandoned when the walk stops.
    expect(offsets(requests)).toEqual([0, 10, 20, 30])
  })

  it('yields each id once when items shift between pages', async () => {
    let all = ids(30)
    const { api } = makeClient((req, i) => {
      // After the first page a new channel appears at the front: every later page overlaps by one.
      if (i === 1) all = ['new0', ...all]
      return listServer(() => all)(req, i)
    })
    const got = (await collect(api, { limit: 10, concurrency: 1 })).flat()
    expect(new Set(got).size).toBe(got.length)
    expect(got).toEqual(expect.arrayContaining(ids(30)))
  })

  it('follows a total that grows during the walk', async () => {
    let all = ids(20)
    const { api } = makeClient((req, i) => {
      if (i === 1) all = ids(35)
      return listServer(() => all)(req, i)
    })
    expect((await collect(api, { limit: 10, concurrency: 1 })).flat()).toEqual(ids(35))
  })

  it('never loops forever on a list that keeps growing', async () => {
    let n = 20
    const { api, requests } = makeClient((req) => {
      n += 10
      return listServer(() => ids(n))(req, 0)
    })
    const err = (await collect(api, { limit: 10, concurrency: 2 }).catch((e: unknown) => e)) as UpstreamError
    expect(err.code).toBe('upstream_list_unstable')
    expect(requests.length).toBeLessThan(30)
  })

  it('stops with an error when the walk budget is spent', async () => {
    const ctx = makeClient((req, i) => {
      ctx.time.advance(400)
      return listServer(() => ids(100))(req, i)
    })
    const seen: string[] = []
    const walk = async (): Promise<void> => {
      for await (const page of ctx.api.iterateChannels({ limit: 10, concurrency: 1, budgetMs: 1_000 })) {
        seen.push(...page.map((c) => c.id))
      }
    }
    await expect(walk()).rejects.toMatchObject({ code: 'upstream_budget_exhausted' })
    expect(ctx.requests.length).toBeLessThanOrEqual(3)
    expect(seen.length).toBeLessThan(100)
  })

  it('stops when the caller aborts', async () => {
    const controller = new AbortController()
    const { api, requests } = makeClient(listServer(() => ids(100)))
    const seen: string[] = []
    const walk = async (): Promise<void> => {
      for await (const page of api.iterateChannels({
        limit: 10,
        concurrency: 2,
        signal: controller.signal,
      })) {
        seen.push(...page.map((c) => c.id))
        controller.abort(new Error('caller stopped'))
      }
    }
    await expect(walk()).rejects.toThrow('caller stopped')
    expect(seen).toHaveLength(10)
    expect(requests.length).toBeLessThanOrEqual(3)
  })

  it('lists clients with the clients items key', async () => {
    const all = ids(12, 'cl')
    const { api, requests } = makeClient((req, i) => {
      const r = listServer(() => all, 1_000, 'clients')(req, i)
      return r
    })
    const got: string[] = []
    for await (const page of api.iterateClients({ limit: 5 })) got.push(...page.map((c) => c.id))
    expect(got).toEqual(all)
    expect(requests.every((r) => r.url.pathname.endsWith('/clients'))).toBe(true)
  })

  it('walks past quarantined items: offsets count them, the rest of each page is yielded, totals add up', async () => {
    const all = ids(45)
    const broken = new Set(['ch00003', 'ch00017', 'ch00018', 'ch00044'])
    const { api, requests } = makeClient((req) => {
      const offset = Number(req.url.searchParams.get('offset'))
      const limit = Number(req.url.searchParams.get('limit'))
      const items = all
        .slice(offset, offset + limit)
        .map((id) => (broken.has(id) ? { id, client_id: null } : channel(id)))
      return json(200, { total: all.length, limit, offset, partner_channels: items })
    })
    const quarantined: string[] = []
    const totals: unknown[] = []
    const got: string[] = []
    for await (const page of api.iterateChannels({
      limit: 10,
      concurrency: 3,
      onQuarantined: (items) => quarantined.push(...items.map((q) => q.id ?? '?')),
      onComplete: (t) => totals.push(t),
    })) {
      got.push(...page.map((c) => c.id))
    }
    expect(got).toEqual(all.filter((id) => !broken.has(id)))
    expect(quarantined).toEqual([...broken])
    expect(offsets(requests).sort((a, b) => a - b)).toEqual([0, 10, 20, 30, 40])
    expect(totals).toEqual([{ total: 45, walked: 45 }])
  })

  it('reports a walk that does not add up to the total (an empty page before the end)', async () => {
    const { api } = makeClient((req) => {
      const offset = Number(req.url.searchParams.get('offset'))
      const items = offset >= 20 ? [] : ids(10).map((id) => channel(`${id}-${offset}`))
      return json(200, { total: 50, limit: 10, offset, partner_channels: items })
    })
    const totals: unknown[] = []
    for await (const _ of api.iterateChannels({
      limit: 10,
      concurrency: 1,
      onComplete: (t) => totals.push(t),
    })) {
      // drain
    }
    expect(totals).toEqual([{ total: 50, walked: 20 }])
  })

  it('retries a failing page without losing or repeating items', async () => {
    let failed = false
    const { api } = makeClient((req, i) => {
      if (!failed && req.url.searchParams.get('offset') === '20') {
        failed = true
        return json(503, { meta: { developer_message: 'x' } })
      }
      return listServer(() => ids(45))(req, i)
    })
    expect((await collect(api, { limit: 10, concurrency: 3 })).flat()).toEqual(ids(45))
  })
})

describe('walkPages', () => {
  it('has sent `concurrency` further requests by the time it reads (validates) a page', async () => {
    const total = 100
    const concurrency = 3
    let sent = 0
    let read = 0
    const aheadAtRead: number[] = []
    const pages = walkPages<{ id: string }>(
      async (offset, limit) => {
        sent += 1
        await new Promise((resolve) => setTimeout(resolve, 5))
        // The page's bytes are here; reading them is left to the walk.
        return () => {
          read += 1
          aheadAtRead.push(sent - read)
          const n = Math.max(0, Math.min(limit, total - offset))
          return {
            items: Array.from({ length: n }, (_, i) => ({ id: `c${offset + i}` })),
            total,
            offset,
            limit,
          }
        }
      },
      { limit: 10, concurrency },
    )
    const seen: string[] = []
    for await (const page of pages) seen.push(...page.map((c) => c.id))
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `c${i}`))
    expect(sent).toBe(10)
    // The first page tells the total; from then on, until the window reaches the end of the list, the
    // next request has left before a page is read, so `concurrency` pages are always on their way.
    expect(aheadAtRead.slice(1, 10 - concurrency)).toEqual(Array(10 - concurrency - 1).fill(concurrency))
  })
})

describe('walkPages property', () => {
  it('yields every id exactly once, in order, for any total, page size and server maximum', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 150 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        async (total, limit, serverMax, concurrency, echoLimit) => {
          const all = ids(total)
          let calls = 0
          const pages = walkPages<{ id: string }>(
            async (offset, asked) => {
              calls += 1
              const n = Math.min(asked, serverMax)
              const items = all.slice(offset, offset + n).map((id) => ({ id }))
              return { items, total, offset, limit: echoLimit ? n : 0 }
            },
            { limit, concurrency },
          )
          const got: string[] = []
          for await (const page of pages) got.push(...page.map((i) => i.id))
          expect(got).toEqual(all)
          const effective = Math.min(limit, serverMax)
          expect(calls).toBe(Math.max(1, Math.ceil(total / effective)))
        },
      ),
      { numRuns: 200 },
    )
  })

  it('yields every id exactly once when the server returns random short pages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 5 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 30 }),
        async (total, limit, concurrency, shortOffsets) => {
          const all = ids(total)
          const short = new Set(shortOffsets)
          const pages = walkPages<{ id: string }>(
            async (offset, asked) => {
              const n = short.has(offset) ? Math.max(1, Math.floor(asked / 2)) : asked
              return {
                items: all.slice(offset, offset + n).map((id) => ({ id })),
                total,
                offset,
                limit: asked,
              }
            },
            { limit, concurrency },
          )
          const got: string[] = []
          for await (const page of pages) got.push(...page.map((i) => i.id))
          expect(got).toEqual(all)
        },
      ),
      { numRuns: 200 },
    )
  })
})

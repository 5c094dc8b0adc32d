import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import type { ListPage, ListQuery } from '../../../shared/ports'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import {
  INCREMENTAL_OVERLAP_MS,
  INCREMENTAL_SORT,
  walkChangedSince,
} from '../../../shared/services/reconciliation/reconcile-incremental'
import { FakePartnerApi } from '../../fakes/partner-api'
import { countEntityCalls, makeDeps, seedUpstream, upChannel } from './support'

const MIN = 60_000

/** A fake upstream that answers `-modified_at` lists in its default order (created_at), unsorted. */
class UnsortedPartnerApi extends FakePartnerApi {
  unsorted = false
  override async listChannels(query?: ListQuery): Promise<ListPage<UpstreamChannel>> {
    const page = await super.listChannels(this.unsorted && query ? { ...query, sort: ['created_at'] } : query)
    // Like an upstream that ignores the sort and does not echo it.
    if (this.unsorted) delete page.sort
    return page
  }
}

/** Deps whose runs sweep fully once an hour; the upstream fleet is dated months before the clock. */
function incrementalDeps(partnerApi = new FakePartnerApi()) {
  const deps = makeDeps({ partnerApi, env: { FULL_SWEEP_INTERVAL_SECONDS: '3600' } })
  seedUpstream(deps.partnerApi, 2, 10)
  return deps
}

/** Changes a channel's name upstream and stamps it `modified_at`. */
function touch(api: FakePartnerApi, id: string, modifiedAt: Date, name = `Renamed ${id}`): void {
  const ch = api.channels.get(id) as UpstreamChannel
  api.channels.set(id, {
    ...ch,
    setup_info: { ...ch.setup_info, phone_name: name },
    modified_at: modifiedAt.toISOString(),
  })
}

describe('incremental reconciliation', () => {
  it('sweeps fully at first start, then reads only what changed since the watermark', async () => {
    const deps = incrementalDeps()
    const first = await reconcile(deps)
    expect(first).toMatchObject({ mode: 'full', complete: true, changed: { clients: 2, channels: 10 } })

    deps.clock.advance(15 * MIN)
    touch(deps.partnerApi, 'H00004CH', deps.clock.now())
    deps.partnerApi.calls.length = 0
    const counted = countEntityCalls(deps.store)
    const second = await reconcile(deps)

    expect(second).toMatchObject({
      mode: 'incremental',
      complete: true,
      outcome: 'succeeded',
      warnings: [],
      changed: { clients: 0, channels: 1 },
      seen: { clients: 0, channels: 1 },
      missing: { clients: 0, channels: 0 },
    })
    expect(second.pages).toBe(2)
    // One page per list, sorted by -modified_at; no walk of everything, no lookups.
    expect(deps.partnerApi.calls.map((c) => c.method)).toEqual(['listClients', 'listChannels'])
    for (const c of deps.partnerApi.calls)
      expect(c.args[0]).toMatchObject({ sort: INCREMENTAL_SORT, offset: 0 })
    expect(counted.writes()).toBe(1)
    expect(await deps.store.channels.get('H00004CH')).toMatchObject({ displayName: 'Renamed H00004CH' })
  })

  it('reads back to the previous run start less the overlap, and stops at the first older item', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    const firstStart = deps.clock.now().getTime()
    deps.clock.advance(15 * MIN)
    // Stamped before the previous run started (a slow upstream write, a clock behind ours), but within
    // the overlap: read. Older than the overlap: not this run's business (the next full sweep's).
    touch(deps.partnerApi, 'H00002CH', new Date(firstStart - INCREMENTAL_OVERLAP_MS + 1000))
    touch(deps.partnerApi, 'H00003CH', new Date(firstStart - INCREMENTAL_OVERLAP_MS - 1000))
    deps.partnerApi.pageSize = 1

    const run = await reconcile(deps)

    expect(run).toMatchObject({ mode: 'incremental', changed: { clients: 0, channels: 1 } })
    expect(await deps.store.channels.get('H00002CH')).toMatchObject({ displayName: 'Renamed H00002CH' })
    expect(await deps.store.channels.get('H00003CH')).toMatchObject({ displayName: 'Channel 3' })
    // Channels: H00002CH, then H00003CH (older than the window: stop). Clients: one page, all older.
    expect(deps.partnerApi.callCount('listChannels')).toBe(2)
    expect(deps.partnerApi.callCount('listClients')).toBe(1)
  })

  it('moves the watermark to each run start, so an unchanged fleet costs one page per list', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    for (let i = 0; i < 3; i++) {
      deps.clock.advance(10 * MIN)
      touch(deps.partnerApi, `H0000${i + 5}CH`, deps.clock.now())
      await reconcile(deps)
    }
    // The next run still re-reads the last change (it is within the overlap); the one after it does not.
    deps.clock.advance(10 * MIN)
    expect((await reconcile(deps)).seen.channels).toBe(1)
    deps.clock.advance(10 * MIN)
    deps.partnerApi.calls.length = 0
    const quiet = await reconcile(deps)
    expect(quiet).toMatchObject({
      mode: 'incremental',
      seen: { clients: 0, channels: 0 },
      changed: { clients: 0, channels: 0 },
    })
    expect(deps.partnerApi.calls).toHaveLength(2)
    const state = await deps.store.ops.getReconcileState()
    expect(state?.watermark).toBe(deps.clock.now().toISOString())
  })

  it('reads every item that ties on modified_at at the edge of the window, across page boundaries', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    const edge = new Date(deps.clock.now().getTime() - INCREMENTAL_OVERLAP_MS)
    deps.clock.advance(15 * MIN)
    for (const id of ['H00001CH', 'H00003CH', 'H00006CH', 'H00008CH', 'H00009CH'])
      touch(deps.partnerApi, id, edge)
    deps.partnerApi.pageSize = 2

    const run = await reconcile(deps)

    expect(run).toMatchObject({ mode: 'incremental', changed: { clients: 0, channels: 5 } })
    for (const id of ['H00001CH', 'H00003CH', 'H00006CH', 'H00008CH', 'H00009CH']) {
      expect(await deps.store.channels.get(id)).toMatchObject({ displayName: `Renamed ${id}` })
    }
  })

  it('sweeps fully again once FULL_SWEEP_INTERVAL_SECONDS have passed since the last sweep started', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    deps.clock.advance(30 * MIN)
    expect((await reconcile(deps)).mode).toBe('incremental')
    deps.clock.advance(30 * MIN)
    deps.partnerApi.channels.delete('H00007CH')
    const swept = await reconcile(deps)
    expect(swept).toMatchObject({ mode: 'full', complete: true, seen: { clients: 2, channels: 9 } })
    // Missing detection belongs to full sweeps: the gone channel was looked up and marked.
    expect(swept.missing.channels).toBe(1)
    deps.clock.advance(15 * MIN)
    expect((await reconcile(deps)).mode).toBe('incremental')
  })

  it('never runs missing detection in an incremental run', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    deps.partnerApi.channels.delete('H00007CH')
    deps.clock.advance(15 * MIN)
    const run = await reconcile(deps)
    expect(run).toMatchObject({ mode: 'incremental', missing: { clients: 0, channels: 0 } })
    expect(deps.partnerApi.callCount('findChannel')).toBe(0)
    expect(await deps.store.channels.get('H00007CH')).toMatchObject({ absentRuns: 0, missingSince: null })
  })

  it('falls back to a full sweep with sort_fallback when upstream refuses the sort (4xx)', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    deps.clock.advance(15 * MIN)
    touch(deps.partnerApi, 'H00002CH', deps.clock.now())
    deps.partnerApi.calls.length = 0
    deps.partnerApi.failNext(
      'listClients',
      () =>
        new UpstreamError('Upstream refused the request: Wrong payload', {
          upstreamStatus: 400,
          retryable: false,
        }),
    )

    const run = await reconcile(deps)

    expect(run).toMatchObject({
      mode: 'full',
      complete: true,
      outcome: 'succeeded',
      warnings: ['sort_fallback'],
      seen: { clients: 2, channels: 10 },
      changed: { clients: 0, channels: 1 },
    })
    expect(deps.partnerApi.callCount('iterateChannels')).toBe(1)
    // The fallback sweep counts as the interval's sweep.
    deps.clock.advance(15 * MIN)
    expect(await reconcile(deps)).toMatchObject({ mode: 'incremental', warnings: [] })
  })

  it('does not take a rate limit or an auth failure for a refused sort', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    deps.clock.advance(15 * MIN)
    deps.partnerApi.failNext(
      'listClients',
      () => new UpstreamError('rate limited', { upstreamStatus: 429, retryable: true }),
    )
    await expect(reconcile(deps)).rejects.toThrow(/rate limited/)
    expect((await deps.store.ops.getRunSummaries()).last).toMatchObject({
      mode: 'incremental',
      outcome: 'failed',
    })
  })

  it('falls back to a full sweep with sort_fallback when a page is not in -modified_at order', async () => {
    const api = new UnsortedPartnerApi()
    const deps = incrementalDeps(api)
    await reconcile(deps)
    deps.clock.advance(15 * MIN)
    // created_at order puts H00001CH first; its modified_at is older than H00005CH's, which follows.
    touch(api, 'H00005CH', deps.clock.now())
    api.unsorted = true

    const run = await reconcile(deps)

    expect(run).toMatchObject({ mode: 'full', complete: true, warnings: ['sort_fallback'] })
    expect(await deps.store.channels.get('H00005CH')).toMatchObject({ displayName: 'Renamed H00005CH' })
  })

  it('falls back when the page says it applied another sort', async () => {
    const api = new (class extends FakePartnerApi {
      override async listChannels(query?: ListQuery): Promise<ListPage<UpstreamChannel>> {
        return { ...(await super.listChannels(query)), sort: ['created_at'] }
      }
    })()
    const deps = incrementalDeps(api)
    await reconcile(deps)
    deps.clock.advance(15 * MIN)
    expect(await reconcile(deps)).toMatchObject({ mode: 'full', warnings: ['sort_fallback'] })
  })

  it('keeps the watermark of the last good run when an incremental run fails', async () => {
    const deps = incrementalDeps()
    await reconcile(deps)
    const before = await deps.store.ops.getReconcileState()
    deps.clock.advance(15 * MIN)
    deps.partnerApi.failNext(
      'listChannels',
      () => new UpstreamError('upstream down', { upstreamStatus: 503, retryable: true }),
    )
    await expect(reconcile(deps)).rejects.toThrow(/upstream down/)
    expect((await deps.store.ops.getReconcileState())?.watermark).toBe(before?.watermark)
    // The change made while the failed run was down is still read by the next one.
    touch(deps.partnerApi, 'H00010CH', new Date(deps.clock.now().getTime() - MIN))
    deps.clock.advance(15 * MIN)
    expect(await reconcile(deps)).toMatchObject({ mode: 'incremental', changed: { clients: 0, channels: 1 } })
  })
})

describe('walkChangedSince', () => {
  it('reads exactly the items modified at or after `since`, whatever the page size and ties', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 0, maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 0, max: 21 }),
        async (minutes, pageSize, sinceMinute) => {
          const api = new FakePartnerApi()
          api.pageSize = pageSize
          const base = Date.UTC(2026, 0, 1)
          minutes.forEach((m, i) => {
            const ch = upChannel(i + 1, 1, { modified_at: new Date(base + m * MIN).toISOString() })
            api.channels.set(ch.id, ch)
          })
          const read: string[] = []
          const out = await walkChangedSince({
            list: (q) => api.listChannels(q),
            since: base + sinceMinute * MIN,
            limit: 100,
            apply: async (items) => void read.push(...items.map((c) => c.id)),
            onQuarantined: () => undefined,
            checkBudget: () => undefined,
            now: () => new Date(base),
          })
          expect(out.kind).toBe('done')
          const expected = minutes.flatMap((m, i) => (m >= sinceMinute ? [upChannel(i + 1).id] : []))
          expect([...read].sort()).toEqual(expected.sort())
          // Never more than one page past the window.
          const pagesNeeded = Math.floor(expected.length / pageSize) + 1
          expect(api.callCount('listChannels')).toBeLessThanOrEqual(pagesNeeded)
        },
      ),
      { numRuns: 60 },
    )
  })

  it('gives up on an undated item instead of guessing where it belongs', async () => {
    const api = new FakePartnerApi()
    const ch = upChannel(1, 1, { modified_at: null })
    api.channels.set(ch.id, ch)
    const out = await walkChangedSince({
      list: (q) => api.listChannels(q),
      since: 0,
      limit: 10,
      apply: async () => undefined,
      onQuarantined: () => undefined,
      checkBudget: () => undefined,
      now: () => new Date(),
    })
    expect(out).toMatchObject({ kind: 'fallback', reason: 'undated' })
  })

  it('hands a sweep the window when too many pages changed', async () => {
    const api = new FakePartnerApi()
    api.pageSize = 1
    for (let i = 1; i <= 5; i++) api.channels.set(upChannel(i).id, upChannel(i))
    const out = await walkChangedSince({
      list: (q) => api.listChannels(q),
      since: 0,
      limit: 1,
      maxPages: 3,
      apply: async () => undefined,
      onQuarantined: () => undefined,
      checkBudget: () => undefined,
      now: () => new Date(),
    })
    expect(out).toMatchObject({ kind: 'fallback', reason: 'window_too_large', pages: 3 })
  })
})

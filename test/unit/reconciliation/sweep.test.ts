import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { channelFromUpstream } from '../../../shared/domain/mapping'
import type { RunSummary } from '../../../shared/domain/types'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import type { IterateOptions } from '../../../shared/ports'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { CHECKPOINT_PAGES, SeenSet, seenHash } from '../../../shared/services/reconciliation/reconcile-sweep'
import type { FakeClock } from '../../fakes/clock'
import { FakePartnerApi } from '../../fakes/partner-api'
import { makeDeps, seedUpstream, upChannel } from './support'

/**
 * A fake upstream whose channel pages take time on the run's clock (so a small budget ends an
 * invocation after a few pages), and that can fail the walk at a given page of a given walk.
 */
class SlowPartnerApi extends FakePartnerApi {
  clock: FakeClock | null = null
  msPerPage = 0
  /** Offsets each channel walk started at, in order. */
  readonly starts: number[] = []
  /** Throws when the walk is about to yield its page number `n` (1-based, counted over all walks). */
  failAtPage: number | null = null
  pagesServed = 0

  override iterateChannels(opts?: IterateOptions): AsyncIterable<UpstreamChannel[]> {
    this.starts.push(opts?.startOffset ?? 0)
    const inner = super.iterateChannels(opts)
    const self = this
    return (async function* () {
      for await (const page of inner) {
        self.pagesServed += 1
        if (self.failAtPage !== null && self.pagesServed === self.failAtPage) {
          self.failAtPage = null
          throw new Error('process killed between pages')
        }
        self.clock?.advance(self.msPerPage)
        yield page
      }
    })()
  }
}

function sweepDeps(channels: number, env: Record<string, string> = {}) {
  const api = new SlowPartnerApi()
  api.pageSize = 2
  const deps = makeDeps({ partnerApi: api, env: { POLL_BUDGET_MS: '10000', ...env } })
  api.clock = deps.clock
  seedUpstream(api, 3, channels)
  return { deps, api }
}

/**
 * Makes missing detection's digest Scan (both lists) cost `ms` of the run's clock per page, and
 * throw at the `failAt`-th page from now (1-based; null: never), as a process killed mid-scan would.
 */
function slowScan(deps: ReturnType<typeof sweepDeps>['deps']) {
  const ctl = { ms: 0, failAt: null as number | null, pages: 0, starts: [] as (string | null)[] }
  for (const repo of [deps.store.clients, deps.store.channels] as const) {
    const scan = repo.scanDigests.bind(repo)
    repo.scanDigests = async (q) => {
      ctl.pages += 1
      ctl.starts.push(q.start)
      if (ctl.failAt !== null && ctl.pages >= ctl.failAt) {
        ctl.failAt = null
        throw new Error('process killed between scan pages')
      }
      deps.clock.advance(ctl.ms)
      return scan(q)
    }
  }
  return ctl
}

/** Runs until the sweep completes (or `max` runs), moving the clock past each run; failures included. */
async function untilDone(deps: ReturnType<typeof sweepDeps>['deps'], max = 50): Promise<RunSummary[]> {
  const runs: RunSummary[] = []
  for (let i = 0; i < max; i++) {
    let s: RunSummary
    try {
      s = await reconcile(deps, { absenceLookups: 0 })
    } catch {
      s = (await deps.store.ops.getRunSummaries()).last as RunSummary
    }
    runs.push(s)
    deps.clock.advance(60_000)
    if (s.sweep?.phase === 'done') return runs
  }
  throw new Error('sweep did not complete')
}

describe('checkpointed full sweep', () => {
  it('spans invocations when it does not fit one, each continuing at the saved offset', async () => {
    const { deps, api } = sweepDeps(40)
    // 2 channels per page, 1 s per page, 10 s budget kept back by 20 %: 8 pages per invocation.
    api.msPerPage = 1000
    const runs = await untilDone(deps)

    expect(runs.length).toBeGreaterThan(2)
    expect(runs.slice(0, -1).every((r) => r.outcome === 'succeeded' && !r.complete)).toBe(true)
    expect(runs.at(-1)).toMatchObject({ complete: true, sweep: { phase: 'done', invocations: runs.length } })
    // Every invocation started where the previous one saved; no page read twice.
    expect(api.starts[0]).toBe(0)
    for (let i = 1; i < api.starts.length; i++)
      expect(api.starts[i]).toBeGreaterThan(api.starts[i - 1] as number)
    expect(runs.reduce((n, r) => n + r.seen.channels, 0)).toBe(40)
    expect(runs.at(-1)?.sweep?.seen).toEqual({ clients: 3, channels: 40 })
    for (let n = 1; n <= 40; n++) expect(await deps.store.channels.get(upChannel(n).id)).not.toBeNull()
    // Done: the state holds no sweep, and the next sweep is an interval away.
    const state = await deps.store.ops.getReconcileState()
    expect(state?.sweep).toBeNull()
    expect(state?.lastFullSweep?.sweepId).toBe(runs[0]?.sweep?.sweepId)
  })

  it('resumes after a crash between pages from the last checkpoint, and completes', async () => {
    const pages = CHECKPOINT_PAGES + 20
    const { deps, api } = sweepDeps(pages * 2)
    // The process dies after the first checkpoint: no summary, no lease release.
    api.failAtPage = CHECKPOINT_PAGES + 10
    const release = deps.store.ops.releaseLease
    deps.store.ops.releaseLease = async () => undefined
    await expect(reconcile(deps)).rejects.toThrow('process killed')
    deps.store.ops.releaseLease = release
    const saved = (await deps.store.ops.getReconcileState())?.sweep
    expect(saved).toMatchObject({ phase: 'channels', offset: CHECKPOINT_PAGES * 2 })

    // The lease of the dead run blocks until it expires; then the sweep continues at the checkpoint.
    expect((await reconcile(deps)).outcome).toBe('skipped')
    deps.clock.advance(deps.config.POLL_LEASE_MS + 1)
    const resumed = await reconcile(deps)
    expect(resumed).toMatchObject({
      outcome: 'succeeded',
      complete: true,
      sweep: { sweepId: saved?.sweepId },
    })
    expect(api.starts.at(-1)).toBe(CHECKPOINT_PAGES * 2)
    expect(resumed.missing).toEqual({ clients: 0, channels: 0 })
    for (let n = 1; n <= pages * 2; n++) {
      expect(await deps.store.channels.get(upChannel(n).id)).toMatchObject({
        absentRuns: 0,
        missingSince: null,
      })
    }
  })

  it('resumes marking after a crash from the last saved batch, writing the same values again', async () => {
    const { deps, api } = sweepDeps(40)
    await reconcile(deps)
    const gone = [3, 9, 15, 21, 27].map((n) => upChannel(n).id)
    for (const id of gone) api.channels.delete(id)
    // One sweep counts them absent (no lookups); the next marks them missing, and dies doing it.
    await reconcile(deps, { absenceLookups: 0 })
    deps.clock.advance(60_000)
    const mark = deps.store.channels.markAbsence
    let calls = 0
    deps.store.channels.markAbsence = async (...args) => {
      calls += 1
      if (calls === 4) throw new Error('process killed while marking')
      return mark(...args)
    }
    // Batches of 2: the first batch's end is saved, the process dies in the second.
    await expect(reconcile(deps, { absenceLookups: 0, markBatch: 2 })).rejects.toThrow('killed while marking')
    deps.store.channels.markAbsence = mark
    const saved = (await deps.store.ops.getReconcileState())?.sweep
    expect(saved).toMatchObject({ phase: 'marking', absence: { marked: 2, kept: { channels: 5 } } })
    const markedAt = saved?.absence?.markedAt
    expect(markedAt).toBe(deps.clock.now().toISOString())

    deps.clock.advance(60_000)
    const resumed = await reconcile(deps, { absenceLookups: 0, markBatch: 2 })
    expect(resumed).toMatchObject({ complete: true, sweep: { phase: 'done', invocations: 2 } })
    // Batch two was done again with the values saved before the first mark: each channel counted
    // once more (not twice), all dated by the sweep's one marking time, not the resumed run's clock.
    for (const id of gone) {
      expect(await deps.store.channels.get(id)).toMatchObject({ absentRuns: 2, missingSince: markedAt })
    }
    for (const ch of api.channels.values()) {
      expect(await deps.store.channels.get(ch.id)).toMatchObject({ absentRuns: 0, missingSince: null })
    }
  })

  it('continues missing detection across invocations from the saved scan position, each stored digest read once', async () => {
    const { deps, api } = sweepDeps(60)
    await reconcile(deps)
    for (const n of [5, 50]) api.channels.delete(upChannel(n).id)
    deps.store.digestPageSize = 2
    const scan = slowScan(deps)
    // 10 s budget, yield at 8 s: each invocation scans a few rounds of 4 pages.
    scan.ms = 700
    const runs = await untilDone(deps)
    const scanning = runs.filter((r) => r.sweep?.phase === 'absence')
    expect(scanning.length).toBeGreaterThan(1)
    expect(runs.slice(0, -1).every((r) => r.outcome === 'succeeded' && r.missing.channels === 0)).toBe(true)
    // Every segment continued at its saved position: no stored digest read twice.
    const state = await deps.store.ops.getReconcileState()
    expect(state?.sweep).toBeNull()
    const scanned = scan.starts.filter((s) => s !== null)
    expect(new Set(scanned).size).toBe(scanned.length)
    for (const n of [5, 50]) {
      expect(await deps.store.channels.get(upChannel(n).id)).toMatchObject({ absentRuns: 1 })
    }
    for (const ch of api.channels.values()) {
      expect(await deps.store.channels.get(ch.id)).toMatchObject({ absentRuns: 0, missingSince: null })
    }
  })

  it('resumes after a crash between scan pages and marks exactly what the completed sweep did not see', async () => {
    const { deps, api } = sweepDeps(120)
    await reconcile(deps)
    api.channels.delete(upChannel(77).id)
    deps.store.digestPageSize = 1
    // The process dies on the third scan page after missing detection first saved its position
    // (every 25 rounds of one page per segment): the pages since are read again by the next run.
    let savedScan = false
    const save = deps.store.ops.saveReconcileState.bind(deps.store.ops)
    deps.store.ops.saveReconcileState = async (state, version) => {
      const ok = await save(state, version)
      if (state.sweep?.absence?.segments.some((seg) => seg.start !== null)) savedScan = true
      return ok
    }
    const scan = slowScan(deps)
    let after = 0
    const inner = deps.store.channels.scanDigests
    deps.store.channels.scanDigests = async (q) => {
      if (savedScan && ++after === 3) throw new Error('process killed between scan pages')
      return inner(q)
    }
    const release = deps.store.ops.releaseLease
    deps.store.ops.releaseLease = async () => undefined
    await expect(reconcile(deps, { absenceLookups: 0 })).rejects.toThrow('killed between scan pages')
    deps.store.ops.releaseLease = release
    deps.store.channels.scanDigests = inner
    const saved = (await deps.store.ops.getReconcileState())?.sweep
    expect(saved?.phase).toBe('absence')
    expect(saved?.absence?.kind).toBe('channels')
    const positions = saved?.absence?.segments.map((seg) => seg.start)
    expect(positions?.some((p) => p !== null)).toBe(true)
    expect(await deps.store.channels.get(upChannel(77).id)).toMatchObject({ absentRuns: 0 })

    deps.clock.advance(deps.config.POLL_LEASE_MS + 1)
    const startsBefore = scan.starts.length
    const resumed = await reconcile(deps, { absenceLookups: 0 })
    expect(resumed).toMatchObject({ outcome: 'succeeded', complete: true, sweep: { phase: 'done' } })
    // The resumed scan began at the saved positions, not at the start of the table.
    expect(scan.starts.slice(startsBefore, startsBefore + 4).sort()).toEqual([...(positions ?? [])].sort())
    expect(await deps.store.channels.get(upChannel(77).id)).toMatchObject({ absentRuns: 1 })
    for (const ch of api.channels.values()) {
      expect(await deps.store.channels.get(ch.id)).toMatchObject({ absentRuns: 0, missingSince: null })
    }
  })

  it('leaves a stored channel dated after the sweep began for the next sweep, though the walk did not see it', async () => {
    const { deps, api } = sweepDeps(20)
    api.msPerPage = 1500
    // The sweep walks past the end of the list; then a channel is created upstream, and stored by
    // its webhook before missing detection reads the store.
    const late = upChannel(99, 1, {
      created_at: '2026-01-15T10:00:05.000Z',
      modified_at: '2026-01-15T10:00:05.000Z',
    })
    const scan = deps.store.channels.scanDigests.bind(deps.store.channels)
    let stored = false
    deps.store.channels.scanDigests = async (q) => {
      if (!stored) {
        stored = true
        await deps.store.channels.putIfNewer(
          channelFromUpstream(late, {
            now: deps.clock.now(),
            source: 'webhook',
            kind: 'snapshot',
            previous: null,
          }),
        )
      }
      return scan(q)
    }
    const runs = await untilDone(deps)
    expect(runs.at(-1)?.sweep?.phase).toBe('done')
    expect(await deps.store.channels.get(late.id)).toMatchObject({ absentRuns: 0, missingSince: null })
  })

  it('never marks anything missing wrongly from a sweep interrupted anywhere: walk, scan or marking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 4 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 1500 }),
        fc.record({
          digestPage: fc.integer({ min: 1, max: 5 }),
          msPerScan: fc.integer({ min: 0, max: 2500 }),
          scanFailures: fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 2 }),
          markFailures: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
          markBatch: fc.integer({ min: 1, max: 3 }),
        }),
        async (channels, pageSize, gone, failAt, msPerPage, missing) => {
          const { deps, api } = sweepDeps(channels, { POLL_BUDGET_MS: '5000' })
          api.pageSize = pageSize
          // A first complete sweep stores everything; then some channels go, and a new sweep is
          // interrupted by failures at random pages of its walk, of missing detection's scan and of
          // its marking, and by the budget.
          await reconcile(deps)
          const goneIds = gone.filter((n) => n <= channels).map((n) => upChannel(n).id)
          for (const id of goneIds) api.channels.delete(id)
          api.msPerPage = msPerPage
          deps.store.digestPageSize = missing.digestPage
          const scan = slowScan(deps)
          scan.ms = missing.msPerScan
          const scanFailures = [...missing.scanFailures]
          scan.failAt = scanFailures.length > 0 ? (scanFailures.shift() as number) : null
          const markFailures = [...missing.markFailures]
          const mark = deps.store.channels.markAbsence.bind(deps.store.channels)
          let marks = 0
          let markFailAt = markFailures.shift() ?? null
          deps.store.channels.markAbsence = async (...args) => {
            marks += 1
            if (markFailAt !== null && marks >= markFailAt) {
              const next = markFailures.shift()
              markFailAt = next === undefined ? null : marks + next
              throw new Error('process killed while marking')
            }
            return mark(...args)
          }
          const failures = [...failAt]
          api.failAtPage = failures.shift() ?? null
          const runs: RunSummary[] = []
          for (let i = 0; i < 300; i++) {
            let s: RunSummary
            try {
              s = await reconcile(deps, { absenceLookups: 0, markBatch: missing.markBatch })
            } catch {
              s = (await deps.store.ops.getRunSummaries()).last as RunSummary
              if (api.failAtPage === null) {
                const next = failures.shift()
                api.failAtPage = next === undefined ? null : api.pagesServed + next
              }
              if (scan.failAt === null) {
                const next = scanFailures.shift()
                scan.failAt = next === undefined ? null : scan.pages + next
              }
            }
            runs.push(s)
            deps.clock.advance(60_000)
            if (s.sweep?.phase === 'done') break
            // Until missing detection's scan has completed, nothing is marked or even counted absent.
            if ((await deps.store.ops.getReconcileState())?.sweep?.phase !== 'marking') {
              for (const id of goneIds) {
                expect(await deps.store.channels.get(id)).toMatchObject({ absentRuns: 0, missingSince: null })
              }
            }
            // A channel still listed upstream is never counted absent, whatever was interrupted.
            for (const ch of api.channels.values()) {
              expect(await deps.store.channels.get(ch.id)).toMatchObject({
                absentRuns: 0,
                missingSince: null,
              })
            }
          }
          expect(runs.at(-1)?.sweep?.phase).toBe('done')
          for (const ch of api.channels.values()) {
            expect(await deps.store.channels.get(ch.id)).toMatchObject({ absentRuns: 0, missingSince: null })
          }
          // One completed sweep counts each gone channel absent exactly once (no lookups: two sweeps mark it).
          for (const id of goneIds) {
            expect(await deps.store.channels.get(id)).toMatchObject({ absentRuns: 1, missingSince: null })
          }
        },
      ),
      { numRuns: 40 },
    )
  })

  it('marks a channel missing only after the sweep that did not see it completed end to end', async () => {
    const { deps, api } = sweepDeps(30)
    await reconcile(deps)
    api.channels.delete(upChannel(7).id)
    api.msPerPage = 1500
    const runs = await untilDone(deps)
    expect(runs.length).toBeGreaterThan(1)
    expect(runs.slice(0, -1).every((r) => r.missing.channels === 0)).toBe(true)
    expect(await deps.store.channels.get(upChannel(7).id)).toMatchObject({ absentRuns: 1 })
    // With a lookup allowed, the completed sweep confirms it gone at once.
    const again = await untilDoneWithLookups(deps)
    expect(again.at(-1)?.missing.channels).toBe(1)
    expect((await deps.store.channels.get(upChannel(7).id))?.missingSince).not.toBeNull()
  })

  it('hands the next incremental run the sweep start as watermark, so a change behind the walk is read', async () => {
    const { deps, api } = sweepDeps(40, { FULL_SWEEP_INTERVAL_SECONDS: '86400' })
    api.msPerPage = 1000
    const first = await reconcile(deps)
    expect(first).toMatchObject({ complete: false, sweep: { phase: 'channels' } })
    const sweepStart = first.startedAt
    // Upstream renames channel 1, which the walk has already passed, while the sweep is under way.
    deps.clock.advance(60_000)
    const one = api.channels.get(upChannel(1).id) as UpstreamChannel
    api.channels.set(one.id, {
      ...one,
      setup_info: { ...one.setup_info, phone_name: 'Renamed behind the walk' },
      modified_at: deps.clock.now().toISOString(),
    })
    const runs = await untilDone(deps)
    expect(runs.length).toBeGreaterThan(1)
    expect(await deps.store.channels.get(one.id)).toMatchObject({ displayName: 'Channel 1' })
    expect((await deps.store.ops.getReconcileState())?.watermark).toBe(sweepStart)

    api.msPerPage = 0
    const next = await reconcile(deps)
    expect(next).toMatchObject({ mode: 'incremental', changed: { channels: 1 } })
    expect(await deps.store.channels.get(one.id)).toMatchObject({ displayName: 'Renamed behind the walk' })
  })

  it('writes only its own bookkeeping when a small unchanged fleet sweeps in one invocation', async () => {
    const { deps } = sweepDeps(10)
    await reconcile(deps)
    const before = deps.store.stats.writes
    const s = await reconcile(deps)
    expect(s).toMatchObject({
      complete: true,
      changed: { clients: 0, channels: 0 },
      sweep: { phase: 'done' },
    })
    // Lease, reconciliation state, summary, release: no checkpoint and no seen-id chunk was needed.
    expect(deps.store.stats.writes - before).toBe(4)
  })
})

async function untilDoneWithLookups(deps: ReturnType<typeof sweepDeps>['deps']): Promise<RunSummary[]> {
  const runs: RunSummary[] = []
  for (let i = 0; i < 50; i++) {
    const s = await reconcile(deps)
    runs.push(s)
    deps.clock.advance(60_000)
    if (s.sweep?.phase === 'done') return runs
  }
  throw new Error('sweep did not complete')
}

describe('SeenSet', () => {
  it('finds exactly the hashes it was given, from unaligned chunks and unsaved ones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 200 }),
        fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 50 }),
        async (saved, others) => {
          const hashes = Uint32Array.from(saved.map((id) => seenHash('sw', id)))
          // An odd offset into a bigger buffer: the bytes are not 4-aligned.
          const raw = new Uint8Array(hashes.byteLength + 1)
          raw.set(new Uint8Array(hashes.buffer), 1)
          const chunk = raw.subarray(1)
          const unsaved = saved.slice(0, 3).map((id) => seenHash('sw', `${id}!`))
          const set = await SeenSet.load(
            (async function* () {
              yield chunk
            })(),
            unsaved,
          )
          for (const id of saved) expect(set.has(seenHash('sw', id))).toBe(true)
          for (const h of unsaved) expect(set.has(h)).toBe(true)
          const known = new Set([...hashes, ...unsaved])
          for (const id of others) expect(set.has(seenHash('sw', id))).toBe(known.has(seenHash('sw', id)))
        },
      ),
    )
  })

  it('salts the hash with the sweep id', () => {
    expect(seenHash('a', 'H00001CH')).not.toBe(seenHash('b', 'H00001CH'))
    expect(seenHash('a', 'H00001CH')).toBe(seenHash('a', 'H00001CH'))
  })
})

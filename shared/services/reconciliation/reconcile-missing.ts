import type { AbsenceProgress, Digest, SweepCheckpoint, SweepKind } from '../../ports'
import { type AbsenceContext, markAbsentChannels, markAbsentClients } from './reconcile-absence'
import { massMissing } from './reconcile-guards'
import type { Run } from './reconcile-run'
import { SeenSet, seenHash } from './reconcile-seen'

/**
 * Missing detection of a full sweep (README, Reconciliation), in two resumable steps after both lists
 * were walked end to end:
 *
 * 1. **Scan** (phase `absence`): every stored digest, clients then channels, by a DynamoDB parallel
 *    Scan of {@link SCAN_SEGMENTS} segments, page by page, tested against the sweep's seen hashes.
 *    The segments' positions, the counts and the absent items found are saved every few rounds and
 *    when the run's budget reserve is reached; the next invocation continues there. A crash loses at
 *    most the rounds since the last save, which are read again (nothing is written before step 2).
 * 2. **Marking** (phase `marking`): once the scan completed, unless too many stored items are absent
 *    (`mass_missing_halted`), the absent items kept are handled in batches (lookup by id, absence
 *    count, missing mark), each batch's end saved. Every mark is computed from the digest as it was
 *    scanned, written only while the stored order key is still that one, and dated `markedAt`, which
 *    is saved before the first mark: a batch done again after a crash writes the same values again,
 *    so no absence is ever counted twice.
 */

/** Segments of the parallel Scan; fixed for a scan when it begins (saved with its positions). */
export const SCAN_SEGMENTS = 4
/**
 * The scan saves its position after this many rounds (one page per unfinished segment each), or this
 * long after the last save, whichever is first (as the walk does every 50 pages or 30 s).
 */
export const SCAN_ROUNDS_PER_SAVE = 25
export const SCAN_SAVE_MS = 30_000
/** Absent items kept for marking, per list and sweep; more are counted (for the halt rule) and wait for the next sweep. */
export const ABSENT_HANDLED_PER_SWEEP = 10_000
/** Absent items marked between two saves of the marking position. */
export const MARK_BATCH = 500
/** Kept absent items per chunk in the ops table: about 250 KB of JSON, under DynamoDB's 400 KB item limit. */
const KEPT_PER_CHUNK = 1_500
/** The sweep id under which absent items are kept (the seen-id chunks' store, another key). */
const keptKey = (sweepId: string): string => `${sweepId}/absent`

const zero = (): Record<SweepKind, number> => ({ clients: 0, channels: 0 })
const freshSegments = (): AbsenceProgress['segments'] =>
  Array.from({ length: SCAN_SEGMENTS }, () => ({ start: null, done: false }))

/** Missing detection before its first scan page. */
export function newAbsence(): AbsenceProgress {
  return {
    kind: 'clients',
    segments: freshSegments(),
    scanned: zero(),
    absent: zero(),
    kept: zero(),
    keptChunks: zero(),
    pages: 0,
    halted: false,
    markedAt: null,
    marked: 0,
  }
}

/** What missing detection needs from the sweep. */
export interface MissingContext {
  /** Saves the sweep's checkpoint (its seen hashes first) under the lease. */
  checkpoint(): Promise<void>
  /** Seen hashes of this invocation not saved in chunks yet, per list. */
  pending: Record<SweepKind, number[]>
  /** Lookups by id allowed in this run. */
  absenceLookups: number
  /** Absent items marked between two saves of the marking position. */
  markBatch: number
  /** Seconds since the epoch when saved chunks expire (DynamoDB TTL). */
  expiresAt(): number
}

/**
 * Whether a stored digest proves nothing about absence although the sweep did not see its id: its
 * fact is dated at or after the sweep began (an order key starts with the fact's time), so the item
 * existed upstream since then (e.g. created after the walk passed the end of its list, and stored
 * by a webhook). It is left for the next sweep.
 */
function youngerThanSweep(d: Digest, cp: SweepCheckpoint): boolean {
  return d.orderKey.slice(0, cp.startedAt.length) >= cp.startedAt
}

/**
 * Scans the stored digests from the saved positions as far as the budget goes; true when both lists
 * were scanned to the end (the halt rule is then decided and saved with the scan's result).
 */
export async function scanStored(run: Run, cp: SweepCheckpoint, ctx: MissingContext): Promise<boolean> {
  const { store, clock } = run.deps
  cp.absence ??= newAbsence()
  const a = cp.absence
  const kept: Record<SweepKind, Digest[]> = { clients: [], channels: [] }
  let rounds = 0
  let lastSave = clock.now().getTime()
  const save = async (): Promise<void> => {
    await saveKept(run, cp, a, kept, ctx)
    await ctx.checkpoint()
    rounds = 0
    lastSave = clock.now().getTime()
  }
  for (;;) {
    const kind = a.kind
    const seen = await SeenSet.load(store.ops.seenChunks(cp.sweepId, kind), ctx.pending[kind])
    // A list whose walk quarantined an item without an id proves no absence: its absent are only counted.
    const keep = cp.unnamedQuarantined[kind] === 0
    while (a.segments.some((s) => !s.done)) {
      if (run.shouldYield()) {
        await save()
        run.deps.logger.info('missing detection continues in the next invocation', {
          runId: run.runId,
          sweepId: cp.sweepId,
          kind,
          scanned: a.scanned[kind],
        })
        return false
      }
      // One page per unfinished segment, side by side; each page is tested and its position moved as
      // one step, so whatever is saved between rounds is consistent.
      await Promise.all(
        a.segments.map(async (seg, segment) => {
          if (seg.done) return
          const page = await store[kind].scanDigests({
            segment,
            segments: a.segments.length,
            start: seg.start,
          })
          a.pages += 1
          for (const d of page.items) {
            a.scanned[kind] += 1
            if (d.missingSince !== null || seen.has(seenHash(cp.sweepId, d.id))) continue
            if (youngerThanSweep(d, cp)) continue
            a.absent[kind] += 1
            if (keep && a.kept[kind] + kept[kind].length < ABSENT_HANDLED_PER_SWEEP) kept[kind].push(d)
          }
          seg.start = page.next
          seg.done = page.next === null
        }),
      )
      rounds += 1
      if (rounds >= SCAN_ROUNDS_PER_SAVE || clock.now().getTime() - lastSave >= SCAN_SAVE_MS) await save()
    }
    if (kind === 'channels') break
    a.kind = 'channels'
    a.segments = freshSegments()
  }
  a.halted =
    massMissing(a.absent.channels, a.scanned.channels) || massMissing(a.absent.clients, a.scanned.clients)
  await saveKept(run, cp, a, kept, ctx)
  return true
}

/** Saves absent items found since the last save as chunks (before the position that covers them). */
async function saveKept(
  run: Run,
  cp: SweepCheckpoint,
  a: AbsenceProgress,
  kept: Record<SweepKind, Digest[]>,
  ctx: MissingContext,
): Promise<void> {
  for (const kind of ['clients', 'channels'] as const) {
    const items = kept[kind]
    for (let i = 0; i < items.length; i += KEPT_PER_CHUNK) {
      const index = a.keptChunks[kind]
      const body = JSON.stringify({ i: index, d: items.slice(i, i + KEPT_PER_CHUNK) })
      await run.deps.store.ops.saveSeenChunk(
        keptKey(cp.sweepId),
        kind,
        index,
        new TextEncoder().encode(body),
        ctx.expiresAt(),
      )
      a.keptChunks[kind] += 1
    }
    a.kept[kind] += items.length
    kept[kind] = []
  }
}

/**
 * The absent items kept for a list, in id order. A chunk saved by a run that died before saving its
 * position (index at or past the saved count) is left out: its pages are scanned again.
 */
async function loadKept(run: Run, cp: SweepCheckpoint, kind: SweepKind): Promise<Digest[]> {
  const a = cp.absence as AbsenceProgress
  const byId = new Map<string, Digest>()
  for await (const bytes of run.deps.store.ops.seenChunks(keptKey(cp.sweepId), kind)) {
    const chunk = JSON.parse(new TextDecoder().decode(bytes)) as { i: number; d: Digest[] }
    if (chunk.i >= a.keptChunks[kind]) continue
    for (const d of chunk.d) if (!byId.has(d.id)) byId.set(d.id, d)
  }
  return [...byId.values()].sort((x, y) => (x.id < y.id ? -1 : 1))
}

/** True when the scan found anything to mark (or halted, which the marking phase reports). */
export function hasWork(cp: SweepCheckpoint): boolean {
  const a = cp.absence
  return a !== undefined && (a.halted || a.kept.channels + a.kept.clients > 0)
}

/**
 * Marks what the scan kept, from the saved position, in batches; true when all is handled, false when
 * the budget's reserve was reached (the position is saved). Channels first, then clients.
 */
export async function markKept(run: Run, cp: SweepCheckpoint, ctx: MissingContext): Promise<boolean> {
  const { deps, tally } = run
  const a = cp.absence as AbsenceProgress
  if (a.halted) {
    run.warnings.add('mass_missing_halted')
    if (!cp.warnings.includes('mass_missing_halted')) cp.warnings.push('mass_missing_halted')
    deps.logger.error('missing detection halted: too many stored items absent upstream', {
      runId: run.runId,
      absentChannels: a.absent.channels,
      storedChannels: a.scanned.channels,
      absentClients: a.absent.clients,
      storedClients: a.scanned.clients,
    })
    return true
  }
  const channels = await loadKept(run, cp, 'channels')
  const clients = await loadKept(run, cp, 'clients')
  const ctxAbsence: AbsenceContext = {
    now: new Date(a.markedAt ?? deps.clock.now().toISOString()),
    lookupBudget: { remaining: ctx.absenceLookups },
    concurrency: deps.config.POLL_CONCURRENCY,
    checkBudget: () => run.checkBudget(),
  }
  const total = channels.length + clients.length
  while (a.marked < total) {
    if (run.shouldYield()) {
      await ctx.checkpoint()
      return false
    }
    const from = a.marked
    const to = Math.min(total, from + Math.max(1, ctx.markBatch))
    const outcomes = [
      await markAbsentChannels(channels.slice(from, Math.min(to, channels.length)), ctxAbsence, {
        findChannel: (id) => deps.partnerApi.findChannel(id),
        markAbsence: (id, key, runs, since) => deps.store.channels.markAbsence(id, key, runs, since),
        applyFound: (up) => run.applyChannel(up),
      }),
      await markAbsentClients(
        clients.slice(Math.max(0, from - channels.length), Math.max(0, to - channels.length)),
        ctxAbsence,
        {
          findClient: (id) => deps.partnerApi.findClient(id),
          get: (id) => deps.store.clients.get(id),
          putIfVersion: (client, key) => deps.store.clients.putIfVersion(client, key),
          applyFound: (up) => run.applyClient(up),
        },
      ),
    ]
    const [ch, cl] = outcomes as [(typeof outcomes)[0], (typeof outcomes)[1]]
    tally.missing.channels += ch.missing
    tally.missing.clients += cl.missing
    tally.lookups += ch.lookups + cl.lookups
    tally.recovered += ch.recovered + cl.recovered
    tally.bookkeepingWrites += ch.writes + cl.writes
    tally.seen.channels += ch.recovered
    tally.seen.clients += cl.recovered
    a.marked = to
    if (a.marked < total) await ctx.checkpoint()
  }
  return true
}

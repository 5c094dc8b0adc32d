import type { SweepCheckpoint, SweepKind, WalkTotals } from '../../ports'
import { hasWork, MARK_BATCH, type MissingContext, markKept, scanStored } from './reconcile-missing'
import type { Run } from './reconcile-run'
import { seenHash } from './reconcile-seen'

export { ABSENT_HANDLED_PER_SWEEP, MARK_BATCH, SCAN_SEGMENTS } from './reconcile-missing'
export { SeenSet, seenHash } from './reconcile-seen'

/** Stable sort of the sweeps: new items land at the end, so inserts during a walk shift nothing already read. */
export const CHANNEL_SORT = ['created_at', 'id']
export const CLIENT_SORT = ['created_at', 'id']
/** A sweep saves its position after this many pages, or this long after the last save, whichever is first. */
export const CHECKPOINT_PAGES = 50
export const CHECKPOINT_MS = 30_000
/** Seen-id chunks (and kept absent items) outlive any sweep that could still read them (DynamoDB TTL). */
export const SEEN_CHUNK_TTL_SECONDS = 3 * 86_400
/** Hashes per chunk item: 360 KB, under DynamoDB's 400 KB item limit. */
const CHUNK_HASHES = 90_000

/** A new sweep, positioned at the start of the clients list. */
export function newSweep(
  sweepId: string,
  startedAt: Date,
  reason: SweepCheckpoint['reason'],
): SweepCheckpoint {
  const zero = (): Record<SweepKind, number> => ({ clients: 0, channels: 0 })
  return {
    sweepId,
    startedAt: startedAt.toISOString(),
    reason,
    phase: 'clients',
    offset: 0,
    invocations: 0,
    chunks: zero(),
    pages: 0,
    calls: 0,
    seen: zero(),
    changed: zero(),
    quarantined: 0,
    walked: zero(),
    unnamedQuarantined: zero(),
    warnings: [],
    updatedAt: startedAt.toISOString(),
  }
}

/** What continuing a sweep needs beyond the run. */
export interface SweepOptions {
  /** Saves the checkpoint under the poll lease (compare-and-set); throws when the state moved. */
  save(cp: SweepCheckpoint): Promise<void>
  /** Lookups by id allowed for absent items (clients and channels together). */
  absenceLookups: number
  /** Absent items marked between two saves (default {@link MARK_BATCH}). */
  markBatch?: number
}

/**
 * Continues a full sweep from its checkpoint as far as this invocation's budget goes: the clients
 * list, then the channels list (both from the saved offset, page by page, each page compared with its
 * stored digests in one batch read), then missing detection (reconcile-missing.ts: a scan of the
 * stored digests against the seen hashes, then the marking of what it found absent). The position,
 * the sweep's counters and the hashes of the ids it saw are saved every few pages and before the
 * budget runs out, so the next invocation continues there; a crash loses at most the work since the
 * last save, which is done again. Missing detection runs only once both lists were walked end to
 * end, and holds no more than the seen hashes and one round of scanned pages in memory. Returns the
 * checkpoint and whether the sweep completed.
 */
export async function continueSweep(
  run: Run,
  start: SweepCheckpoint,
  opts: SweepOptions,
): Promise<{ cp: SweepCheckpoint; done: boolean }> {
  const { logger, store, clock, partnerApi } = run.deps
  const cp: SweepCheckpoint = structuredClone({ ...start, invocations: start.invocations + 1 })
  // Hashes of ids seen since the last save, per list: saved as chunks with the next checkpoint, or
  // handed to missing detection directly when the walk ends in this invocation.
  const pending: Record<SweepKind, number[]> = { clients: [], channels: [] }
  let callsAtSave = partnerApi.stats().calls
  const expiresAt = (): number => Math.floor(clock.now().getTime() / 1000) + SEEN_CHUNK_TTL_SECONDS

  /** Chunks first, then the position: a crash in between only means that work is done again. */
  const checkpoint = async (): Promise<void> => {
    for (const kind of ['clients', 'channels'] as const) {
      const hashes = pending[kind]
      for (let i = 0; i < hashes.length; i += CHUNK_HASHES) {
        const part = Uint32Array.from(hashes.slice(i, i + CHUNK_HASHES))
        await store.ops.saveSeenChunk(
          cp.sweepId,
          kind,
          cp.chunks[kind],
          new Uint8Array(part.buffer),
          expiresAt(),
        )
        cp.chunks[kind] += 1
      }
      pending[kind] = []
    }
    const calls = partnerApi.stats().calls
    cp.calls += calls - callsAtSave
    callsAtSave = calls
    cp.updatedAt = clock.now().toISOString()
    await opts.save(cp)
  }
  const missing: MissingContext = {
    checkpoint,
    pending,
    absenceLookups: opts.absenceLookups,
    markBatch: opts.markBatch ?? MARK_BATCH,
    expiresAt,
  }

  for (;;) {
    if (cp.phase === 'clients' || cp.phase === 'channels') {
      if (!(await walkList(run, cp, cp.phase, pending, checkpoint))) return { cp, done: false }
      cp.phase = cp.phase === 'clients' ? 'channels' : 'absence'
      cp.offset = 0
      continue
    }
    if (cp.phase === 'absence') {
      if (!(await scanStored(run, cp, missing))) return { cp, done: false }
      // Nothing absent: done, with nothing more to save than the end of the sweep.
      if (!hasWork(cp)) break
      // From here on absences are counted: the phase and the time every mark carries are saved
      // before the first one, so a resumed run marks the same items with the same values.
      cp.phase = 'marking'
      if (cp.absence) cp.absence.markedAt = clock.now().toISOString()
      await checkpoint()
      continue
    }
    if (cp.absence === undefined) {
      // Saved by a version that did not keep its absent items: nothing more is marked this sweep.
      logger.warn('full sweep resumed after an interrupted missing detection: nothing more is marked', {
        runId: run.runId,
        sweepId: cp.sweepId,
      })
      break
    }
    if (!(await markKept(run, cp, missing))) return { cp, done: false }
    break
  }
  cp.calls += partnerApi.stats().calls - callsAtSave
  return { cp, done: true }
}

/**
 * Walks one list from the checkpoint's offset, saving every few pages; true when it reached the end,
 * false when the budget's reserve was reached (the position is saved).
 */
async function walkList(
  run: Run,
  cp: SweepCheckpoint,
  kind: SweepKind,
  pending: Record<SweepKind, number[]>,
  checkpoint: () => Promise<void>,
): Promise<boolean> {
  const { partnerApi, clock, config, logger } = run.deps
  let position = cp.offset
  let pagesSinceSave = 0
  let lastSave = clock.now().getTime()
  let completed: WalkTotals | null = null
  const save = async (): Promise<void> => {
    cp.offset = position
    await checkpoint()
    pagesSinceSave = 0
    lastSave = clock.now().getTime()
  }

  const walk = {
    sort: kind === 'clients' ? CLIENT_SORT : CHANNEL_SORT,
    limit: config.POLL_PAGE_SIZE,
    concurrency: config.POLL_CONCURRENCY,
    budgetMs: run.remainingMs(),
    startOffset: cp.offset,
    onPage: ({ offset, received }: { offset: number; received: number }) => {
      position = offset + received
      run.tally.pages += 1
      cp.pages += 1
    },
    onQuarantined: (items: Parameters<Run['onQuarantined']>[0]) => {
      run.onQuarantined(items)
      cp.quarantined += items.length
      cp.walked[kind] += items.length
      for (const q of items) {
        // A quarantined item is still listed: never taken for absent. Without an id it cannot be
        // matched at all, so this list proves no absence in this sweep.
        if (q.id === null) cp.unnamedQuarantined[kind] += 1
        else pending[kind].push(seenHash(cp.sweepId, q.id))
      }
    },
    onComplete: (totals: WalkTotals) => {
      completed = totals
    },
  }
  const pages = kind === 'clients' ? partnerApi.iterateClients(walk) : partnerApi.iterateChannels(walk)
  for await (const page of pages) {
    const changedBefore = run.tally.changed[kind]
    const now = clock.now()
    if (kind === 'clients') await run.applyClients(page as Parameters<Run['applyClients']>[0], now)
    else await run.applyChannels(page as Parameters<Run['applyChannels']>[0], now)
    cp.changed[kind] += run.tally.changed[kind] - changedBefore
    cp.seen[kind] += page.length
    cp.walked[kind] += page.length
    for (const item of page) pending[kind].push(seenHash(cp.sweepId, item.id))
    pagesSinceSave += 1
    if (run.shouldYield()) {
      await save()
      logger.info('full sweep continues in the next invocation', {
        runId: run.runId,
        sweepId: cp.sweepId,
        phase: kind,
        offset: cp.offset,
      })
      return false
    }
    if (pagesSinceSave >= CHECKPOINT_PAGES || clock.now().getTime() - lastSave >= CHECKPOINT_MS) await save()
  }
  const totals = completed as WalkTotals | null
  if (totals !== null && cp.walked[kind] !== totals.total) {
    run.warnings.add('total_mismatch')
    if (!cp.warnings.includes('total_mismatch')) cp.warnings.push('total_mismatch')
    logger.warn('reconciliation walk does not add up to the upstream total', {
      runId: run.runId,
      kind,
      total: totals.total,
      walked: cp.walked[kind],
    })
  }
  return true
}

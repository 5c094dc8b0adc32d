import { createHash } from 'node:crypto'
import type { Digest, SweepCheckpoint, SweepKind, WalkTotals } from '../../ports'
import { type AbsenceContext, markAbsentChannels, markAbsentClients } from './reconcile-absence'
import { massMissing } from './reconcile-guards'
import type { Run } from './reconcile-run'

/** Stable sort of the sweeps: new items land at the end, so inserts during a walk shift nothing already read. */
export const CHANNEL_SORT = ['created_at', 'id']
export const CLIENT_SORT = ['created_at', 'id']
/** A sweep saves its position after this many pages, or this long after the last save, whichever is first. */
export const CHECKPOINT_PAGES = 50
export const CHECKPOINT_MS = 30_000
/**
 * Missing detection begins only with at least this share of the run's budget ahead (it reads every
 * stored digest once); otherwise the sweep saves and the next invocation starts it.
 */
export const ABSENCE_NEEDS_SHARE = 0.5
/** Absent items one sweep handles (looked up, counted, marked); more wait for the next sweep. */
export const ABSENT_HANDLED_PER_SWEEP = 10_000
/** Seen-id chunks outlive any sweep that could still read them (DynamoDB TTL). */
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

/**
 * The 32-bit hash a sweep records for an id it saw. Salted with the sweep id, so two ids that collide
 * in one sweep do not collide in the next. A collision can only make an unseen item look seen, which
 * delays its missing mark by one sweep; it never makes a listed item look absent.
 */
export function seenHash(sweepId: string, id: string): number {
  return createHash('sha1').update(sweepId).update('\u0000').update(id).digest().readUInt32LE(0)
}

/** The hashes of one list a sweep saw, sorted, for membership tests while stored digests stream past. */
export class SeenSet {
  private constructor(private readonly sorted: Uint32Array) {}

  /** The saved chunks plus the hashes not saved yet. */
  static async load(chunks: AsyncIterable<Uint8Array>, unsaved: readonly number[] = []): Promise<SeenSet> {
    const parts: Uint32Array[] = [Uint32Array.from(unsaved)]
    let size = unsaved.length
    for await (const chunk of chunks) {
      // A copy: a chunk's bytes need not be aligned for a Uint32Array view.
      const part = new Uint32Array(chunk.slice().buffer, 0, Math.floor(chunk.byteLength / 4))
      parts.push(part)
      size += part.length
    }
    const all = new Uint32Array(size)
    let at = 0
    for (const part of parts) {
      all.set(part, at)
      at += part.length
    }
    return new SeenSet(all.sort())
  }

  get size(): number {
    return this.sorted.length
  }

  /** Binary search (a typed array has no sorted lookup of its own). */
  has(hash: number): boolean {
    let lo = 0
    let hi = this.sorted.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = this.sorted[mid] as number
      if (v === hash) return true
      if (v < hash) lo = mid + 1
      else hi = mid - 1
    }
    return false
  }
}

/** What continuing a sweep needs beyond the run. */
export interface SweepOptions {
  /** Saves the checkpoint under the poll lease (compare-and-set); throws when the state moved. */
  save(cp: SweepCheckpoint): Promise<void>
  /** Lookups by id allowed for absent items (clients and channels together). */
  absenceLookups: number
}

/**
 * Continues a full sweep from its checkpoint as far as this invocation's budget goes: the clients
 * list, then the channels list (both from the saved offset, page by page, each page compared with its
 * stored digests in one batch read), then missing detection. The position, the sweep's counters and
 * the hashes of the ids it saw are saved every few pages and before the budget runs out, so the next
 * invocation continues there; a crash loses at most the pages since the last save, which are read
 * again. Missing detection runs only once both lists were walked end to end, and reads the stored
 * digests page by page against the seen hashes (never every digest in memory). Returns the checkpoint
 * and whether the sweep completed.
 */
export async function continueSweep(
  run: Run,
  start: SweepCheckpoint,
  opts: SweepOptions,
): Promise<{ cp: SweepCheckpoint; done: boolean }> {
  const { logger, config, store, clock, partnerApi } = run.deps
  const cp: SweepCheckpoint = structuredClone({ ...start, invocations: start.invocations + 1 })
  // Hashes of ids seen since the last save, per list: saved as chunks with the next checkpoint, or
  // handed to missing detection directly when the sweep ends in this invocation.
  const pending: Record<SweepKind, number[]> = { clients: [], channels: [] }
  let callsAtSave = partnerApi.stats().calls

  /** Chunks first, then the position: a crash in between only means those pages are read again. */
  const checkpoint = async (): Promise<void> => {
    const expiresAt = Math.floor(clock.now().getTime() / 1000) + SEEN_CHUNK_TTL_SECONDS
    for (const kind of ['clients', 'channels'] as const) {
      const hashes = pending[kind]
      for (let i = 0; i < hashes.length; i += CHUNK_HASHES) {
        const part = Uint32Array.from(hashes.slice(i, i + CHUNK_HASHES))
        await store.ops.saveSeenChunk(
          cp.sweepId,
          kind,
          cp.chunks[kind],
          new Uint8Array(part.buffer),
          expiresAt,
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

  for (;;) {
    if (cp.phase === 'clients' || cp.phase === 'channels') {
      if (!(await walkList(run, cp, cp.phase, pending, checkpoint))) return { cp, done: false }
      cp.phase = cp.phase === 'clients' ? 'channels' : 'absence'
      cp.offset = 0
      continue
    }
    if (cp.phase === 'absence') {
      if (run.remainingMs() < config.POLL_BUDGET_MS * ABSENCE_NEEDS_SHARE) {
        // Not enough of this invocation left to read every digest: the next one starts with all of it.
        await checkpoint()
        return { cp, done: false }
      }
      const absent = await findAbsent(run, cp, pending)
      if (absent === null) {
        await checkpoint()
        return { cp, done: false }
      }
      if (absent.channels.length + absent.clients.length > 0) {
        // From here on absences are counted: an invocation resumed past this point must not count
        // them again, so the phase is saved before the first mark.
        cp.phase = 'marking'
        await checkpoint()
      }
      await markAbsent(run, cp, absent, opts)
      cp.calls += partnerApi.stats().calls - callsAtSave
      return { cp, done: true }
    }
    logger.warn(
      'full sweep resumed after an interrupted missing detection: nothing more is marked this sweep',
      {
        runId: run.runId,
        sweepId: cp.sweepId,
      },
    )
    return { cp, done: true }
  }
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

/** Stored items the sweep did not see, per list (the first few thousand), with how many are stored. */
interface Absent {
  clients: Digest[]
  channels: Digest[]
  absentCount: Record<SweepKind, number>
  stored: Record<SweepKind, number>
}

/** Reads every stored digest page by page against the seen hashes; null when the budget ran out first. */
async function findAbsent(
  run: Run,
  cp: SweepCheckpoint,
  pending: Record<SweepKind, number[]>,
): Promise<Absent | null> {
  const { store } = run.deps
  const out: Absent = {
    clients: [],
    channels: [],
    absentCount: { clients: 0, channels: 0 },
    stored: { clients: 0, channels: 0 },
  }
  for (const kind of ['clients', 'channels'] as const) {
    const seen = await SeenSet.load(store.ops.seenChunks(cp.sweepId, kind), pending[kind])
    const list = out[kind]
    for await (const page of store[kind].digests()) {
      for (const d of page) {
        out.stored[kind] += 1
        if (d.missingSince !== null || seen.has(seenHash(cp.sweepId, d.id))) continue
        out.absentCount[kind] += 1
        if (list.length < ABSENT_HANDLED_PER_SWEEP) list.push(d)
      }
      if (run.shouldYield()) return null
    }
  }
  return out
}

/**
 * Absence after a complete sweep. Nor is anything marked by a sweep that lost sight of a large part of
 * what is stored (an upstream outage that answers empty or cut-down lists): then the run says so.
 */
async function markAbsent(run: Run, cp: SweepCheckpoint, absent: Absent, opts: SweepOptions): Promise<void> {
  const { deps, tally } = run
  const halted =
    massMissing(absent.absentCount.channels, absent.stored.channels) ||
    massMissing(absent.absentCount.clients, absent.stored.clients)
  if (halted) {
    run.warnings.add('mass_missing_halted')
    deps.logger.error('missing detection halted: too many stored items absent upstream', {
      runId: run.runId,
      absentChannels: absent.absentCount.channels,
      storedChannels: absent.stored.channels,
      absentClients: absent.absentCount.clients,
      storedClients: absent.stored.clients,
    })
  }
  const ctx: AbsenceContext = {
    now: deps.clock.now(),
    lookupBudget: { remaining: opts.absenceLookups },
    concurrency: deps.config.POLL_CONCURRENCY,
    checkBudget: () => run.checkBudget(),
  }
  const channelAbsence = await markAbsentChannels(
    halted || cp.unnamedQuarantined.channels > 0 ? [] : absent.channels,
    ctx,
    {
      findChannel: (id) => deps.partnerApi.findChannel(id),
      markAbsence: (id, key, runs, since) => deps.store.channels.markAbsence(id, key, runs, since),
      applyFound: (up) => run.applyChannel(up),
    },
  )
  const clientAbsence = await markAbsentClients(
    halted || cp.unnamedQuarantined.clients > 0 ? [] : absent.clients,
    ctx,
    {
      findClient: (id) => deps.partnerApi.findClient(id),
      get: (id) => deps.store.clients.get(id),
      putIfVersion: (client, key) => deps.store.clients.putIfVersion(client, key),
      applyFound: (up) => run.applyClient(up),
    },
  )
  tally.missing = { clients: clientAbsence.missing, channels: channelAbsence.missing }
  tally.lookups = channelAbsence.lookups + clientAbsence.lookups
  tally.recovered = channelAbsence.recovered + clientAbsence.recovered
  tally.bookkeepingWrites += channelAbsence.writes + clientAbsence.writes
  tally.seen.channels += channelAbsence.recovered
  tally.seen.clients += clientAbsence.recovered
}

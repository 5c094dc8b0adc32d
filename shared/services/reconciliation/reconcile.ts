import { randomUUID } from 'node:crypto'
import pLimit from 'p-limit'
import type { AppDeps } from '../../deps'
import { PartnerOpsError, UpstreamError } from '../../domain/errors'
import { channelFromUpstream, clientFromUpstream } from '../../domain/mapping'
import type { RunSummary, RunWarning } from '../../domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../domain/upstream'
import type {
  Digest,
  PartnerApiStats,
  QuarantinedItem,
  ReconcileState,
  SweepCheckpoint,
  WalkTotals,
} from '../../ports'
import { refreshPartnerSettings } from '../partner/partner-settings'
import { applyChannel, applyClient } from '../state/apply-upstream'
import { sweepPendingEvents } from '../webhooks/sweep-webhooks'
import { type AbsenceContext, markAbsentChannels, markAbsentClients } from './reconcile-absence'
import { massMissing, QUARANTINE_STORED_PER_RUN, saveQuarantined } from './reconcile-guards'
import { type FallbackReason, INCREMENTAL_OVERLAP_MS, walkChangedSince } from './reconcile-incremental'

/** Name of the lease that keeps reconciliation runs one at a time. */
export const POLL_LEASE = 'poll'
/** Stable sort of the walks: new items land at the end, so inserts during a walk shift nothing already read. */
export const CHANNEL_SORT = ['created_at', 'id']
export const CLIENT_SORT = ['created_at', 'id']
/** Guarded writes in flight at once while applying one page. */
const APPLY_CONCURRENCY = 32
/** Lookups by id per run for items a complete walk did not see (clients and channels together). */
const ABSENCE_LOOKUPS_PER_RUN = 25

/** What a reconciliation run needs. */
export type ReconcileDeps = Pick<AppDeps, 'config' | 'store' | 'partnerApi' | 'clock' | 'logger'>

/** Options of one run. */
export interface ReconcileOptions {
  /** Lease owner and summary id (default: a random UUID). */
  runId?: string
  /** Called with the final summary (after it is saved; also for skipped and failed runs) before a failure is thrown. */
  onSummary?: (summary: RunSummary) => void | Promise<void>
  /** Lookups by id allowed per run for items a complete walk did not see (default 25; 0 = rely on the two-run rule). */
  absenceLookups?: number
}

/** Counters of one run beyond the summary (logged, and used by the benchmark). */
interface Tally {
  pages: number
  seen: { clients: number; channels: number }
  changed: { clients: number; channels: number }
  missing: { clients: number; channels: number }
  stale: number
  bookkeepingWrites: number
  lookups: number
  recovered: number
  swept: number
  confirmedCancellations: number
  quarantined: number
}

const newTally = (): Tally => ({
  pages: 0,
  seen: { clients: 0, channels: 0 },
  changed: { clients: 0, channels: 0 },
  missing: { clients: 0, channels: 0 },
  stale: 0,
  bookkeepingWrites: 0,
  lookups: 0,
  recovered: 0,
  swept: 0,
  confirmedCancellations: 0,
  quarantined: 0,
})

function errorText(err: unknown): string {
  if (err instanceof PartnerOpsError) return `${err.code}: ${err.message}`
  if (err instanceof Error) return `${err.name}: ${err.message}`
  return 'unknown error'
}

/** Hands the summary to the caller's hook; a failing hook (metrics) never changes the run's outcome. */
async function report(
  opts: ReconcileOptions,
  summary: RunSummary,
  logger: ReconcileDeps['logger'],
): Promise<void> {
  try {
    await opts.onSummary?.(summary)
  } catch (err: unknown) {
    logger.warn('run summary hook failed', { runId: summary.runId, error: errorText(err) })
  }
}

async function digestMap(pages: AsyncIterable<Digest[]>): Promise<Map<string, Digest>> {
  const map = new Map<string, Digest>()
  for await (const page of pages) for (const d of page) map.set(d.id, d)
  return map
}

/**
 * One scheduled reconciliation run (issue 4): takes the poll lease (or returns a 'skipped' summary
 * when another run holds it), sweeps webhook events stored but not applied, walks every client and
 * channel of the Partner API, writes only items whose content changed (guarded by order key, so a
 * newer webhook write is never overwritten), marks items missing after complete runs only and saves
 * a run summary (change events come from the writes themselves, through the publisher). A failed run
 * saves its summary, then throws.
 * Issue 11: list items that fail validation are quarantined (kept for an operator, the rest of the
 * page applied); a page without its items array fails the run (`items_key_missing`); a walk that does
 * not add up to upstream's total warns (`total_mismatch`); and when too many stored items are absent
 * nothing is marked missing (`mass_missing_halted`).
 */
export async function reconcile(deps: ReconcileDeps, opts: ReconcileOptions = {}): Promise<RunSummary> {
  const { config, store, partnerApi, clock, logger } = deps
  const runId = opts.runId ?? randomUUID()
  const started = clock.now()
  const deadline = started.getTime() + config.POLL_BUDGET_MS
  const tally = newTally()
  const statsBefore: PartnerApiStats = partnerApi.stats()
  let complete = false
  let mode: RunSummary['mode'] = 'full'
  const warnings = new Set<RunWarning>()

  const summarize = (outcome: RunSummary['outcome'], error: string | null): RunSummary => {
    const after = partnerApi.stats()
    return {
      runId,
      startedAt: started.toISOString(),
      endedAt: clock.now().toISOString(),
      outcome,
      error,
      mode,
      complete,
      quarantined: tally.quarantined,
      warnings: [...warnings],
      pages: tally.pages,
      calls: after.calls - statsBefore.calls,
      retries: after.retries - statsBefore.retries,
      seen: { ...tally.seen },
      changed: { ...tally.changed },
      missing: { ...tally.missing },
      swept: tally.swept,
      confirmedCancellations: tally.confirmedCancellations,
    }
  }

  if (!(await store.ops.acquireLease(POLL_LEASE, runId, started, config.POLL_LEASE_MS))) {
    logger.info('another run holds the lease', { runId })
    const skipped = summarize('skipped', null)
    await report(opts, skipped, logger)
    return skipped
  }

  const checkBudget = (): void => {
    if (clock.now().getTime() > deadline) {
      throw new UpstreamError('reconciliation exceeded its time budget', {
        upstreamStatus: 0,
        retryable: true,
        code: 'poll_budget_exhausted',
      })
    }
  }
  const remainingMs = (): number => Math.max(1, deadline - clock.now().getTime())

  const limit = pLimit(APPLY_CONCURRENCY)
  const apply = { source: 'poll', kind: 'snapshot' } as const

  // receivedAt: the page's fetch time, which orders undated items and caps future-dated ones.
  // Change events are not published here: the publisher derives them from the writes themselves.
  const applyClientItem = async (up: UpstreamClient, stored?: null, receivedAt?: Date): Promise<void> => {
    const opts = { ...apply, ...(receivedAt ? { receivedAt } : {}) }
    const r = await applyClient(deps, up, stored === null ? { ...opts, stored: null } : opts)
    if (r.outcome === 'written') tally.changed.clients += 1
    else if (r.outcome === 'stale') tally.stale += 1
  }
  const applyChannelItem = async (up: UpstreamChannel, stored?: null, receivedAt?: Date): Promise<void> => {
    const opts = { ...apply, ...(receivedAt ? { receivedAt } : {}) }
    const r = await applyChannel(deps, up, stored === null ? { ...opts, stored: null } : opts)
    if (r.cancellation === 'confirmed') tally.confirmedCancellations += 1
    if (r.outcome === 'written') tally.changed.channels += 1
    else if (r.outcome === 'stale') tally.stale += 1
    else if (r.record.absentRuns > 0) await resetAbsence(r.record.channelId, r.record.orderKey)
  }
  const resetAbsence = async (channelId: string, orderKey: string): Promise<void> => {
    if ((await store.channels.markAbsence(channelId, orderKey, 0, null)) === 'written') {
      tally.bookkeepingWrites += 1
    }
  }

  // Items kept aside: each still counts as listed (its digest is removed, so it is never taken for
  // absent); a few per run are stored for an operator. An item without an id cannot be matched to a
  // stored record, so its walk proves no absence at all.
  const quarantine: QuarantinedItem[] = []
  const unnamedQuarantined = { client: 0, channel: 0 }
  const onQuarantined =
    (digests: Map<string, Digest> | null) =>
    (items: QuarantinedItem[]): void => {
      warnings.add('quarantined_items')
      tally.quarantined += items.length
      for (const q of items) {
        if (q.id === null) unnamedQuarantined[q.kind] += 1
        else digests?.delete(q.id)
        if (quarantine.length < QUARANTINE_STORED_PER_RUN) quarantine.push(q)
      }
    }

  // Incremental: only what changed since the last run. A page's items are compared with their stored
  // digests (one batch read), and only those whose content changed go through the guarded write.
  const applyChangedClients = async (page: UpstreamClient[], now: Date): Promise<void> => {
    tally.seen.clients += page.length
    const digests = new Map((await store.clients.digestsOf(page.map((c) => c.id))).map((d) => [d.id, d]))
    await Promise.all(
      page.map((up) => {
        const d = digests.get(up.id)
        if (d) {
          const candidate = clientFromUpstream(up, { now, source: 'poll', kind: 'snapshot', previous: null })
          if (candidate.contentHash === d.contentHash && candidate.orderKey <= d.orderKey) return undefined
        }
        return limit(() => applyClientItem(up, d ? undefined : null, now))
      }),
    )
  }
  const applyChangedChannels = async (page: UpstreamChannel[], now: Date): Promise<void> => {
    tally.seen.channels += page.length
    const digests = new Map((await store.channels.digestsOf(page.map((c) => c.id))).map((d) => [d.id, d]))
    await Promise.all(
      page.map((up) => {
        const d = digests.get(up.id)
        if (d) {
          const candidate = channelFromUpstream(up, { now, source: 'poll', kind: 'snapshot', previous: null })
          if (candidate.contentHash === d.contentHash && candidate.orderKey <= d.orderKey) {
            return d.absentRuns > 0 ? limit(() => resetAbsence(d.id, d.orderKey)) : undefined
          }
        }
        return limit(() => applyChannelItem(up, d ? undefined : null, now))
      }),
    )
  }

  /** Both lists by `-modified_at` since the watermark less the overlap; null when done, else why not. */
  const incremental = async (
    watermark: string,
  ): Promise<{ reason: FallbackReason; detail: string } | null> => {
    const since = Date.parse(watermark) - INCREMENTAL_OVERLAP_MS
    const common = {
      since,
      limit: config.POLL_PAGE_SIZE,
      onQuarantined: onQuarantined(null),
      checkBudget,
      now: () => clock.now(),
    }
    const clients = await walkChangedSince({
      ...common,
      list: (q) => partnerApi.listClients(q),
      apply: applyChangedClients,
    })
    tally.pages += clients.pages
    if (clients.kind === 'fallback') return clients
    const channels = await walkChangedSince({
      ...common,
      list: (q) => partnerApi.listChannels(q),
      apply: applyChangedChannels,
    })
    tally.pages += channels.pages
    return channels.kind === 'fallback' ? channels : null
  }
  const onComplete =
    (kind: 'clients' | 'channels') =>
    ({ total, walked }: WalkTotals): void => {
      if (walked === total) return
      warnings.add('total_mismatch')
      logger.warn('reconciliation walk does not add up to the upstream total', { runId, kind, total, walked })
    }

  let failure: unknown = null
  let state: ReconcileState | null = null
  try {
    state = await store.ops.getReconcileState()
    tally.swept = (await sweepPendingEvents(deps)).applied

    // A full sweep at first start and once every FULL_SWEEP_INTERVAL_SECONDS; incremental in between.
    let sweepReason: SweepCheckpoint['reason'] | null = fullSweepDue(
      state,
      started,
      config.FULL_SWEEP_INTERVAL_SECONDS,
    )
    if (sweepReason === null && state?.watermark) {
      mode = 'incremental'
      const fell = await incremental(state.watermark)
      if (fell === null) {
        complete = true
      } else {
        mode = 'full'
        sweepReason = fell.reason === 'window_too_large' ? 'window_too_large' : 'sort_fallback'
        if (sweepReason === 'sort_fallback') warnings.add('sort_fallback')
        logger.warn('incremental walk fell back to a full sweep', {
          runId,
          reason: fell.reason,
          detail: fell.detail,
        })
      }
    }
    if (mode === 'full') {
      await fullSweep()
      complete = true
    }
    await saveState(state, mode, sweepReason ?? 'first')
  } catch (err: unknown) {
    failure = err
    if (err instanceof UpstreamError && err.code === 'items_key_missing') warnings.add('items_key_missing')
  }
  // Kept for an operator even when the run failed: they are what it saw.
  await saveQuarantined(deps, runId, quarantine)
  // One partner-info call per run, whatever the walk did: drift must show within one run.
  await refreshPartnerSettings(deps, warnings)
  // (summary below)
  return finish(failure)

  async function fullSweep(): Promise<void> {
    // The stored digests are read once: an item whose candidate hash equals the stored hash costs
    // nothing more; an item without a digest is applied without a read (a record created since is
    // still protected by the guarded write). Each sighting removes its digest, so what remains after
    // a complete walk is exactly what upstream no longer lists (no second set of ids in memory).
    const clientDigests = await digestMap(store.clients.digests())
    const storedClients = clientDigests.size
    for await (const page of partnerApi.iterateClients({
      sort: CLIENT_SORT,
      limit: config.POLL_PAGE_SIZE,
      concurrency: config.POLL_CONCURRENCY,
      budgetMs: remainingMs(),
      onQuarantined: onQuarantined(clientDigests),
      onComplete: onComplete('clients'),
    })) {
      tally.pages += 1
      tally.seen.clients += page.length
      const now = clock.now()
      const work: Promise<void>[] = []
      for (const up of page) {
        const d = clientDigests.get(up.id)
        clientDigests.delete(up.id)
        if (d) {
          const candidate = clientFromUpstream(up, { now, source: 'poll', kind: 'snapshot', previous: null })
          // Same content and not later than what is stored: nothing to write. (A later key with the
          // same content still goes through applyClient, which advances the stored key: an older
          // fact arriving afterwards must not look newer. Only undated items, ordered by fetch time,
          // pay that write on every run.)
          if (candidate.contentHash === d.contentHash && candidate.orderKey <= d.orderKey) continue
        }
        work.push(limit(() => applyClientItem(up, d ? undefined : null, now)))
      }
      await Promise.all(work)
      checkBudget()
    }

    const channelDigests = await digestMap(store.channels.digests())
    const storedChannels = channelDigests.size
    for await (const page of partnerApi.iterateChannels({
      sort: CHANNEL_SORT,
      limit: config.POLL_PAGE_SIZE,
      concurrency: config.POLL_CONCURRENCY,
      budgetMs: remainingMs(),
      onQuarantined: onQuarantined(channelDigests),
      onComplete: onComplete('channels'),
    })) {
      tally.pages += 1
      tally.seen.channels += page.length
      // Lifecycle depends on time (terminated_at passing), so candidates are derived at page time.
      const now = clock.now()
      const work: Promise<void>[] = []
      for (const up of page) {
        const d = channelDigests.get(up.id)
        channelDigests.delete(up.id)
        if (d) {
          const candidate = channelFromUpstream(up, { now, source: 'poll', kind: 'snapshot', previous: null })
          if (candidate.contentHash === d.contentHash && candidate.orderKey <= d.orderKey) {
            if (d.absentRuns > 0) work.push(limit(() => resetAbsence(d.id, d.orderKey)))
            continue
          }
        }
        work.push(limit(() => applyChannelItem(up, d ? undefined : null, now)))
      }
      await Promise.all(work)
      checkBudget()
    }
    complete = true

    // Absence only after a complete walk: an interrupted run proves nothing about what it did not reach.
    // Nor does a walk that lost sight of a large part of what is stored (an upstream outage that
    // answers empty or cut-down lists): then nothing is marked, and the run says so.
    const absentChannels = [...channelDigests.values()].filter((d) => d.missingSince === null)
    const absentClients = [...clientDigests.values()].filter((d) => d.missingSince === null)
    const halted =
      massMissing(absentChannels.length, storedChannels) || massMissing(absentClients.length, storedClients)
    if (halted) {
      warnings.add('mass_missing_halted')
      logger.error('missing detection halted: too many stored items absent upstream', {
        runId,
        absentChannels: absentChannels.length,
        storedChannels,
        absentClients: absentClients.length,
        storedClients,
      })
    }
    const ctx: AbsenceContext = {
      now: clock.now(),
      lookupBudget: { remaining: opts.absenceLookups ?? ABSENCE_LOOKUPS_PER_RUN },
      concurrency: config.POLL_CONCURRENCY,
      checkBudget,
    }
    const channelAbsence = await markAbsentChannels(
      halted || unnamedQuarantined.channel > 0 ? [] : absentChannels,
      ctx,
      {
        findChannel: (id) => partnerApi.findChannel(id),
        markAbsence: (id, key, runs, since) => store.channels.markAbsence(id, key, runs, since),
        applyFound: (up) => applyChannelItem(up),
      },
    )
    const clientAbsence = await markAbsentClients(
      halted || unnamedQuarantined.client > 0 ? [] : absentClients,
      ctx,
      {
        findClient: (id) => partnerApi.findClient(id),
        get: (id) => store.clients.get(id),
        putIfVersion: (client, key) => store.clients.putIfVersion(client, key),
        applyFound: (up) => applyClientItem(up),
      },
    )
    tally.missing = { clients: clientAbsence.missing, channels: channelAbsence.missing }
    tally.lookups = channelAbsence.lookups + clientAbsence.lookups
    tally.recovered = channelAbsence.recovered + clientAbsence.recovered
    tally.bookkeepingWrites += channelAbsence.writes + clientAbsence.writes
    tally.seen.channels += channelAbsence.recovered
    tally.seen.clients += clientAbsence.recovered
  }

  /**
   * After a run that completed its walk: the next incremental run reads from this run's start (our
   * clock) less the overlap; a completed full sweep also restarts the interval.
   */
  async function saveState(
    before: ReconcileState | null,
    ran: RunSummary['mode'],
    _reason: SweepCheckpoint['reason'],
  ): Promise<void> {
    const at = started.toISOString()
    const next: ReconcileState = {
      version: (before?.version ?? 0) + 1,
      watermark: at,
      lastFullSweep:
        ran === 'full'
          ? { sweepId: runId, startedAt: at, completedAt: clock.now().toISOString() }
          : (before?.lastFullSweep ?? null),
      sweep: null,
    }
    if (!(await store.ops.saveReconcileState(next, before?.version ?? null))) {
      throw new UpstreamError('reconciliation state changed under this run (another run took over)', {
        upstreamStatus: 0,
        retryable: true,
        code: 'reconcile_state_conflict',
      })
    }
  }

  async function finish(failure: unknown): Promise<RunSummary> {
    const summary = summarize(
      failure === null ? 'succeeded' : 'failed',
      failure === null ? null : errorText(failure),
    )
    const context = {
      runId,
      outcome: summary.outcome,
      complete,
      pages: summary.pages,
      calls: summary.calls,
      retries: summary.retries,
      seen: summary.seen,
      changed: summary.changed,
      missing: summary.missing,
      stale: tally.stale,
      bookkeepingWrites: tally.bookkeepingWrites,
      lookups: tally.lookups,
      recovered: tally.recovered,
      swept: summary.swept,
      confirmedCancellations: summary.confirmedCancellations,
      quarantined: summary.quarantined,
      warnings: summary.warnings,
    }
    try {
      await store.ops.saveRunSummary(summary)
    } catch (err: unknown) {
      logger.error('run summary not saved', { runId, error: errorText(err) })
      failure ??= err
    }
    try {
      await store.ops.releaseLease(POLL_LEASE, runId)
    } catch (err: unknown) {
      // The lease expires on its own; the next run only waits for it.
      logger.warn('poll lease not released', { runId, error: errorText(err) })
    }
    if (failure === null) logger.info('reconciliation run succeeded', context)
    else logger.error('reconciliation run failed', { ...context, error: summary.error })
    await report(opts, summary, logger)
    if (failure !== null) throw failure
    return summary
  }
}

/** Why this run must be a full sweep, or null when it may be incremental. */
export function fullSweepDue(
  state: ReconcileState | null,
  now: Date,
  intervalSeconds: number,
): SweepCheckpoint['reason'] | null {
  if (!state?.lastFullSweep || !state.watermark) return 'first'
  const last = Date.parse(state.lastFullSweep.startedAt)
  if (intervalSeconds === 0 || Number.isNaN(last) || now.getTime() - last >= intervalSeconds * 1000)
    return 'interval'
  return null
}

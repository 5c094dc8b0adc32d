import { randomUUID } from 'node:crypto'
import { PartnerOpsError, UpstreamError } from '../../domain/errors'
import type { RunSummary, SweepProgress } from '../../domain/types'
import type { PartnerApiStats, ReconcileState, SweepCheckpoint } from '../../ports'
import { refreshPartnerSettings } from '../partner/partner-settings'
import { sweepPendingEvents } from '../webhooks/sweep-webhooks'
import { saveQuarantined } from './reconcile-guards'
import { type FallbackReason, INCREMENTAL_OVERLAP_MS, walkChangedSince } from './reconcile-incremental'
import { createRun, type ReconcileDeps, type Run } from './reconcile-run'
import { CHANNEL_SORT, CLIENT_SORT, continueSweep, newSweep } from './reconcile-sweep'

export type { ReconcileDeps } from './reconcile-run'
export { CHANNEL_SORT, CLIENT_SORT }

/** Name of the lease that keeps reconciliation runs one at a time. */
export const POLL_LEASE = 'poll'
/** Lookups by id per run for items a complete walk did not see (clients and channels together). */
const ABSENCE_LOOKUPS_PER_RUN = 25

/** Options of one run. */
export interface ReconcileOptions {
  /** Lease owner and summary id (default: a random UUID). */
  runId?: string
  /** Called with the final summary (after it is saved; also for skipped and failed runs) before a failure is thrown. */
  onSummary?: (summary: RunSummary) => void | Promise<void>
  /** Lookups by id allowed per run for items a complete walk did not see (default 25; 0 = rely on the two-run rule). */
  absenceLookups?: number
  /** Absent items marked between two saves of missing detection's position (default 500). */
  markBatch?: number
}

/** What this run does: continue a sweep in progress, start one, or read what changed since the watermark. */
type Plan =
  | { kind: 'continue'; sweep: SweepCheckpoint }
  | { kind: 'sweep'; reason: SweepCheckpoint['reason'] }
  | { kind: 'incremental'; watermark: string }

/**
 * The run's plan: a sweep in progress continues; the first run and one every
 * FULL_SWEEP_INTERVAL_SECONDS (counted from the start of the last completed sweep) sweep fully; any
 * other run is incremental.
 */
export function planRun(state: ReconcileState | null, now: Date, intervalSeconds: number): Plan {
  if (state?.sweep) return { kind: 'continue', sweep: state.sweep }
  if (!state?.lastFullSweep || !state.watermark) return { kind: 'sweep', reason: 'first' }
  const last = Date.parse(state.lastFullSweep.startedAt)
  if (intervalSeconds === 0 || Number.isNaN(last) || now.getTime() - last >= intervalSeconds * 1000) {
    return { kind: 'sweep', reason: 'interval' }
  }
  return { kind: 'incremental', watermark: state.watermark }
}

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

/**
 * Reconciliation's state is written by the lease holder only, with compare-and-set on its version: a
 * former holder that outlived its lease cannot overwrite what the current one saved.
 */
async function saveState(
  run: Run,
  before: ReconcileState | null,
  patch: Partial<ReconcileState>,
): Promise<ReconcileState> {
  const next: ReconcileState = {
    version: (before?.version ?? 0) + 1,
    watermark: before?.watermark ?? null,
    lastFullSweep: before?.lastFullSweep ?? null,
    sweep: before?.sweep ?? null,
    ...patch,
  }
  if (!(await run.deps.store.ops.saveReconcileState(next, before?.version ?? null))) {
    throw new UpstreamError('reconciliation state changed under this run (another run took over)', {
      upstreamStatus: 0,
      retryable: true,
      code: 'reconcile_state_conflict',
    })
  }
  return next
}

/**
 * Incremental walk of both lists by `-modified_at` since the watermark less the overlap
 * (reconcile-incremental.ts); null when done, else why it fell back.
 */
async function incremental(
  run: Run,
  watermark: string,
): Promise<{ reason: FallbackReason; detail: string } | null> {
  const { partnerApi, config, clock } = run.deps
  const common = {
    since: Date.parse(watermark) - INCREMENTAL_OVERLAP_MS,
    limit: config.POLL_PAGE_SIZE,
    onQuarantined: (items: Parameters<Run['onQuarantined']>[0]) => run.onQuarantined(items),
    checkBudget: () => run.checkBudget(),
    now: () => clock.now(),
  }
  const clients = await walkChangedSince({
    ...common,
    list: (q) => partnerApi.listClients(q),
    apply: run.applyClients,
  })
  run.tally.pages += clients.pages
  if (clients.kind === 'fallback') return clients
  const channels = await walkChangedSince({
    ...common,
    list: (q) => partnerApi.listChannels(q),
    apply: run.applyChannels,
  })
  run.tally.pages += channels.pages
  return channels.kind === 'fallback' ? channels : null
}

function progress(cp: SweepCheckpoint, done: boolean): SweepProgress {
  return {
    sweepId: cp.sweepId,
    startedAt: cp.startedAt,
    reason: cp.reason,
    phase: done ? 'done' : cp.phase,
    offset: cp.offset,
    invocations: cp.invocations,
    seen: { ...cp.seen },
    changed: { ...cp.changed },
  }
}

/**
 * One scheduled reconciliation run (README, Reconciliation). Takes the poll lease (or returns a
 * 'skipped' summary when another run holds it), sweeps webhook events stored but not applied, then
 * either reads what changed since the last run (incremental: lists by `-modified_at`) or works on a
 * full sweep: every client and channel, then missing detection, across as many invocations as it
 * takes (each saves its position under the lease). Writes only items whose content changed (guarded
 * by order key, so a newer webhook write is never overwritten) and saves a run summary; change events
 * come from the writes themselves, through the publisher. A failed run saves its summary, then throws.
 * Issue 11: list items that fail validation are quarantined; a page without its items array fails
 * the run (`items_key_missing`); a walk that does not add up to upstream's total warns
 * (`total_mismatch`); when too many stored items are absent nothing is marked (`mass_missing_halted`).
 */
export async function reconcile(deps: ReconcileDeps, opts: ReconcileOptions = {}): Promise<RunSummary> {
  const { config, store, partnerApi, clock, logger } = deps
  const runId = opts.runId ?? randomUUID()
  const started = clock.now()
  const run = createRun(deps, runId, started)
  const { tally, warnings } = run
  const statsBefore: PartnerApiStats = partnerApi.stats()
  let mode: RunSummary['mode'] = 'full'
  let complete = false
  let sweep: SweepProgress | null = null

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
      ...(sweep ? { sweep } : {}),
    }
  }

  if (!(await store.ops.acquireLease(POLL_LEASE, runId, started, config.POLL_LEASE_MS))) {
    logger.info('another run holds the lease', { runId })
    const skipped = summarize('skipped', null)
    await report(opts, skipped, logger)
    return skipped
  }

  let failure: unknown = null
  try {
    let state = await store.ops.getReconcileState()
    tally.swept = (await sweepPendingEvents(deps)).applied

    let plan = planRun(state, started, config.FULL_SWEEP_INTERVAL_SECONDS)
    if (plan.kind === 'incremental') {
      mode = 'incremental'
      const fell = await incremental(run, plan.watermark)
      if (fell === null) {
        complete = true
        state = await saveState(run, state, { watermark: started.toISOString() })
      } else {
        mode = 'full'
        if (fell.reason !== 'window_too_large') warnings.add('sort_fallback')
        logger.warn('incremental walk fell back to a full sweep', {
          runId,
          reason: fell.reason,
          detail: fell.detail,
        })
        plan = {
          kind: 'sweep',
          reason: fell.reason === 'window_too_large' ? 'window_too_large' : 'sort_fallback',
        }
      }
    }
    if (plan.kind !== 'incremental') {
      const from = plan.kind === 'continue' ? plan.sweep : newSweep(runId, started, plan.reason)
      const out = await continueSweep(run, from, {
        save: async (cp) => {
          state = await saveState(run, state, { sweep: cp })
        },
        absenceLookups: opts.absenceLookups ?? ABSENCE_LOOKUPS_PER_RUN,
        ...(opts.markBatch === undefined ? {} : { markBatch: opts.markBatch }),
      })
      sweep = progress(out.cp, out.done)
      if (out.done) {
        complete = true
        // The walk is sound from the sweep's start: the next incremental run reads from there.
        for (const w of out.cp.warnings) warnings.add(w)
        state = await saveState(run, state, {
          sweep: null,
          watermark: out.cp.startedAt,
          lastFullSweep: {
            sweepId: out.cp.sweepId,
            startedAt: out.cp.startedAt,
            completedAt: clock.now().toISOString(),
          },
        })
      }
    }
    // Per-run duties beyond the lists go here, each one call (a function in its own file).
  } catch (err: unknown) {
    failure = err
    if (err instanceof UpstreamError && err.code === 'items_key_missing') warnings.add('items_key_missing')
  }
  // Kept for an operator even when the run failed: they are what it saw.
  await saveQuarantined(deps, runId, run.quarantine)
  // One partner-info call per run, whatever the walk did: drift must show within one run.
  await refreshPartnerSettings(deps, warnings)

  const summary = summarize(
    failure === null ? 'succeeded' : 'failed',
    failure === null ? null : errorText(failure),
  )
  const context = {
    runId,
    outcome: summary.outcome,
    mode: summary.mode,
    complete,
    ...(sweep ? { sweep } : {}),
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

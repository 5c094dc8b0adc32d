import { createHash, randomUUID } from 'node:crypto'
import pLimit from 'p-limit'
import { emptyHealthCounts, type HealthSweepSummary } from '../../domain/health'
import type { Channel } from '../../domain/types'
import {
  type CheckOutcome,
  candidateOf,
  checkChannel,
  type HealthCandidate,
  type HealthCheckDeps,
} from './check-channel'

/** Never two checks of one channel closer than this (360dialog caches /v1/health for 5 minutes). */
export const MIN_CHECK_GAP_MS = 5 * 60_000
/**
 * How much earlier than one interval after the last sweep a scheduled sweep may start (a schedule
 * fires late once and on time the next): the pacing below keeps the 5-minute gap across it.
 */
export const SCHEDULE_TOLERANCE_MS = 60_000
/** The shortest interval the pacing allows: the 5-minute gap, the tolerance and one minute of lateness. */
export const MIN_INTERVAL_MS = MIN_CHECK_GAP_MS + SCHEDULE_TOLERANCE_MS + 60_000
/** Live channels read per page. */
const PAGE_SIZE = 100
/** The lease outlives the sweep's budget by this much (a crashed sweep frees it by itself). */
const LEASE_MARGIN_MS = 60_000
const LEASE = 'health'

/** How a sweep is paced. */
export interface SweepOptions {
  /** How often the schedule starts a sweep; each live channel is checked once per interval. */
  intervalMs: number
  /** Spread the checks over the interval (each channel at its own fixed offset); false: all at once. */
  spread: boolean
  /** Health checks in flight at once. */
  concurrency: number
  /** No check starts after this long (the function's timeout less a margin). */
  budgetMs: number
  /** Waits (default: a timer); benchmarks and tests may pass their own. */
  sleep?: (ms: number) => Promise<void>
  /** Told about each finished check (benchmarks count calls per channel). */
  onCheck?: (channel: HealthCandidate, outcome: CheckOutcome) => void
}

/** What a sweep needs. */
export type HealthSweepDeps = HealthCheckDeps

/**
 * The spread window: offsets fall in [0, window). It ends a minute before the next sweep could start,
 * and within 70 % of the budget, so a sweep finishes inside its interval and well before its timeout
 * (the functions' duration alarm fires at 80 % of it).
 */
export function spreadWindowMs(o: Pick<SweepOptions, 'intervalMs' | 'budgetMs' | 'spread'>): number {
  if (!o.spread) return 0
  return Math.max(0, Math.min(o.intervalMs - SCHEDULE_TOLERANCE_MS - 60_000, Math.floor(o.budgetMs * 0.7)))
}

/** The latest a check may start after its slot: later, it waits for the next sweep (see sweepHealth). */
export function latenessCapMs(intervalMs: number): number {
  return Math.max(0, intervalMs - SCHEDULE_TOLERANCE_MS - MIN_CHECK_GAP_MS)
}

/** A channel's fixed offset in the window: the same every sweep, so its checks are one interval apart. */
export function slotOffsetMs(channelId: string, windowMs: number): number {
  if (windowMs <= 0) return 0
  const h = createHash('sha256').update(channelId).digest().readUInt32BE(0)
  return Math.floor((h / 2 ** 32) * windowMs)
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * One health sweep (the scheduled health job): checks every live channel that has a key, each at its
 * own fixed offset in the interval, at most `concurrency` at once, and saves a summary with the
 * channels by health. The pacing guarantees at most one check per channel per 5 minutes, whatever the
 * schedule does:
 *
 * - one sweep at a time (a lease in the ops table);
 * - a sweep starts only `intervalMs − SCHEDULE_TOLERANCE_MS` after the last one started (a retried or
 *   doubled invocation is skipped), and the last start is saved before any check;
 * - a channel's check runs at its slot (start + offset) and never later than `latenessCapMs` after it:
 *   a check that would be later is left for the next sweep (`late`).
 *
 * So two checks of one channel are at least `interval − tolerance − lateness cap` = 5 minutes apart.
 */
export async function sweepHealth(deps: HealthSweepDeps, opts: SweepOptions): Promise<HealthSweepSummary> {
  if (opts.intervalMs < MIN_INTERVAL_MS) {
    throw new RangeError(`health interval ${opts.intervalMs} ms is below the minimum ${MIN_INTERVAL_MS} ms`)
  }
  const sleep = opts.sleep ?? defaultSleep
  const started = deps.clock.now()
  const summary: HealthSweepSummary = {
    sweepId: randomUUID(),
    startedAt: started.toISOString(),
    endedAt: null,
    outcome: 'running',
    reason: null,
    live: 0,
    checked: 0,
    withoutKey: 0,
    written: 0,
    changed: 0,
    becameUnhealthy: 0,
    failed: 0,
    keysRejected: 0,
    late: 0,
    numberChecks: 0,
    calls: 0,
    byStatus: emptyHealthCounts(),
  }
  const skip = async (reason: string): Promise<HealthSweepSummary> => {
    const skipped = {
      ...summary,
      outcome: 'skipped' as const,
      reason,
      endedAt: deps.clock.now().toISOString(),
    }
    await deps.store.ops.saveHealthSweep(skipped)
    deps.logger.info('health sweep skipped', { reason })
    return skipped
  }

  const owner = summary.sweepId
  const leaseMs = opts.budgetMs + LEASE_MARGIN_MS
  if (!(await deps.store.ops.acquireLease(LEASE, owner, started, leaseMs)))
    return skip('another sweep is running')
  try {
    const { lastRun } = await deps.store.ops.getHealthSweeps()
    if (lastRun) {
      const since = started.getTime() - Date.parse(lastRun.startedAt)
      if (since < opts.intervalMs - SCHEDULE_TOLERANCE_MS) {
        return await skip(`the last sweep started ${Math.round(since / 1000)} s ago`)
      }
    }
    // Saved before the first check: a crash, retry or second invocation from here on is paced by it.
    await deps.store.ops.saveHealthSweep(summary)
    const callsBefore = deps.messaging.stats().calls
    try {
      await runChecks(deps, opts, sleep, started, summary)
    } catch (err: unknown) {
      summary.outcome = 'failed'
      summary.reason = err instanceof Error ? err.name : 'unknown'
    }
    summary.calls = deps.messaging.stats().calls - callsBefore
    if (summary.outcome === 'running') summary.outcome = 'succeeded'
    summary.endedAt = deps.clock.now().toISOString()
    await deps.store.ops.saveHealthSweep(summary)
    deps.logger.info('health sweep', {
      outcome: summary.outcome,
      live: summary.live,
      checked: summary.checked,
      changed: summary.changed,
      failed: summary.failed,
      late: summary.late,
    })
    return summary
  } finally {
    await deps.store.ops.releaseLease(LEASE, owner)
  }
}

/** Lists the live channels, then runs each check at its slot within the pacing rules. */
async function runChecks(
  deps: HealthSweepDeps,
  opts: SweepOptions,
  sleep: (ms: number) => Promise<void>,
  started: Date,
  summary: HealthSweepSummary,
): Promise<void> {
  const candidates: HealthCandidate[] = []
  let cursor: string | undefined
  do {
    const page = await deps.store.channels.list({
      lifecycle: 'live',
      limit: PAGE_SIZE,
      ...(cursor ? { cursor } : {}),
    })
    for (const c of page.items) candidates.push(candidateOf(c as Channel & { keyStatus?: string | null }))
    cursor = page.nextCursor ?? undefined
  } while (cursor)
  summary.live = candidates.length

  const window = spreadWindowMs(opts)
  const cap = latenessCapMs(opts.intervalMs)
  const t0 = started.getTime()
  const slots = candidates
    .map((c) => ({ c, at: t0 + slotOffsetMs(c.channelId, window) }))
    .sort((a, b) => a.at - b.at)
  const limit = pLimit(Math.max(1, opts.concurrency))
  const work: Promise<void>[] = []
  for (const slot of slots) {
    const wait = slot.at - deps.clock.now().getTime()
    // Waiting only while nothing is queued keeps the queue short; the cap below catches any backlog.
    if (wait > 0) await sleep(wait)
    work.push(
      limit(async () => {
        const now = deps.clock.now().getTime()
        if (now > slot.at + cap || now > t0 + opts.budgetMs) {
          summary.late += 1
          return
        }
        const outcome = await checkChannel(deps, slot.c)
        record(summary, slot.c, outcome)
        opts.onCheck?.(slot.c, outcome)
      }),
    )
  }
  await Promise.all(work)
  for (const { c } of slots) {
    if (c.health) summary.byStatus[c.health.status] += 1
    else summary.byStatus.unchecked += 1
  }
}

/** Adds one check's outcome to the summary (and the channel's new health to its candidate). */
function record(summary: HealthSweepSummary, c: HealthCandidate, outcome: CheckOutcome): void {
  switch (outcome.kind) {
    case 'no_key':
      summary.withoutKey += 1
      return
    case 'key_rejected':
      summary.checked += 1
      summary.keysRejected += 1
      return
    case 'failed':
      summary.checked += 1
      summary.failed += 1
      return
    case 'checked':
      summary.checked += 1
      if (outcome.written) summary.written += 1
      if (outcome.changed) summary.changed += 1
      if (outcome.becameUnhealthy) summary.becameUnhealthy += 1
      if (outcome.numberChecked) summary.numberChecks += 1
      c.health = outcome.health
  }
}

import type { AppDeps } from '../../deps'
import type { HealthCounts, HealthSweepSummary } from '../../domain/health'
import type { QualityRating } from '../../domain/signals'
import type { Lifecycle, RunSummary, SweepProgress } from '../../domain/types'
import type { QuarantineRecord } from '../../ports'
import { type PartnerSettingsStatus, partnerSettingsStatus } from '../partner/partner-settings'

/** A webhook event still pending this long after it was received counts as stuck. */
export const STUCK_AFTER_MS = 5 * 60_000
/** Stuck events are counted up to this many (the count is a floor beyond it). */
export const STUCK_COUNT_CAP = 1000

const WEBHOOK_COUNTERS = [
  'received',
  'duplicates',
  'rejected',
  'unknown',
  'stale',
  'unauthorized',
  'applied',
] as const

/** Quarantined upstream items are counted up to this many; the most recently seen are listed. */
export const QUARANTINE_COUNT_CAP = 1000
export const QUARANTINE_LISTED = 20

/** Upstream list items kept aside because they failed validation, for an operator. */
export interface QuarantineView {
  /** Items kept (not yet expired), counted up to {@link QUARANTINE_COUNT_CAP}. */
  count: number
  countCapped: boolean
  /** The most recently seen, newest first. */
  items: QuarantineRecord[]
}

/** Where reconciliation stands between runs: the watermark, the last full sweep, a sweep in progress. */
export interface ReconciliationProgress {
  /** Incremental runs read what changed upstream at or after this less the overlap (null before the first sweep). */
  watermark: string | null
  /** The last full sweep that completed end to end. */
  lastFullSweep: { sweepId: string; startedAt: string; completedAt: string } | null
  /** A full sweep spanning several runs, while it is in progress. */
  sweep: SweepProgress | null
}

/** `GET /status`: the last reconciliation, channels by lifecycle, webhook counts. */
export interface StatusView {
  reconciliation: {
    last: RunSummary | null
    lastSuccess: RunSummary | null
    quarantine: QuarantineView
  } & ReconciliationProgress
  channels: {
    total: number
    byLifecycle: Record<Lifecycle, number>
    /** Rated channels per quality bucket; `unrated`: channels upstream sent no rating for (drafts, mostly). */
    byQuality: Record<QualityRating, number> & { unrated: number }
  }
  webhooks: Record<(typeof WEBHOOK_COUNTERS)[number], number> & { stuck: number; stuckCapped: boolean }
  changeEvents: ChangeEventsStatus
  health: HealthStatusView
  /** The last partner settings check (GET /partner) against this deployment's URLs. */
  partnerSettings: PartnerSettingsStatus
  at: string
}

/** Channel health as GET /status shows it: live channels by health as of the last sweep, and that sweep. */
export interface HealthStatusView {
  /** Live channels by `health.status` (and `unchecked`) when the last sweep that ran ended; null before one. */
  byStatus: HealthCounts | null
  /** The last sweep (any outcome, a skipped one included). */
  lastSweep: HealthSweepSummary | null
  /** The last sweep that checked channels. */
  lastRun: HealthSweepSummary | null
}

/** The change-event publisher as GET /status shows it. */
export interface ChangeEventsStatus {
  /** When the newest change of the last published batch was written (null before the first). */
  lastChangeAt: string | null
  /** When that batch was published. */
  lastPublishedAt: string | null
  /** Delay of that batch: publish time minus write time, in ms. */
  lagMs: number | null
  /** Events published since the first. */
  published: number
  /** Batches of changes waiting in the on-failure queue for a redrive (null: no queue configured or unreadable). */
  failureQueueDepth: number | null
}

/** A summary saved before runs carried mode, quarantine count and warnings reads as a plain full run. */
function withDefaults(run: RunSummary | null): RunSummary | null {
  return run === null
    ? null
    : { ...run, mode: run.mode ?? 'full', quarantined: run.quarantined ?? 0, warnings: run.warnings ?? [] }
}

function channelCounts(
  byLifecycle: Record<Lifecycle, number>,
  byQuality: Record<QualityRating, number>,
): StatusView['channels'] {
  const total = Object.values(byLifecycle).reduce((a, b) => a + b, 0)
  const rated = Object.values(byQuality).reduce((a, b) => a + b, 0)
  // Two counts read at slightly different moments: never a negative remainder.
  return { total, byLifecycle, byQuality: { ...byQuality, unrated: Math.max(0, total - rated) } }
}

/**
 * Operational status: the last and last successful reconciliation runs (with their warnings), the
 * quarantined upstream items, stored channels by lifecycle, webhook counters, the webhook events
 * stuck in `pending` for over five minutes, and the change-event publisher's last batch (lag) and
 * on-failure queue depth.
 */
export async function getStatus(
  deps: Pick<AppDeps, 'store' | 'clock' | 'failureQueue' | 'logger' | 'config'>,
): Promise<StatusView> {
  const now = deps.clock.now()
  const before = new Date(now.getTime() - STUCK_AFTER_MS).toISOString()
  const progress = reconciliationProgress(deps.store)
  const [
    runs,
    byLifecycle,
    byQuality,
    counters,
    pending,
    quarantined,
    published,
    failureQueueDepth,
    sweeps,
    partnerSettings,
  ] = await Promise.all([
    deps.store.ops.getRunSummaries(),
    deps.store.channels.countByLifecycle(),
    deps.store.channels.countByQuality(),
    deps.store.ops.getCounters('webhooks'),
    deps.store.events.countPending(before, STUCK_COUNT_CAP),
    deps.store.ops.listQuarantined(now, QUARANTINE_COUNT_CAP),
    deps.store.ops.getChangesPublished(),
    // The queue depth is one SQS call: when it fails, status still answers with the rest.
    deps.failureQueue.depth().catch((error: unknown) => {
      deps.logger.warn('change event failure queue depth unavailable', { error })
      return null
    }),
    deps.store.ops.getHealthSweeps(),
    partnerSettingsStatus(deps),
  ])
  const webhooks = Object.fromEntries(WEBHOOK_COUNTERS.map((k) => [k, counters[k] ?? 0])) as Record<
    (typeof WEBHOOK_COUNTERS)[number],
    number
  >
  return {
    reconciliation: {
      last: withDefaults(runs.last),
      lastSuccess: withDefaults(runs.lastSuccess),
      ...(await progress),
      quarantine: {
        count: quarantined.length,
        countCapped: quarantined.length >= QUARANTINE_COUNT_CAP,
        items: quarantined
          .sort((a, b) => (a.lastSeenAt < b.lastSeenAt ? 1 : a.lastSeenAt > b.lastSeenAt ? -1 : 0))
          .slice(0, QUARANTINE_LISTED),
      },
    },
    channels: channelCounts(byLifecycle, byQuality),
    webhooks: { ...webhooks, stuck: pending, stuckCapped: pending >= STUCK_COUNT_CAP },
    changeEvents: {
      lastChangeAt: published?.changeAt ?? null,
      lastPublishedAt: published?.publishedAt ?? null,
      lagMs: published
        ? Math.max(0, Date.parse(published.publishedAt) - Date.parse(published.changeAt))
        : null,
      published: published?.published ?? 0,
      failureQueueDepth,
    },
    health: { byStatus: sweeps.lastRun?.byStatus ?? null, lastSweep: sweeps.last, lastRun: sweeps.lastRun },
    partnerSettings,
    at: now.toISOString(),
  }
}

/** The reconciliation state as GET /status shows it (one read of its ops-table item). */
async function reconciliationProgress(store: AppDeps['store']): Promise<ReconciliationProgress> {
  const state = await store.ops.getReconcileState()
  const cp = state?.sweep ?? null
  return {
    watermark: state?.watermark ?? null,
    lastFullSweep: state?.lastFullSweep ?? null,
    sweep: cp
      ? {
          sweepId: cp.sweepId,
          startedAt: cp.startedAt,
          reason: cp.reason,
          phase: cp.phase,
          offset: cp.offset,
          invocations: cp.invocations,
          seen: { ...cp.seen },
          changed: { ...cp.changed },
        }
      : null,
  }
}

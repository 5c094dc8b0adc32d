import type { AppDeps } from '../../deps'
import type { Lifecycle, RunSummary } from '../../domain/types'

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

/** `GET /status`: the last reconciliation, channels by lifecycle, webhook counts. */
export interface StatusView {
  reconciliation: { last: RunSummary | null; lastSuccess: RunSummary | null }
  channels: { total: number; byLifecycle: Record<Lifecycle, number> }
  webhooks: Record<(typeof WEBHOOK_COUNTERS)[number], number> & { stuck: number; stuckCapped: boolean }
  at: string
}

/**
 * Operational status: the last and last successful reconciliation runs, stored channels by
 * lifecycle, webhook counters, and the webhook events stuck in `pending` for over five minutes.
 */
export async function getStatus(deps: Pick<AppDeps, 'store' | 'clock'>): Promise<StatusView> {
  const now = deps.clock.now()
  const before = new Date(now.getTime() - STUCK_AFTER_MS).toISOString()
  const [runs, byLifecycle, counters, pending] = await Promise.all([
    deps.store.ops.getRunSummaries(),
    deps.store.channels.countByLifecycle(),
    deps.store.ops.getCounters('webhooks'),
    deps.store.events.countPending(before, STUCK_COUNT_CAP),
  ])
  const webhooks = Object.fromEntries(WEBHOOK_COUNTERS.map((k) => [k, counters[k] ?? 0])) as Record<
    (typeof WEBHOOK_COUNTERS)[number],
    number
  >
  return {
    reconciliation: runs,
    channels: { total: Object.values(byLifecycle).reduce((a, b) => a + b, 0), byLifecycle },
    webhooks: { ...webhooks, stuck: pending, stuckCapped: pending >= STUCK_COUNT_CAP },
    at: now.toISOString(),
  }
}

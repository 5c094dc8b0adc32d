import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import type { RunSummary, RunWarning } from '../../shared/domain/types'
import { provisionMissingKeys } from '../../shared/services/channel-keys/key-triggers'
import { reconcile } from '../../shared/services/reconciliation/reconcile'

/** The metric of each run warning this poller raises (1 in a run that raised it, else 0). */
export const RUN_WARNING_METRICS: Partial<Record<RunWarning, string>> = {
  items_key_missing: 'WarningItemsKeyMissing',
  total_mismatch: 'WarningTotalMismatch',
  mass_missing_halted: 'WarningMassMissingHalted',
  quarantined_items: 'WarningQuarantinedItems',
  sort_fallback: 'WarningSortFallback',
  // The PartnerSettingsDrift alarm reads this one (infra/metrics.ts PARTNER_SETTINGS).
  partner_settings_drift: 'PartnerSettingsDrift',
}

/** The poller as Lambda (EventBridge Scheduler) and the local timer invoke it. */
export type PollerLambda = middy.MiddyfiedHandler<unknown, RunSummary, Error, Context>

/**
 * EMF metrics of one run: every summary figure, the outcome as three 0/1 counts, and the seconds since
 * the last successful run (read after this run's summary is saved; absent before the first success).
 */
export async function recordRunMetrics(
  deps: Pick<AppDeps, 'metrics' | 'store' | 'clock' | 'logger'>,
  summary: RunSummary,
): Promise<void> {
  const m = deps.metrics
  m.addMetric('RunSucceeded', MetricUnit.Count, summary.outcome === 'succeeded' ? 1 : 0)
  m.addMetric('RunFailed', MetricUnit.Count, summary.outcome === 'failed' ? 1 : 0)
  m.addMetric('RunSkipped', MetricUnit.Count, summary.outcome === 'skipped' ? 1 : 0)
  if (summary.outcome !== 'skipped') {
    const duration = Date.parse(summary.endedAt) - Date.parse(summary.startedAt)
    m.addMetric('RunDuration', MetricUnit.Milliseconds, Math.max(0, duration))
    m.addMetric('RunComplete', MetricUnit.Count, summary.complete ? 1 : 0)
    // 1 for an incremental run, 0 for a full sweep (or one invocation of a sweep that spans several).
    m.addMetric('RunIncremental', MetricUnit.Count, summary.mode === 'incremental' ? 1 : 0)
    m.addMetric('Pages', MetricUnit.Count, summary.pages)
    m.addMetric('UpstreamCalls', MetricUnit.Count, summary.calls)
    m.addMetric('UpstreamRetries', MetricUnit.Count, summary.retries)
    m.addMetric('ClientsSeen', MetricUnit.Count, summary.seen.clients)
    m.addMetric('ChannelsSeen', MetricUnit.Count, summary.seen.channels)
    m.addMetric('ClientsChanged', MetricUnit.Count, summary.changed.clients)
    m.addMetric('ChannelsChanged', MetricUnit.Count, summary.changed.channels)
    m.addMetric('ClientsMissing', MetricUnit.Count, summary.missing.clients)
    m.addMetric('ChannelsMissing', MetricUnit.Count, summary.missing.channels)
    m.addMetric('EventsSwept', MetricUnit.Count, summary.swept)
    m.addMetric('CancellationsConfirmed', MetricUnit.Count, summary.confirmedCancellations)
    m.addMetric('ItemsQuarantined', MetricUnit.Count, summary.quarantined)
    // One 0/1 count per warning code, so each can be graphed and alarmed on its own.
    for (const [code, name] of Object.entries(RUN_WARNING_METRICS)) {
      m.addMetric(name, MetricUnit.Count, summary.warnings.includes(code as RunWarning) ? 1 : 0)
    }
  }
  try {
    // A successful run is its own last success; only other outcomes need the stored one.
    const lastSuccess =
      summary.outcome === 'succeeded' ? summary : (await deps.store.ops.getRunSummaries()).lastSuccess
    if (lastSuccess) {
      const seconds = (deps.clock.now().getTime() - Date.parse(lastSuccess.endedAt)) / 1000
      m.addMetric('SecondsSinceLastSuccess', MetricUnit.Seconds, Math.max(0, Math.round(seconds)))
    }
  } catch (err: unknown) {
    deps.logger.warn('last successful run not read', { error: err instanceof Error ? err.name : 'unknown' })
  }
}

/** Time kept back from the key step for the handler's own end (metrics flush). */
const KEY_STEP_MARGIN_MS = 15_000
/** The key step's time when the invocation's remaining time is unknown. */
const KEY_STEP_DEFAULT_MS = 45_000

/**
 * The reconciliation poller: one `reconcile` run per invocation, metrics flushed as EMF. No HTTP error
 * handler: a failed run throws (after its summary is saved) so Lambda retries, the schedule's
 * dead-letter queue and the alarms see it.
 */
export function buildPollerHandler(deps: AppDeps): PollerLambda {
  const run = async (_event: unknown, context?: Context): Promise<RunSummary> => {
    const summary = await reconcile(deps, { onSummary: (summary) => recordRunMetrics(deps, summary) })
    // After a run that succeeded: ready channels without a key get one, in what is left of the
    // invocation (less a margin), never holding up the run itself.
    if (summary.outcome === 'succeeded') {
      const remaining = context?.getRemainingTimeInMillis?.() ?? KEY_STEP_DEFAULT_MS
      await provisionMissingKeys(deps, { deadline: Date.now() + Math.max(0, remaining - KEY_STEP_MARGIN_MS) })
    }
    return summary
  }
  return middy<unknown, RunSummary, Error, Context>(run)
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(logMetrics(deps.metrics))
}

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { HEALTH_METRICS, type HealthSweepSummary, UNHEALTHY_STATUSES } from '../../shared/domain/health'
import { markKeyInvalid } from '../../shared/services/channel-keys/provision-key'
import type { HealthKeys } from '../../shared/services/health/check-channel'
import { healthKeys } from '../../shared/services/health/keys'
import { sweepHealth } from '../../shared/services/health/sweep-health'

/** The metrics of one sweep, named once in shared/domain/health.ts (infra/metrics.ts HEALTH reads them). */
export { HEALTH_METRICS }

/** The health job as EventBridge Scheduler and the local timer invoke it. */
export type HealthLambda = middy.MiddyfiedHandler<unknown, HealthSweepSummary, Error, Context>

/** EMF metrics of one sweep. */
export function recordSweepMetrics(deps: Pick<AppDeps, 'metrics'>, s: HealthSweepSummary): void {
  const m = deps.metrics
  m.addMetric(HEALTH_METRICS.sweepSucceeded, MetricUnit.Count, s.outcome === 'succeeded' ? 1 : 0)
  m.addMetric(HEALTH_METRICS.sweepFailed, MetricUnit.Count, s.outcome === 'failed' ? 1 : 0)
  m.addMetric(HEALTH_METRICS.sweepSkipped, MetricUnit.Count, s.outcome === 'skipped' ? 1 : 0)
  if (s.outcome === 'skipped') return
  if (s.endedAt) {
    const ms = Date.parse(s.endedAt) - Date.parse(s.startedAt)
    m.addMetric(HEALTH_METRICS.sweepDuration, MetricUnit.Milliseconds, Math.max(0, ms))
  }
  m.addMetric(HEALTH_METRICS.checked, MetricUnit.Count, s.checked)
  m.addMetric(HEALTH_METRICS.changed, MetricUnit.Count, s.changed)
  m.addMetric(HEALTH_METRICS.failed, MetricUnit.Count, s.failed)
  m.addMetric(HEALTH_METRICS.late, MetricUnit.Count, s.late)
  m.addMetric(HEALTH_METRICS.keysRejected, MetricUnit.Count, s.keysRejected)
  m.addMetric(HEALTH_METRICS.withoutKey, MetricUnit.Count, s.withoutKey)
  const unhealthy = [...UNHEALTHY_STATUSES].reduce((n, status) => n + s.byStatus[status], 0)
  m.addMetric(HEALTH_METRICS.unhealthy, MetricUnit.Count, unhealthy)
  m.addMetric(HEALTH_METRICS.becameUnhealthy, MetricUnit.Count, s.becameUnhealthy)
  m.addMetric(HEALTH_METRICS.calls, MetricUnit.Count, s.calls)
}

/** What a test or benchmark may give the job (the deployment gives none). */
export interface HealthHandlerOptions {
  /** The key side (default: the channel key store of `deps`). */
  keys?: HealthKeys
  sleep?: (ms: number) => Promise<void>
}

/**
 * The scheduled health job: one sweep per invocation (shared/services/health/sweep-health.ts), metrics
 * flushed as EMF. A failed sweep throws after its summary is saved, so Lambda's retry, the on-failure
 * queue and the alarms see it (a retry is paced like any sweep: it never re-checks a channel early).
 */
export function buildHealthHandler(deps: AppDeps, opts: HealthHandlerOptions = {}): HealthLambda {
  const c = deps.config
  // Built on first use: the key store is an adapter (docs/wiring.md).
  let keys: HealthKeys | null = opts.keys ?? null
  const run = async (_event: unknown, context: Context): Promise<HealthSweepSummary> => {
    const remaining = context.getRemainingTimeInMillis()
    // A refused key is marked invalid; reconciliation creates its one replacement (never this job).
    keys ??= healthKeys(deps, deps.channelKeys, (channelId) => markKeyInvalid(deps, channelId))
    const summary = await sweepHealth(
      // Named parts only: spreading deps would build (or refuse) every adapter of the function.
      {
        store: deps.store,
        clock: deps.clock,
        logger: deps.logger,
        messaging: deps.messaging,
        keys,
      },
      {
        intervalMs: c.HEALTH_INTERVAL_MINUTES * 60_000,
        spread: c.HEALTH_SPREAD === 'on',
        concurrency: c.HEALTH_CONCURRENCY,
        // Stop starting checks 30 s before the function's own timeout.
        budgetMs: Math.max(0, Math.min(c.HEALTH_BUDGET_MS, remaining - 30_000)),
        ...(opts.sleep ? { sleep: opts.sleep } : {}),
      },
    )
    recordSweepMetrics(deps, summary)
    if (summary.outcome === 'failed') throw new Error(`health sweep failed: ${summary.reason ?? 'unknown'}`)
    return summary
  }
  return middy<unknown, HealthSweepSummary, Error, Context>(run)
    .use(injectLambdaContext(deps.logger, { resetKeys: true }))
    .use(logMetrics(deps.metrics))
}

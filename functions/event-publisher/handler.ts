import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda'
import {
  changeTableResolver,
  type StreamRecordLike,
  toStreamChange,
} from '../../shared/adapters/change-stream'
import { tableNamesFromConfig } from '../../shared/adapters/dynamo/tables'
import type { AppDeps } from '../../shared/deps'
import {
  LIVE_CHANNEL_TURNED_RED,
  QUALITY_METRIC_OF,
  QUALITY_RATINGS,
  qualityMoves,
} from '../../shared/domain/signals'
import { publishChanges, type StreamChange } from '../../shared/services/events/publish-changes'

/** Metrics of the change-event publisher (infra/metrics.ts CHANGE_EVENTS reads the same names). */
export const CHANGE_EVENT_METRICS = {
  published: 'ChangeEventsPublished',
  failed: 'ChangeEventBatchesRetried',
  delay: 'ChangeEventDelay',
} as const

/** The publisher as Lambda (and the local runner's change feed) calls it. */
export type EventPublisherHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
) => Promise<DynamoDBBatchResponse>

/**
 * Builds the change-event publisher: the one consumer of the clients, channels and cancellations
 * tables' streams (NEW_AND_OLD_IMAGES). It derives change events (docs/change-events.md) from each record's images
 * (shared/domain/change-events.ts), publishes them in stream order and reports the first record not
 * done as the batch item failure, so Lambda retries from there and checkpoints what came before.
 */
export function buildEventPublisherHandler(deps: AppDeps): EventPublisherHandler {
  const tableOf = changeTableResolver(tableNamesFromConfig(deps.config))
  return middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .handler(async (event) => {
      const changes: StreamChange[] = []
      for (const record of event.Records) {
        const change = toStreamChange(record as StreamRecordLike, tableOf)
        if (change) changes.push(change)
      }
      const result = await publishChanges(deps, changes)
      deps.metrics.addMetric(CHANGE_EVENT_METRICS.published, MetricUnit.Count, result.published)
      if (result.retryFrom) deps.metrics.addMetric(CHANGE_EVENT_METRICS.failed, MetricUnit.Count, 1)
      if (result.delayMs !== null)
        deps.metrics.addMetric(CHANGE_EVENT_METRICS.delay, MetricUnit.Milliseconds, result.delayMs)
      if (deps.config.QUALITY_METRICS === 'on') {
        // Only records done: a record retried later counts when it is published.
        const moves = qualityMoves(changes.slice(0, result.done))
        for (const rating of QUALITY_RATINGS) {
          if (moves.into[rating] > 0)
            deps.metrics.addMetric(QUALITY_METRIC_OF[rating], MetricUnit.Count, moves.into[rating])
        }
        // Always emitted, 0 included, so the RED alarm sees a steady series.
        deps.metrics.addMetric(LIVE_CHANNEL_TURNED_RED, MetricUnit.Count, moves.liveTurnedRed)
      }
      return { batchItemFailures: result.retryFrom ? [{ itemIdentifier: result.retryFrom }] : [] }
    })
}

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda'
import { KEYS } from '../../shared/adapters/dynamo/tables'
import type { AppDeps } from '../../shared/deps'
import { applyPendingEvents } from '../../shared/services/webhooks/apply-pending-event'

/** The applier as Lambda (and the local runner's stream stand-in) calls it. */
export type WebhookApplierHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
) => Promise<DynamoDBBatchResponse>

/** The event key of a stream record that announces a new event, or null for any other record. */
function insertedKey(record: DynamoDBRecord): string | null {
  if (record.eventName !== 'INSERT') return null
  return record.dynamodb?.Keys?.[KEYS.events.pk]?.S ?? null
}

/**
 * Builds the webhook applier: the consumer of the events table's DynamoDB stream (KEYS_ONLY). For
 * each INSERT it reads the event by key and, while it is still pending, applies it to state and
 * records its outcome (applyPendingEvents, shared with the sweep). Other records (MODIFY, REMOVE,
 * unreadable keys) are skipped. Reports partial batch failures: only the records whose event could
 * not be completed are returned, by SequenceNumber, for the stream to retry.
 */
export function buildWebhookApplierHandler(deps: AppDeps): WebhookApplierHandler {
  return middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .handler(async (event) => {
      const sequences = new Map<string, string[]>()
      let skipped = 0
      for (const record of event.Records) {
        const key = insertedKey(record)
        const sequence = record.dynamodb?.SequenceNumber
        if (key === null || sequence === undefined) {
          skipped++
          continue
        }
        sequences.set(key, [...(sequences.get(key) ?? []), sequence])
      }
      // In stream order, one at a time (see applyPendingEvents).
      const results = await applyPendingEvents(deps, [...sequences.keys()], { via: 'stream' })
      const failed = results.filter((r) => r.result === 'failed')
      deps.logger.info('webhook applier batch done', {
        records: event.Records.length,
        skipped,
        completed: results.filter((r) => r.result === 'completed').length,
        notPending: results.filter((r) => r.result !== 'completed' && r.result !== 'failed').length,
        failed: failed.length,
      })
      return {
        batchItemFailures: failed.flatMap((r) =>
          (sequences.get(r.eventKey) ?? []).map((itemIdentifier) => ({ itemIdentifier })),
        ),
      }
    })
}

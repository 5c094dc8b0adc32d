import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import middy from '@middy/core'
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda'
import { eventFromStreamImage } from '../../shared/adapters/dynamo/event-repository'
import { KEYS } from '../../shared/adapters/dynamo/tables'
import type { AppDeps } from '../../shared/deps'
import {
  applyKeyPermissions,
  type KeyPermissionChange,
} from '../../shared/services/channel-keys/key-triggers'
import { applyPendingEvents, type PendingEvent } from '../../shared/services/webhooks/apply-pending-event'

/** The applier as Lambda (and the local runner's stream stand-in) calls it. */
export type WebhookApplierHandler = (
  event: DynamoDBStreamEvent,
  context: Context,
) => Promise<DynamoDBBatchResponse>

/**
 * The new event a stream record announces: the stored event from its new image, else (a record
 * without one) its key, to be read; null for any other record.
 */
function insertedEvent(record: DynamoDBRecord): PendingEvent | null {
  if (record.eventName !== 'INSERT') return null
  const image = eventFromStreamImage(record.dynamodb?.NewImage as Record<string, AttributeValue> | undefined)
  return image ?? record.dynamodb?.Keys?.[KEYS.events.pk]?.S ?? null
}

/**
 * Builds the webhook applier: the consumer of the events table's DynamoDB stream (NEW_IMAGE). Each
 * INSERT carries the stored event, which is applied to state without a read; its outcome is recorded
 * only while it is still pending (applyPendingEvents, shared with the sweep), so an event a
 * redelivery or the sweep completed first is not counted twice. Other records (MODIFY, REMOVE,
 * unreadable keys) are skipped. Reports partial batch failures: only the records whose event could
 * not be completed are returned, by SequenceNumber, for the stream to retry.
 */
export function buildWebhookApplierHandler(deps: AppDeps): WebhookApplierHandler {
  return middy<DynamoDBStreamEvent, DynamoDBBatchResponse>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .handler(async (event) => {
      const sequences = new Map<string, string[]>()
      const events: PendingEvent[] = []
      let skipped = 0
      for (const record of event.Records) {
        const inserted = insertedEvent(record)
        const sequence = record.dynamodb?.SequenceNumber
        if (inserted === null || sequence === undefined) {
          skipped++
          continue
        }
        const key = typeof inserted === 'string' ? inserted : inserted.eventKey
        if (!sequences.has(key)) events.push(inserted)
        sequences.set(key, [...(sequences.get(key) ?? []), sequence])
      }
      // In stream order, one at a time (see applyPendingEvents). Permission events are collected and
      // acted on after the batch: creating or deleting a channel's key never holds up state.
      const permissions: KeyPermissionChange[] = []
      const applyDeps = {
        store: deps.store,
        clock: deps.clock,
        logger: deps.logger,
        metrics: deps.metrics,
        onKeyPermission: (change: KeyPermissionChange) => permissions.push(change),
      }
      const results = await applyPendingEvents(applyDeps, events, { via: 'stream' })
      if (permissions.length > 0) await applyKeyPermissions(deps, permissions)
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

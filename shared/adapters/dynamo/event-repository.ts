import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { DependencyUnavailableError } from '../../domain/errors'
import type { WebhookEventRecord } from '../../domain/types'
import type { WebhookEventRepository } from '../../ports'
import { type Db, type Item, pageSize, type QuerySpec, queryCount, queryPage, readAll, strip } from './db'
import { KEYS } from './tables'

const E = KEYS.events

/** The pending index holds one partition: pending events are few (the sweep's backlog). */
export const PENDING_SHARD = 'p0'

const byReceivedAt = (a: WebhookEventRecord, b: WebhookEventRecord): number =>
  a.receivedAt < b.receivedAt ? -1 : a.receivedAt > b.receivedAt ? 1 : 0

/**
 * The stored event a stream record's new image carries (the events table streams NEW_IMAGE), or null
 * when the image is missing (a KEYS_ONLY record from before the view type changed) or is not a whole
 * event; the applier then reads the event by key.
 */
export function eventFromStreamImage(
  raw: Record<string, AttributeValue> | undefined,
): WebhookEventRecord | null {
  if (!raw) return null
  const item = unmarshall(raw) as Item
  const complete =
    typeof item[E.pk] === 'string' &&
    typeof item.body === 'string' &&
    typeof item.receivedAt === 'string' &&
    typeof item.status === 'string' &&
    typeof item.eventType === 'string'
  return complete ? strip<WebhookEventRecord>(item, [E.pendingShard]) : null
}

/** Webhook events in DynamoDB: conditional create, duplicate counting, a sparse index of pending events. */
export function createWebhookEventRepository(db: Db, table: string): WebhookEventRepository {
  const fromItem = (item: Item): WebhookEventRecord => strip<WebhookEventRecord>(item, [E.pendingShard])

  return {
    putNew: async (record) => {
      // Bounded: the second write only misses when the record expired or was deleted in between.
      for (let attempt = 0; attempt < 3; attempt++) {
        const created = await db.conditional('events.putNew', () =>
          db.doc.send(
            new PutCommand({
              TableName: table,
              Item:
                record.status === 'pending' ? { ...record, [E.pendingShard]: PENDING_SHARD } : { ...record },
              ConditionExpression: 'attribute_not_exists(#k)',
              ExpressionAttributeNames: { '#k': E.pk },
            }),
          ),
        )
        if (created) return { outcome: 'created' }
        // The count and the stored event in one request: a redelivery needs no read of its status.
        let existing: Item | undefined
        const counted = await db.conditional('events.putNew', async () => {
          const out = await db.doc.send(
            new UpdateCommand({
              TableName: table,
              Key: { [E.pk]: record.eventKey },
              UpdateExpression: 'ADD #d :one',
              ConditionExpression: 'attribute_exists(#k)',
              ExpressionAttributeNames: { '#d': 'deliveries', '#k': E.pk },
              ExpressionAttributeValues: { ':one': 1 },
              ReturnValues: 'ALL_NEW',
            }),
          )
          existing = out.Attributes
          return out
        })
        if (counted && existing) return { outcome: 'duplicate', existing: fromItem(existing) }
      }
      throw new DependencyUnavailableError('DynamoDB events.putNew did not settle')
    },
    get: async (eventKey) => {
      const out = await db.call('events.get', () =>
        db.doc.send(new GetCommand({ TableName: table, Key: { [E.pk]: eventKey }, ConsistentRead: true })),
      )
      return out.Item ? fromItem(out.Item) : null
    },
    markOutcome: async (eventKey, status, reason, at, opts = {}) =>
      // A record that is gone (TTL) has nothing left to mark. `onlyIfPending`: the pending index
      // attribute exists exactly while the event is pending, so the first completion wins.
      db.conditional('events.markOutcome', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [E.pk]: eventKey },
            UpdateExpression: 'SET #s = :s, #r = :r, #a = :a REMOVE #p',
            ConditionExpression: opts.onlyIfPending ? 'attribute_exists(#p)' : 'attribute_exists(#k)',
            ExpressionAttributeNames: {
              '#s': 'status',
              '#r': 'reason',
              '#a': 'appliedAt',
              '#p': E.pendingShard,
              ...(opts.onlyIfPending ? {} : { '#k': E.pk }),
            },
            ExpressionAttributeValues: { ':s': status, ':r': reason, ':a': at },
          }),
        ),
      ),
    listPending: async (before, limit) => {
      const max = pageSize(limit)
      const found: WebhookEventRecord[] = []
      const pending: QuerySpec = {
        table,
        index: E.pending,
        partition: [E.pendingShard, PENDING_SHARD],
        sortBelow: ['receivedAt', before],
      }
      const pages = readAll((start) =>
        queryPage(db, 'events.listPending', pending, start, max - found.length),
      )
      for await (const items of pages) {
        found.push(...items.map(fromItem))
        if (found.length >= max) break
      }
      return found.slice(0, max)
    },
    countPending: (before, cap) =>
      // Select COUNT: only the number travels back, never the stored bodies.
      queryCount(
        db,
        'events.countPending',
        {
          table,
          index: E.pending,
          partition: [E.pendingShard, PENDING_SHARD],
          sortBelow: ['receivedAt', before],
        },
        cap,
      ),
    listSince: (since) => {
      // Replay is rare and operator-driven: a filtered Scan avoids an index written on every event.
      const pages = readAll(async (start) => {
        const out = await db.call('events.listSince', () =>
          db.doc.send(
            new ScanCommand({
              TableName: table,
              FilterExpression: '#r >= :since',
              ExpressionAttributeNames: { '#r': 'receivedAt' },
              ExpressionAttributeValues: { ':since': since },
              ExclusiveStartKey: start,
            }),
          ),
        )
        return { items: out.Items ?? [], lastKey: out.LastEvaluatedKey }
      })
      return (async function* () {
        for await (const items of pages) yield items.map(fromItem).sort(byReceivedAt)
      })()
    },
  }
}

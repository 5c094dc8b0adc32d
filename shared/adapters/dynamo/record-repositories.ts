import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb'
import type { AuditEntry, CancellationRecord } from '../../domain/types'
import type { AuditRepository, CancellationRepository } from '../../ports'
import { type Db, type Item, queryPage, readPage, strip } from './db'
import { KEYS } from './tables'

const K = KEYS.cancellations
const A = KEYS.audit

/** Cancellation records in DynamoDB: optimistic concurrency on `version`, an index by state. */
export function createCancellationRepository(db: Db, table: string): CancellationRepository {
  return {
    get: async (channelId) => {
      const out = await db.call('cancellations.get', () =>
        db.doc.send(new GetCommand({ TableName: table, Key: { [K.pk]: channelId }, ConsistentRead: true })),
      )
      return out.Item ? (out.Item as CancellationRecord) : null
    },
    put: (record, expectedVersion) =>
      db.conditional('cancellations.put', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: record,
            ...(expectedVersion === null
              ? {
                  ConditionExpression: 'attribute_not_exists(#id)',
                  ExpressionAttributeNames: { '#id': K.pk },
                }
              : {
                  ConditionExpression: '#v = :v',
                  ExpressionAttributeNames: { '#v': 'version' },
                  ExpressionAttributeValues: { ':v': expectedVersion },
                }),
          }),
        ),
      ),
  }
}

/** The audit trail in DynamoDB: conditional PutItem only (the table can be granted append-only). */
export function createAuditRepository(db: Db, table: string): AuditRepository {
  return {
    append: async (entry) => {
      // An entry with the same subject, time and id is the same entry again: keep the first.
      await db.conditional('audit.append', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...entry, [A.sk]: `${entry.at}#${entry.id}` },
            ConditionExpression: 'attribute_not_exists(#sk)',
            ExpressionAttributeNames: { '#sk': A.sk },
          }),
        ),
      )
    },
    list: async (subject, limit, cursor) => {
      const page = await readPage(db, {
        binding: `${table}|subject|${JSON.stringify([subject])}`,
        keyNames: [A.pk, A.sk],
        limit,
        cursor,
        read: (start, want) =>
          queryPage(db, 'audit.list', { table, partition: [A.pk, subject] }, start, want),
      })
      return { items: page.items.map((i: Item) => strip<AuditEntry>(i, [A.sk])), nextCursor: page.nextCursor }
    },
  }
}

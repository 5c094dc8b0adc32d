import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { CHANGE_TABLES, type ChangeTable, type ItemImage, type StreamChange } from '../domain/change-events'
import type { TableNames } from './dynamo/tables'

/**
 * A DynamoDB stream record as Lambda delivers it (aws-lambda's DynamoDBRecord) or as the DynamoDB
 * Streams API returns it (GetRecords, for a redrive): the same JSON, except that the API gives the
 * creation time as a Date and Lambda as epoch seconds.
 */
export interface StreamRecordLike {
  eventName?: string
  eventSourceARN?: string
  dynamodb?: {
    ApproximateCreationDateTime?: number | Date
    SequenceNumber?: string
    NewImage?: Record<string, unknown>
    OldImage?: Record<string, unknown>
  }
}

/** The table name in a stream ARN (`arn:aws:dynamodb:region:account:table/NAME/stream/LABEL`). */
export function tableNameOfStreamArn(arn: string): string | null {
  const m = /:table\/([^/]+)\/stream\//.exec(arn)
  return m?.[1] ?? null
}

/** Maps physical table names to the tables whose changes are events; others map to null. */
export function changeTableResolver(names: TableNames): (tableName: string) => ChangeTable | null {
  const byName = new Map<string, ChangeTable>(CHANGE_TABLES.map((t) => [names[t], t]))
  return (tableName) => byName.get(tableName) ?? null
}

const image = (raw: Record<string, unknown> | undefined): ItemImage | null =>
  raw ? (unmarshall(raw as Record<string, AttributeValue>) as ItemImage) : null

/**
 * The item change of one stream record (NEW_AND_OLD_IMAGES), or null for a record that is not one
 * (another table, no sequence number). Images are unmarshalled to plain objects; numbers become
 * JavaScript numbers (every number PartnerOps stores is a small integer).
 */
export function toStreamChange(
  record: StreamRecordLike,
  tableOf: (tableName: string) => ChangeTable | null,
  tableName?: string,
): StreamChange | null {
  const name = tableName ?? tableNameOfStreamArn(record.eventSourceARN ?? '')
  const table = name ? tableOf(name) : null
  const sequence = record.dynamodb?.SequenceNumber
  if (!table || !sequence) return null
  const created = record.dynamodb?.ApproximateCreationDateTime
  const changedAt =
    created instanceof Date
      ? created.toISOString()
      : typeof created === 'number'
        ? new Date(created * 1000).toISOString()
        : null
  return {
    table,
    sequence,
    oldImage: image(record.dynamodb?.OldImage),
    newImage: image(record.dynamodb?.NewImage),
    changedAt,
  }
}

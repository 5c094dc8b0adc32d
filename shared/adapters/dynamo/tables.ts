import {
  type AttributeValue,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb'
import { DependencyUnavailableError, errorName } from '../../domain/errors'

/**
 * The one definition of the PartnerOps tables, as plain data: the local runner creates them from it
 * (ensureTables) and the CDK stack maps it to dynamodb.TableV2. One table per concern, so each function
 * gets least-privilege IAM and the audit table can be append-only (PutItem only).
 */

/** Logical names of the tables. */
export type TableKey = 'clients' | 'channels' | 'events' | 'cancellations' | 'audit' | 'ops' | 'channelKeys'

/** Physical table names by logical name. */
export type TableNames = Record<TableKey, string>

/** Key attribute of a table or index (PartnerOps uses string keys only; N is there for completeness). */
export interface KeyAttribute {
  name: string
  type: 'S' | 'N'
}

/** A global secondary index. */
export interface IndexSpec {
  indexName: string
  partitionKey: KeyAttribute
  sortKey?: KeyAttribute
  projection: 'ALL' | 'KEYS_ONLY' | { include: string[] }
}

/** One table: logical name, the config key of its physical name, keys, indexes and TTL. */
export interface TableSpec {
  key: TableKey
  configKey:
    | 'TABLE_CLIENTS'
    | 'TABLE_CHANNELS'
    | 'TABLE_EVENTS'
    | 'TABLE_CANCELLATIONS'
    | 'TABLE_AUDIT'
    | 'TABLE_OPS'
    | 'TABLE_CHANNEL_KEYS'
  partitionKey: KeyAttribute
  sortKey?: KeyAttribute
  indexes: IndexSpec[]
  ttlAttribute?: string
  /**
   * The table's DynamoDB stream: NEW_IMAGE for the webhook applier (each new event arrives whole,
   * so it is applied without a read), NEW_AND_OLD_IMAGES for the state tables whose writes the
   * change-event publisher turns into events.
   */
  stream?: 'NEW_IMAGE' | 'NEW_AND_OLD_IMAGES'
  /** What the table is for (documentation, and the CDK description). */
  purpose: string
}

const S = (name: string): KeyAttribute => ({ name, type: 'S' })

/** Attribute and index names the repositories rely on. */
export const KEYS = {
  clients: { pk: 'clientId', byStatus: 'byStatus', statusKey: 'statusKey', searchKey: 'searchKey' },
  channels: {
    pk: 'channelId',
    byClient: 'byClient',
    byLifecycle: 'byLifecycle',
    byPhone: 'byPhone',
    phoneKey: 'phoneKey',
    byQuality: 'byQuality',
    qualityKey: 'qualityKey',
    byLimit: 'byLimit',
    limitKey: 'limitKey',
    byHealth: 'byHealth',
    healthKey: 'healthKey',
    searchKey: 'searchKey',
    legalNameKey: 'legalNameKey',
    byKeyNeeded: 'byKeyNeeded',
    keyNeeded: 'keyNeeded',
  },
  events: { pk: 'eventKey', pending: 'pending', pendingShard: 'pendingShard', ttl: 'expiresAt' },
  cancellations: { pk: 'channelId' },
  audit: { pk: 'subject', sk: 'atId' },
  ops: { pk: 'pk', sk: 'sk', ttl: 'expiresAt' },
  channelKeys: { pk: 'channelId' },
} as const

/** Every PartnerOps table. */
export const TABLES: readonly TableSpec[] = [
  {
    key: 'clients',
    configKey: 'TABLE_CLIENTS',
    partitionKey: S('clientId'),
    // statusKey mirrors status only when it is a non-empty string: index keys cannot be null.
    indexes: [
      { indexName: 'byStatus', partitionKey: S('statusKey'), sortKey: S('clientId'), projection: 'ALL' },
    ],
    stream: 'NEW_AND_OLD_IMAGES',
    purpose: 'Clients mirrored from the Partner API',
  },
  {
    key: 'channels',
    configKey: 'TABLE_CHANNELS',
    partitionKey: S('channelId'),
    indexes: [
      { indexName: 'byClient', partitionKey: S('clientId'), sortKey: S('channelId'), projection: 'ALL' },
      { indexName: 'byLifecycle', partitionKey: S('lifecycle'), sortKey: S('channelId'), projection: 'ALL' },
      // phoneKey mirrors the digits of phoneNumber only when it has some (sparse).
      { indexName: 'byPhone', partitionKey: S('phoneKey'), sortKey: S('channelId'), projection: 'ALL' },
      // The signal filters (README, Finding channels): sparse, only rated / tiered / checked channels.
      { indexName: 'byQuality', partitionKey: S('qualityKey'), sortKey: S('channelId'), projection: 'ALL' },
      { indexName: 'byLimit', partitionKey: S('limitKey'), sortKey: S('channelId'), projection: 'ALL' },
      { indexName: 'byHealth', partitionKey: S('healthKey'), sortKey: S('channelId'), projection: 'ALL' },
      // keyNeeded is set only on ready channels without a key (sparse): reconciliation's key work list.
      {
        indexName: 'byKeyNeeded',
        partitionKey: S('keyNeeded'),
        sortKey: S('channelId'),
        projection: 'KEYS_ONLY',
      },
    ],
    stream: 'NEW_AND_OLD_IMAGES',
    purpose: 'Channels mirrored from the Partner API, with their derived lifecycle',
  },
  {
    key: 'events',
    configKey: 'TABLE_EVENTS',
    partitionKey: S('eventKey'),
    // pendingShard exists only while the event is pending: the index holds just the sweep's work.
    indexes: [
      { indexName: 'pending', partitionKey: S('pendingShard'), sortKey: S('receivedAt'), projection: 'ALL' },
    ],
    ttlAttribute: 'expiresAt',
    stream: 'NEW_IMAGE',
    purpose: 'Received webhook events, stored before they are applied',
  },
  {
    key: 'cancellations',
    configKey: 'TABLE_CANCELLATIONS',
    partitionKey: S('channelId'),
    indexes: [],
    stream: 'NEW_AND_OLD_IMAGES',
    purpose: 'One cancellation record per channel, with optimistic concurrency',
  },
  {
    key: 'audit',
    configKey: 'TABLE_AUDIT',
    partitionKey: S('subject'),
    sortKey: S('atId'),
    indexes: [],
    purpose: 'Append-only audit trail of management actions',
  },
  {
    key: 'ops',
    configKey: 'TABLE_OPS',
    partitionKey: S('pk'),
    sortKey: S('sk'),
    indexes: [],
    ttlAttribute: 'expiresAt',
    purpose: 'Leases, run summaries, counters, idempotency records and rate budget windows',
  },
  {
    key: 'channelKeys',
    configKey: 'TABLE_CHANNEL_KEYS',
    partitionKey: S('channelId'),
    indexes: [],
    purpose: 'Channel Messaging API keys, encrypted with the channel-key KMS key (one item per channel)',
  },
]

/** Physical table names from the parsed configuration. */
export function tableNamesFromConfig(config: Record<TableSpec['configKey'], string>): TableNames {
  return Object.fromEntries(TABLES.map((t) => [t.key, config[t.configKey]])) as TableNames
}

/** CreateTable input of one table (on-demand billing). */
export function createTableInput(spec: TableSpec, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, KeyAttribute['type']>()
  const add = (k: KeyAttribute | undefined): void => {
    if (k) attributes.set(k.name, k.type)
  }
  add(spec.partitionKey)
  add(spec.sortKey)
  for (const index of spec.indexes) {
    add(index.partitionKey)
    add(index.sortKey)
  }
  const keySchema = (pk: KeyAttribute, sk?: KeyAttribute): CreateTableCommandInput['KeySchema'] => [
    { AttributeName: pk.name, KeyType: 'HASH' },
    ...(sk ? [{ AttributeName: sk.name, KeyType: 'RANGE' as const }] : []),
  ]
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: keySchema(spec.partitionKey, spec.sortKey),
    ...(spec.indexes.length > 0
      ? {
          GlobalSecondaryIndexes: spec.indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection:
              typeof index.projection === 'string'
                ? { ProjectionType: index.projection }
                : { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: index.projection.include },
          })),
        }
      : {}),
  }
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms))

async function waitActive(client: DynamoDBClient, tableName: string): Promise<void> {
  // Bounded: local engines are ACTIVE at once, real DynamoDB within seconds for an empty table.
  for (let attempt = 0; attempt < 600; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }))
    const indexesReady = (Table?.GlobalSecondaryIndexes ?? []).every(
      (i) => i.IndexStatus === undefined || i.IndexStatus === 'ACTIVE',
    )
    if (Table?.TableStatus === 'ACTIVE' && indexesReady) return
    await sleep(attempt < 20 ? 50 : 500)
  }
  throw new DependencyUnavailableError(`Table ${tableName} did not become ACTIVE`)
}

async function waitDeleted(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    try {
      await client.send(new DescribeTableCommand({ TableName: tableName }))
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') return
      throw e
    }
    await sleep(attempt < 20 ? 50 : 500)
  }
  throw new DependencyUnavailableError(`Table ${tableName} was not deleted`)
}

async function ensureTtl(client: DynamoDBClient, tableName: string, attribute: string): Promise<void> {
  try {
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    )
    const status = TimeToLiveDescription?.TimeToLiveStatus
    if (status === 'ENABLED' || status === 'ENABLING') return
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attribute, Enabled: true },
      }),
    )
  } catch (e) {
    // dynalite does not implement UpdateTimeToLive: items simply never expire there.
    if (errorName(e) === 'UnknownOperationException') return
    throw e
  }
}

/** The indexes of `spec` a described table lacks (a table created by an older version). */
async function missingIndexes(
  client: DynamoDBClient,
  spec: TableSpec,
  tableName: string,
): Promise<IndexSpec[]> {
  const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }))
  const present = new Set((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName))
  return spec.indexes.filter((i) => !present.has(i.indexName))
}

/**
 * Adds the indexes a table made by an older version lacks. DynamoDB (and moto) add an index per
 * UpdateTable; dynalite refuses or ignores that, so there the table is rebuilt: every item
 * read, the table dropped and created from the spec, the items written back. That is for local data
 * only (ensureTables never runs against a deployed stack: CloudFormation owns those tables), and
 * items get the new index keys on their next write (the first reconciliation run rewrites them).
 */
async function addIndexes(client: DynamoDBClient, spec: TableSpec, tableName: string): Promise<void> {
  const create = createTableInput(spec, tableName)
  for (const index of await missingIndexes(client, spec, tableName)) {
    const gsi = create.GlobalSecondaryIndexes?.find((g) => g.IndexName === index.indexName)
    if (!gsi) continue
    try {
      await client.send(
        new UpdateTableCommand({
          TableName: tableName,
          AttributeDefinitions: create.AttributeDefinitions,
          GlobalSecondaryIndexUpdates: [{ Create: gsi }],
        }),
      )
    } catch (e) {
      // dynalite refuses an index without provisioned throughput: rebuild below.
      if (errorName(e) !== 'ValidationException') throw e
      break
    }
    await waitActive(client, tableName)
  }
  if ((await missingIndexes(client, spec, tableName)).length === 0) return
  const items: Record<string, AttributeValue>[] = []
  let start: Record<string, AttributeValue> | undefined
  do {
    const out = await client.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }))
    items.push(...(out.Items ?? []))
    start = out.LastEvaluatedKey
  } while (start)
  await client.send(new DeleteTableCommand({ TableName: tableName }))
  await waitDeleted(client, tableName)
  await client.send(new CreateTableCommand(create))
  await waitActive(client, tableName)
  for (const item of items) await client.send(new PutItemCommand({ TableName: tableName, Item: item }))
}

/** Creates every missing table (and waits until ACTIVE), then enables TTL where the engine supports it. */
export async function ensureTables(client: DynamoDBClient, names: TableNames): Promise<void> {
  try {
    for (const spec of TABLES) {
      const tableName = names[spec.key]
      try {
        await client.send(new DescribeTableCommand({ TableName: tableName }))
        await waitActive(client, tableName)
        await addIndexes(client, spec, tableName)
      } catch (e) {
        if (errorName(e) !== 'ResourceNotFoundException') throw e
        try {
          await client.send(new CreateTableCommand(createTableInput(spec, tableName)))
        } catch (createError) {
          // Another process created it meanwhile.
          if (errorName(createError) !== 'ResourceInUseException') throw createError
        }
      }
      await waitActive(client, tableName)
      if (spec.ttlAttribute) await ensureTtl(client, tableName, spec.ttlAttribute)
    }
  } catch (e) {
    if (e instanceof DependencyUnavailableError) throw e
    throw new DependencyUnavailableError(`Could not prepare the DynamoDB tables (${errorName(e)})`, {
      cause: e,
    })
  }
}

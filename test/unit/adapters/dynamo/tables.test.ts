import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import {
  createTableInput,
  ensureTables,
  TABLES,
  type TableNames,
} from '../../../../shared/adapters/dynamo/tables'
import { DependencyUnavailableError } from '../../../../shared/domain/errors'

const client = new DynamoDBClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
})
const ddb = mockClient(client)
const names = Object.fromEntries(TABLES.map((t) => [t.key, `x-${t.key}`])) as TableNames
const spec = (key: string): (typeof TABLES)[number] =>
  TABLES.find((t) => t.key === key) as (typeof TABLES)[number]

beforeEach(() => {
  ddb.reset()
})

describe('TABLES', () => {
  it('defines one table per concern with its config key', () => {
    expect(TABLES.map((t) => [t.key, t.configKey])).toEqual([
      ['clients', 'TABLE_CLIENTS'],
      ['channels', 'TABLE_CHANNELS'],
      ['events', 'TABLE_EVENTS'],
      ['cancellations', 'TABLE_CANCELLATIONS'],
      ['audit', 'TABLE_AUDIT'],
      ['ops', 'TABLE_OPS'],
      ['channelKeys', 'TABLE_CHANNEL_KEYS'],
    ])
    expect(TABLES.filter((t) => t.ttlAttribute).map((t) => [t.key, t.ttlAttribute])).toEqual([
      ['events', 'expiresAt'],
      ['ops', 'expiresAt'],
    ])
  })

  it('maps the channels table to an on-demand CreateTable with its seven indexes', () => {
    const input = createTableInput(spec('channels'), 'x-channels')
    expect(input.BillingMode).toBe('PAY_PER_REQUEST')
    expect(input.KeySchema).toEqual([{ AttributeName: 'channelId', KeyType: 'HASH' }])
    expect(input.AttributeDefinitions).toEqual([
      { AttributeName: 'channelId', AttributeType: 'S' },
      { AttributeName: 'clientId', AttributeType: 'S' },
      { AttributeName: 'lifecycle', AttributeType: 'S' },
      { AttributeName: 'phoneKey', AttributeType: 'S' },
      { AttributeName: 'qualityKey', AttributeType: 'S' },
      { AttributeName: 'limitKey', AttributeType: 'S' },
      { AttributeName: 'healthKey', AttributeType: 'S' },
      { AttributeName: 'keyNeeded', AttributeType: 'S' },
    ])
    expect(
      input.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.KeySchema?.map((k) => k.AttributeName)]),
    ).toEqual([
      ['byClient', ['clientId', 'channelId']],
      ['byLifecycle', ['lifecycle', 'channelId']],
      ['byPhone', ['phoneKey', 'channelId']],
      ['byQuality', ['qualityKey', 'channelId']],
      ['byLimit', ['limitKey', 'channelId']],
      ['byHealth', ['healthKey', 'channelId']],
      ['byKeyNeeded', ['keyNeeded', 'channelId']],
    ])
  })

  it('gives the audit and ops tables a sort key and no index', () => {
    expect(createTableInput(spec('audit'), 'a').KeySchema).toEqual([
      { AttributeName: 'subject', KeyType: 'HASH' },
      { AttributeName: 'atId', KeyType: 'RANGE' },
    ])
    expect(createTableInput(spec('ops'), 'o').GlobalSecondaryIndexes).toBeUndefined()
  })
})

describe('ensureTables', () => {
  it('creates missing tables and skips TTL where the engine does not support it', async () => {
    let described = 0
    ddb.on(DescribeTableCommand).callsFake(() => {
      described++
      // Every table is missing on its first describe, ACTIVE afterwards.
      if (described % 2 === 1) throw new ResourceNotFoundException({ message: 'not found', $metadata: {} })
      return { Table: { TableStatus: 'ACTIVE' } }
    })
    ddb.on(CreateTableCommand).resolves({})
    ddb.on(DescribeTimeToLiveCommand).resolves({ TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } })
    const unknown = Object.assign(new Error('unknown operation'), { name: 'UnknownOperationException' })
    ddb.on(UpdateTimeToLiveCommand).rejects(unknown)
    await ensureTables(client, names)
    expect(ddb.commandCalls(CreateTableCommand).map((c) => c.args[0].input.TableName)).toEqual(
      TABLES.map((t) => `x-${t.key}`),
    )
    expect(ddb.commandCalls(UpdateTimeToLiveCommand).map((c) => c.args[0].input)).toEqual([
      { TableName: 'x-events', TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } },
      { TableName: 'x-ops', TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true } },
    ])
  })

  /** A DescribeTable answer: the table ACTIVE with the indexes of its spec, less `missing`. */
  const described =
    (missing: string[] = []) =>
    (input: { TableName?: string }) => {
      const table = TABLES.find((t) => names[t.key] === input.TableName)
      return {
        Table: {
          TableStatus: 'ACTIVE' as const,
          GlobalSecondaryIndexes: (table?.indexes ?? [])
            .filter((i) => !missing.includes(i.indexName))
            .map((i) => ({ IndexName: i.indexName, IndexStatus: 'ACTIVE' as const })),
        },
      }
    }

  it('leaves existing tables with their indexes and TTL enabled alone', async () => {
    ddb.on(DescribeTableCommand).callsFake(described())
    ddb.on(DescribeTimeToLiveCommand).resolves({ TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED' } })
    await ensureTables(client, names)
    expect(ddb.commandCalls(CreateTableCommand)).toHaveLength(0)
    expect(ddb.commandCalls(UpdateTableCommand)).toHaveLength(0)
    expect(ddb.commandCalls(UpdateTimeToLiveCommand)).toHaveLength(0)
  })

  it('adds an index a table of an older version lacks, one UpdateTable each, keeping the table', async () => {
    let added = false
    ddb
      .on(DescribeTableCommand)
      .callsFake((input: { TableName?: string }) => described(added ? [] : ['byQuality'])(input))
    ddb.on(UpdateTableCommand).callsFake(() => {
      added = true
      return {}
    })
    ddb.on(DescribeTimeToLiveCommand).resolves({ TimeToLiveDescription: { TimeToLiveStatus: 'ENABLED' } })
    await ensureTables(client, names)
    const updates = ddb.commandCalls(UpdateTableCommand).map((c) => c.args[0].input)
    expect(updates).toHaveLength(1)
    expect(updates[0]).toMatchObject({
      TableName: 'x-channels',
      GlobalSecondaryIndexUpdates: [
        { Create: { IndexName: 'byQuality', Projection: { ProjectionType: 'ALL' } } },
      ],
    })
    expect(ddb.commandCalls(CreateTableCommand)).toHaveLength(0)
  })

  it('reports other failures as DependencyUnavailableError', async () => {
    ddb
      .on(DescribeTableCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }))
    await expect(ensureTables(client, names)).rejects.toBeInstanceOf(DependencyUnavailableError)
  })
})

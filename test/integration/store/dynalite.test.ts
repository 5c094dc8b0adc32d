import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalDynamoClient, type LocalDynamo, startDynalite } from '../../../local/dynalite'
import { createDynamoStore } from '../../../shared/adapters/dynamo/dynamo-store'
import { ensureTables, TABLES, type TableNames } from '../../../shared/adapters/dynamo/tables'
import { freshTablesFactory } from './dynamo-harness'
import { storeContract } from './store-contract'

describe('StateStore contract: DynamoDB adapter on dynalite', () => {
  let dynamo: LocalDynamo
  let client: DynamoDBClient

  beforeAll(async () => {
    dynamo = await startDynalite()
    client = createLocalDynamoClient(dynamo.endpoint)
  })

  afterAll(async () => {
    client?.destroy()
    await dynamo?.close()
  })

  storeContract(freshTablesFactory(() => client, 'dl'))

  it('spreads counter writes over several items and sums them on read', async () => {
    const tables = Object.fromEntries(TABLES.map((t) => [t.key, `shard-${t.key}`])) as TableNames
    await ensureTables(client, tables)
    const store = createDynamoStore({ client, tables, cursorSecret: 'test-cursor-secret' })
    await Promise.all(
      Array.from({ length: 64 }, () => store.ops.incrementCounters('webhooks', { received: 1 })),
    )
    expect(await store.ops.getCounters('webhooks')).toEqual({ received: 64 })
    const raw = await DynamoDBDocumentClient.from(client).send(
      new QueryCommand({
        TableName: tables.ops,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'counters#webhooks' },
      }),
    )
    expect(raw.Items?.length ?? 0).toBeGreaterThan(1)
  })
})

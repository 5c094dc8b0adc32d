import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { afterAll, beforeAll, describe } from 'vitest'
import { createLocalDynamoClient, type LocalDynamo, startDynalite } from '../../../local/dynalite'
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
})

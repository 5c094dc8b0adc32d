import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { createDynamoStore } from '../../../shared/adapters/dynamo/dynamo-store'
import { ensureTables, TABLES, type TableNames } from '../../../shared/adapters/dynamo/tables'
import type { StateStore } from '../../../shared/ports'

let generation = 0

/** A factory of fresh stores: every call creates its own set of tables on the engine behind `client`. */
export function freshTablesFactory(client: () => DynamoDBClient, prefix: string): () => Promise<StateStore> {
  return async () => {
    generation++
    const names = Object.fromEntries(
      TABLES.map((t) => [t.key, `${prefix}-${generation}-${t.key}`]),
    ) as TableNames
    await ensureTables(client(), names)
    return createDynamoStore({ client: client(), tables: names, cursorSecret: 'contract-test-secret' })
  }
}

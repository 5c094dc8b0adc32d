import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { createLocalDynamoClient } from '../../../local/dynalite'
import { createDynamoStore, tableNamesFromConfig } from '../../../shared/adapters/dynamo/dynamo-store'
import type { Config } from '../../../shared/env'
import type { StateStore } from '../../../shared/ports'

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand'])
const READS = new Set(['GetItemCommand', 'QueryCommand', 'ScanCommand', 'BatchGetItemCommand'])

/** DynamoDB calls seen by the counting middleware, by kind and by table. */
export interface DynamoCounts {
  reads: number
  writes: number
  /** `${commandName} ${table}` → calls. */
  byCall: Map<string, number>
  reset(): void
  /** Calls of the given kind against one table. */
  on(table: string, kind: 'reads' | 'writes'): number
}

/**
 * A DynamoDB client against `endpoint` with a middleware that counts every read and write command
 * (client.middlewareStack), and a StateStore over it. Counts are of requests sent, not items.
 */
export function countingStore(config: Config): {
  store: StateStore
  counts: DynamoCounts
  client: DynamoDBClient
} {
  if (!config.DYNAMODB_ENDPOINT) throw new Error('countingStore needs DYNAMODB_ENDPOINT')
  const client = createLocalDynamoClient(config.DYNAMODB_ENDPOINT)
  const byCall = new Map<string, number>()
  const counts: DynamoCounts = {
    reads: 0,
    writes: 0,
    byCall,
    reset() {
      counts.reads = 0
      counts.writes = 0
      byCall.clear()
    },
    on(table, kind) {
      let n = 0
      for (const [key, v] of byCall) {
        const [command, t] = key.split(' ')
        if (t === table && (kind === 'writes' ? WRITES : READS).has(command ?? '')) n += v
      }
      return n
    },
  }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? 'unknown'
      const table = String((args.input as { TableName?: string }).TableName ?? '')
      if (WRITES.has(command)) counts.writes += 1
      if (READS.has(command)) counts.reads += 1
      const key = `${command} ${table}`
      byCall.set(key, (byCall.get(key) ?? 0) + 1)
      return next(args)
    },
    { step: 'initialize', name: 'partneropsCallCounter' },
  )
  const store = createDynamoStore({
    client,
    tables: tableNamesFromConfig(config),
    cursorSecret: config.CURSOR_SECRET,
  })
  return { store, counts, client }
}

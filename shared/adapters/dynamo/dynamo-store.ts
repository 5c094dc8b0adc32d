import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import type { StateStore } from '../../ports'
import { CursorCodec } from './cursor'
import { Db } from './db'
import { createChannelRepository, createClientRepository } from './entity-repositories'
import { createWebhookEventRepository } from './event-repository'
import { createIdempotencyRepository, createOpsRepository } from './ops-repositories'
import { createAuditRepository, createCancellationRepository } from './record-repositories'
import type { TableNames } from './tables'

export { ensureTables, TABLES, type TableNames, type TableSpec, tableNamesFromConfig } from './tables'

let defaultClient: DynamoDBClient | undefined

function moduleClient(): DynamoDBClient {
  defaultClient ??= new DynamoDBClient({})
  return defaultClient
}

/**
 * The DynamoDB client for a configuration: in AWS the one client of this module, so every table a
 * function reads (the state tables, the channel-keys table) shares one connection pool and one
 * credential resolution; with an endpoint (local, tests) a client for that endpoint.
 */
export function dynamoClientFor(config: { DYNAMODB_ENDPOINT?: string | undefined }): DynamoDBClient {
  return config.DYNAMODB_ENDPOINT
    ? new DynamoDBClient({ endpoint: config.DYNAMODB_ENDPOINT })
    : moduleClient()
}

/** Options of the DynamoDB store: the physical table names and the secret that signs cursors. */
export interface DynamoStoreOptions {
  /** Defaults to one client per module (region and endpoint from the standard AWS environment). */
  client?: DynamoDBClient
  tables: TableNames
  cursorSecret: string
}

/** The StateStore on DynamoDB: one repository per table, single-item conditional writes only. */
export function createDynamoStore(opts: DynamoStoreOptions): StateStore {
  const client = opts.client ?? moduleClient()
  const doc = DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertEmptyValues: false },
    unmarshallOptions: { wrapNumbers: false },
  })
  const db = new Db(doc, new CursorCodec(opts.cursorSecret))
  const t = opts.tables
  return {
    clients: createClientRepository(db, t.clients),
    channels: createChannelRepository(db, t.channels),
    events: createWebhookEventRepository(db, t.events),
    cancellations: createCancellationRepository(db, t.cancellations),
    audit: createAuditRepository(db, t.audit),
    idempotency: createIdempotencyRepository(db, t.ops),
    ops: createOpsRepository(db, t.ops),
  }
}

import { accessSync, constants, mkdirSync } from 'node:fs'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { resolve } from 'node:path'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'

/** The part of dynalite's (untyped) factory PartnerOps uses. */
type DynaliteFactory = (options: {
  path?: string
  createTableMs?: number
  deleteTableMs?: number
  updateTableMs?: number
}) => Server

const require = createRequire(import.meta.url)

/** A running embedded DynamoDB. */
export interface LocalDynamo {
  endpoint: string
  close(): Promise<void>
}

function ensureWritableDir(path: string): string {
  const dir = resolve(path)
  try {
    mkdirSync(dir, { recursive: true })
    accessSync(dir, constants.W_OK)
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String((e as NodeJS.ErrnoException).code) : 'error'
    throw new Error(`DynamoDB data directory ${dir} is not writable (${code})`)
  }
  return dir
}

/**
 * Teaches dynalite DynamoDB's `ReturnValuesOnConditionCheckFailure: ALL_OLD` (PutItem, UpdateItem,
 * DeleteItem): a refused conditional write answers the stored item with its
 * ConditionalCheckFailedException, as DynamoDB does at no extra cost. dynalite 4 drops the parameter
 * (its validation deletes unknown fields), so without this every refused fact write would cost the
 * local runner a read that AWS does not make. Idempotent. test/bench/dynamo-process.ts repeats it for
 * the benchmarks' dynalite process.
 */
export function emulateConditionFailureItem(): void {
  const db = require('dynalite/db') as {
    checkConditional: (data: Record<string, unknown>, existing: unknown) => unknown
    __partnerOpsPatched?: boolean
  }
  if (db.__partnerOpsPatched) return
  for (const action of ['putItem', 'updateItem', 'deleteItem']) {
    const v = require(`dynalite/validations/${action}`) as { types: Record<string, unknown> }
    v.types.ReturnValuesOnConditionCheckFailure = { type: 'String', enum: ['ALL_OLD', 'NONE'] }
  }
  const check = db.checkConditional
  db.checkConditional = (data, existing) => {
    const err = check(data, existing) as { body?: Record<string, unknown> } | null | undefined
    if (err?.body && existing && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') {
      err.body.Item = existing
    }
    return err
  }
  db.__partnerOpsPatched = true
}

/**
 * Starts dynalite in-process on 127.0.0.1 with an ephemeral port; in memory, or persisted under
 * `path`. Tables become ACTIVE at once.
 */
export async function startDynalite(opts: { path?: string } = {}): Promise<LocalDynamo> {
  const path = opts.path === undefined ? undefined : ensureWritableDir(opts.path)
  emulateConditionFailureItem()
  const dynalite = require('dynalite') as DynaliteFactory
  const server = dynalite({
    ...(path === undefined ? {} : { path }),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', fail)
      ok()
    })
  })
  const { port } = server.address() as AddressInfo
  let closed: Promise<void> | null = null
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: (): Promise<void> => {
      closed ??= new Promise<void>((ok, fail) => {
        server.close((err?: Error) => (err ? fail(err) : ok()))
        // SDK clients keep sockets alive; without this, close waits for them to time out.
        server.closeAllConnections()
      })
      return closed
    },
  }
}

/** A DynamoDB client for a local endpoint (dummy credentials, us-east-1). */
export function createLocalDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 2,
  })
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { FunctionAccess, TableAction } from '../infra/access'
import type { TableKey, TableNames } from '../shared/adapters/dynamo/tables'
import type { EventSink, SecretSource } from '../shared/ports'

/**
 * Local stand-in for IAM: the CDK stack grants each function exactly the DynamoDB actions and
 * secrets listed in infra/access.ts, and the local runner holds each function to the same list, so
 * a grant that is missing fails in every local run and integration test instead of only in AWS.
 * Hand-written because no library emulates IAM for an in-process client; it checks only what
 * PartnerOps grants (action, table, index, secret name).
 */

/** Thrown (and printed) when a function does something its grant does not allow. */
export class LocalAccessDeniedError extends Error {
  override readonly name = 'AccessDeniedException'
}

/** What a DynamoDB command asks for, as an IAM action on a table or index. */
export function requiredAccess(
  commandName: string,
  input: { TableName?: string; IndexName?: string },
  tables: TableNames,
): { action: TableAction; table: TableKey | null; index: string | null } {
  const action = commandName.replace(/Command$/, '') as TableAction
  const table = (Object.entries(tables).find(([, name]) => name === input.TableName)?.[0] as TableKey) ?? null
  return { action, table, index: input.IndexName ?? null }
}

/** Why `access` does not allow the request, or null when it does. */
export function denial(
  access: FunctionAccess,
  req: { action: TableAction; table: TableKey | null; index: string | null },
): string | null {
  if (req.table === null) return `dynamodb:${req.action} on a table that is not PartnerOps'`
  const grant = access.tables[req.table]
  if (!grant) return `no access to table ${req.table}`
  if (req.index !== null) {
    // The stack grants dynamodb:Query on granted indexes, nothing else.
    if (req.action !== 'Query') return `dynamodb:${req.action} on index ${req.index}`
    return grant.indexes?.includes(req.index)
      ? null
      : `dynamodb:${req.action} on ${req.table}/index/${req.index}`
  }
  return grant.actions.includes(req.action) ? null : `dynamodb:${req.action} on ${req.table}`
}

/** Adds the grant check to a DynamoDB client (every command, before it is sent). */
export function guardDynamoClient(
  client: DynamoDBClient,
  fn: string,
  access: FunctionAccess,
  tables: TableNames,
  report: (message: string) => void,
): DynamoDBClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const req = requiredAccess(context.commandName ?? '', args.input as { TableName?: string }, tables)
      const why = denial(access, req)
      if (why !== null) {
        const message = `local IAM: function ${fn} is not granted ${why} (infra/access.ts)`
        report(message)
        throw new LocalAccessDeniedError(message)
      }
      return next(args)
    },
    { step: 'initialize', name: 'partnerOpsLocalIam' },
  )
  return client
}

/** Wraps a secret source so that a function can read only the secrets it is granted. */
export function guardSecrets(
  secrets: SecretSource,
  fn: string,
  allowed: readonly string[],
  report: (message: string) => void,
): SecretSource {
  return {
    async get(name, opts) {
      if (!allowed.includes(name)) {
        const message = `local IAM: function ${fn} is not granted the ${name} secret (infra/access.ts)`
        report(message)
        throw new LocalAccessDeniedError(message)
      }
      return secrets.get(name, opts)
    },
  }
}

/** An event sink for a function not granted events:PutEvents: any publish is refused. */
export function guardedSink(fn: string, report: (message: string) => void): EventSink {
  return {
    async publish(events) {
      if (events.length === 0) return
      const message = `local IAM: function ${fn} is not granted events:PutEvents (infra/access.ts)`
      report(message)
      throw new LocalAccessDeniedError(message)
    },
  }
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { KeyCipher } from '../shared/adapters/channel-keys/cipher'
import type { TableKey, TableNames } from '../shared/adapters/dynamo/tables'
import { FUNCTIONS, type FunctionAccess, type FunctionKey, type TableAction } from '../shared/functions'
import type { EventSink, SecretSource } from '../shared/ports'

/**
 * Local stand-in for IAM: the CDK stack grants each function exactly the DynamoDB actions, secrets
 * and bus access of its definition (FUNCTIONS in shared/functions.ts), and the local runner holds each
 * function to the same definition, so a grant that is missing fails in every local run and
 * integration test instead of only in AWS.
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

/** Why function `fn`'s grants do not allow the request, or null when they do. */
export function denial(
  fn: FunctionKey,
  req: { action: TableAction; table: TableKey | null; index: string | null },
): string | null {
  const access: FunctionAccess = FUNCTIONS[fn].access
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
  fn: FunctionKey,
  tables: TableNames,
  report: (message: string) => void,
): DynamoDBClient {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown> }
      // A batch names its tables in RequestItems: each must be granted the batch action.
      const names =
        input.TableName === undefined && input.RequestItems
          ? Object.keys(input.RequestItems)
          : [input.TableName]
      const why =
        names
          .map((TableName) =>
            denial(fn, requiredAccess(context.commandName ?? '', { ...input, TableName }, tables)),
          )
          .find((w) => w !== null) ?? null
      if (why !== null) {
        const message = `local IAM: function ${fn} is not granted ${why} (shared/functions.ts)`
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
  fn: FunctionKey,
  report: (message: string) => void,
): SecretSource {
  const allowed: readonly string[] = FUNCTIONS[fn].access.secrets
  return {
    async get(name, opts) {
      if (!allowed.includes(name)) {
        const message = `local IAM: function ${fn} is not granted the ${name} secret (shared/functions.ts)`
        report(message)
        throw new LocalAccessDeniedError(message)
      }
      return secrets.get(name, opts)
    },
  }
}

/** The event sink a function may use: `events` when it is granted events:PutEvents, else one that refuses. */
export function guardEvents(
  events: EventSink,
  fn: FunctionKey,
  report: (message: string) => void,
): EventSink {
  const access: FunctionAccess = FUNCTIONS[fn].access
  if (access.publishesEvents) return events
  return {
    async publish(events) {
      if (events.length === 0) return { published: 0 }
      const message = `local IAM: function ${fn} is not granted events:PutEvents (shared/functions.ts)`
      report(message)
      throw new LocalAccessDeniedError(message)
    },
  }
}

/** The channel-key cipher a function may use: only the KMS actions (Encrypt, Decrypt) it is granted. */
export function guardCipher(
  cipher: KeyCipher,
  fn: FunctionKey,
  report: (message: string) => void,
): KeyCipher {
  const allowed: readonly string[] = (FUNCTIONS[fn].access as FunctionAccess).channelKeyCipher ?? []
  const check = (action: 'Encrypt' | 'Decrypt'): void => {
    if (allowed.includes(action)) return
    const message = `local IAM: function ${fn} is not granted kms:${action} on the channel-key key (shared/functions.ts)`
    report(message)
    throw new LocalAccessDeniedError(message)
  }
  return {
    encrypt: async (plaintext, context) => {
      check('Encrypt')
      return cipher.encrypt(plaintext, context)
    },
    decrypt: async (ciphertext, context) => {
      check('Decrypt')
      return cipher.decrypt(ciphertext, context)
    },
  }
}

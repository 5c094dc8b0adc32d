import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb'
import type { ChannelKey } from '../../domain/channel-key'
import { DependencyUnavailableError, errorName } from '../../domain/errors'
import type { ChannelKeyStore } from '../../ports'
import type { KeyCipher } from './cipher'

/**
 * The channel key table (README "Channel API keys"): one item per channel holding the key encrypted
 * (KMS in AWS), its upstream id, address, app id and when it was stored. Only the encrypted value is
 * secret; whoever can read the table but not decrypt (every function but the key route and the
 * health job) sees ciphertext. The item is never logged; errors name the operation only.
 */
export function createDynamoChannelKeyStore(opts: {
  doc: DynamoDBDocumentClient
  tableName: string
  cipher: KeyCipher
}): ChannelKeyStore {
  const context = (channelId: string): Record<string, string> => ({
    purpose: 'partnerops-channel-key',
    channelId,
  })
  const call = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (e) {
      if (e instanceof DependencyUnavailableError) throw e
      throw new DependencyUnavailableError(`DynamoDB channelKeys.${what} failed (${errorName(e)})`, {
        cause: e,
      })
    }
  }
  const readItem = (channelId: string, attributes: readonly string[]) =>
    call('get', async () => {
      const out = await opts.doc.send(
        new GetCommand({
          TableName: opts.tableName,
          Key: { channelId },
          // Names, not words: some attribute names may be DynamoDB reserved words.
          ProjectionExpression: attributes.map((_, i) => `#a${i}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(attributes.map((a, i) => [`#a${i}`, a])),
          ConsistentRead: true,
        }),
      )
      return out.Item ?? null
    })
  const read = async (channelId: string): Promise<ChannelKey | null> => {
    const item = await readItem(channelId, [
      'channelId',
      'ciphertext',
      'keyId',
      'address',
      'appId',
      'createdAt',
      'origin',
    ])
    if (!item || typeof item['ciphertext'] !== 'string') return null
    return {
      apiKey: await opts.cipher.decrypt(item['ciphertext'], context(channelId)),
      keyId: (item['keyId'] as string | null | undefined) ?? null,
      address: (item['address'] as string | null | undefined) ?? null,
      appId: (item['appId'] as string | null | undefined) ?? null,
      createdAt: String(item['createdAt'] ?? ''),
      origin: (item['origin'] as string | null | undefined) ?? null,
    }
  }
  return {
    get: async (channelId) => (await read(channelId))?.apiKey ?? null,
    read,
    has: async (channelId) => (await readItem(channelId, ['channelId'])) !== null,
    put: async (channelId, key) => {
      const ciphertext = await opts.cipher.encrypt(key.apiKey, context(channelId))
      await call('put', () =>
        opts.doc.send(
          new PutCommand({
            TableName: opts.tableName,
            Item: {
              channelId,
              ciphertext,
              keyId: key.keyId,
              address: key.address,
              appId: key.appId,
              createdAt: key.createdAt,
              origin: key.origin ?? null,
            },
          }),
        ),
      )
    },
    delete: async (channelId) => {
      await call('delete', () =>
        opts.doc.send(new DeleteCommand({ TableName: opts.tableName, Key: { channelId } })),
      )
    },
  }
}

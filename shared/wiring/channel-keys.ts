import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { createKmsCipher, createLocalCipher, type KeyCipher } from '../adapters/channel-keys/cipher'
import { createDynamoChannelKeyStore } from '../adapters/channel-keys/dynamo-key-store'
import type { Config } from '../env'
import type { AdapterBuilder } from './core'

/**
 * `channelKeys`: channel Messaging API keys in their own table, encrypted with KMS (its client is
 * loaded on the first encrypt or decrypt); locally with an AES key derived from a local secret.
 */
export const channelKeys: AdapterBuilder<'channelKeys'> = ({ config }) =>
  createDynamoChannelKeyStore({
    doc: DynamoDBDocumentClient.from(
      new DynamoDBClient(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
      { marshallOptions: { removeUndefinedValues: true } },
    ),
    tableName: config.TABLE_CHANNEL_KEYS,
    cipher: createKeyCipher(config),
  })

/** The cipher of channel API keys a configuration asks for: KMS in AWS, a local AES key locally. */
export function createKeyCipher(config: Config): KeyCipher {
  if (config.CHANNEL_KEY_CIPHER === 'local') return createLocalCipher(config.CHANNEL_KEY_LOCAL_SECRET)
  const keyId = config.CHANNEL_KEY_KMS_KEY_ID
  if (!keyId) {
    // Fails on first use only, naming the setting (never at init).
    const missing = (): Promise<never> => Promise.reject(new Error('CHANNEL_KEY_KMS_KEY_ID is not set'))
    return { encrypt: missing, decrypt: missing }
  }
  return createKmsCipher({ keyId })
}

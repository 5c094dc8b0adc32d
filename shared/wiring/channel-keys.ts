import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import {
  createCachingCipher,
  createKmsCipher,
  createLocalCipher,
  type KeyCipher,
} from '../adapters/channel-keys/cipher'
import { createDynamoChannelKeyStore } from '../adapters/channel-keys/dynamo-key-store'
import { dynamoClientFor } from '../adapters/dynamo/dynamo-store'
import type { Config } from '../env'
import type { AdapterBuilder } from './core'

/**
 * `channelKeys`: channel Messaging API keys in their own table, encrypted with KMS (its client is
 * loaded on the first encrypt or decrypt); locally with an AES key derived from a local secret.
 */
export const channelKeys: AdapterBuilder<'channelKeys'> = ({ config }) =>
  keyStore(config, createKeyCipher(config))

/**
 * The health job's decrypt cache (README "Channel health"): room for every key of 20,000 channels
 * (a few MB), each decrypted again after 6 hours at the latest. The job reads each key once per
 * interval (15 minutes by default), so a warm container decrypts a key about 4 times a day instead
 * of 96.
 */
export const HEALTH_KEY_CACHE = { maxEntries: 20_000, ttlMs: 6 * 3600_000 } as const

/**
 * `channelKeys` for the health job: the same table and cipher, plus a per-container cache of what
 * was decrypted (createCachingCipher): one KMS Decrypt per key and container every few hours, not
 * one per check. The key route does not use it: its reads are rare, audited and decrypted afresh.
 */
export const cachedChannelKeys: AdapterBuilder<'channelKeys'> = ({ config }) =>
  keyStore(config, createCachingCipher(createKeyCipher(config), HEALTH_KEY_CACHE))

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

/** The channel-keys table through the function's one DynamoDB client, with `cipher`. */
function keyStore(config: Config, cipher: KeyCipher) {
  return createDynamoChannelKeyStore({
    doc: DynamoDBDocumentClient.from(dynamoClientFor(config), {
      marshallOptions: { removeUndefinedValues: true },
    }),
    tableName: config.TABLE_CHANNEL_KEYS,
    cipher,
  })
}

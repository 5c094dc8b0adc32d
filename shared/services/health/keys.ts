import type { AppDeps } from '../../deps'
import { apiKindOf } from '../../domain/health'
import type { HealthKeys } from './check-channel'

/** What the health job reads of a stored channel key (the key store's `read`). */
export interface StoredKeyReader {
  read(channelId: string): Promise<{
    apiKey: string
    address: string | null
    keyId: string | null
    createdAt: string
    /** What created the key; `invalid_key`: it replaced a refused key (shared/services/channel-keys). */
    origin?: string | null
  } | null>
}

/**
 * The health job's side of channel keys: the stored key and the address 360dialog gave with it (else
 * MESSAGING_API_BASE_URL), and, on a 401, key provisioning's "mark invalid, provision once"
 * (`onRejected`: shared/services/channel-keys/provision-key.ts markKeyInvalid). A key that replaced a
 * refused key is not `replaceable`: its refusal leaves the channel invalid (never a loop). The key
 * value goes only into the request header.
 */
export function healthKeys(
  deps: Pick<AppDeps, 'config' | 'logger'>,
  store: StoredKeyReader,
  onRejected?: (channelId: string) => Promise<unknown>,
): HealthKeys {
  return {
    target: async (channel) => {
      const key = await store.read(channel.channelId)
      if (!key) return null
      const address = key.address ?? deps.config.MESSAGING_API_BASE_URL
      // The key's identity for a refusal: its upstream id and when it was stored, never its value.
      return {
        apiKey: key.apiKey,
        keyRef: `${key.keyId ?? ''}@${key.createdAt}`,
        address,
        kind: apiKindOf(address),
        replaceable: key.origin !== 'invalid_key',
      }
    },
    rejected: async (channel) => {
      deps.logger.warn('channel key refused by the Messaging API', { channelId: channel.channelId })
      await onRejected?.(channel.channelId)
    },
  }
}

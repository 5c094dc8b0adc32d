import type { ChannelKey } from '../../domain/channel-key'
import type { ChannelKeyStore } from '../../ports'

/**
 * A ChannelKeyStore in process memory, for unit tests (the local runner uses the encrypted table, as
 * deployed). Nothing is encrypted and nothing survives a restart, so it never backs a deployment.
 */
export function createMemoryChannelKeyStore(): ChannelKeyStore & { size(): number } {
  const keys = new Map<string, ChannelKey>()
  return {
    get: async (channelId) => keys.get(channelId)?.apiKey ?? null,
    read: async (channelId) => {
      const key = keys.get(channelId)
      return key ? { ...key } : null
    },
    has: async (channelId) => keys.has(channelId),
    put: async (channelId, key) => {
      keys.set(channelId, { ...key })
    },
    delete: async (channelId) => {
      keys.delete(channelId)
    },
    size: () => keys.size,
  }
}

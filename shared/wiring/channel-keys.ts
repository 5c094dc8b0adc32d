import { createMemoryChannelKeyStore } from '../adapters/channel-keys/memory'
import type { AdapterBuilder } from './core'

/** `channelKeys`: channel Messaging API keys (in memory until the encrypted store is wired). */
export const channelKeys: AdapterBuilder<'channelKeys'> = () => createMemoryChannelKeyStore()

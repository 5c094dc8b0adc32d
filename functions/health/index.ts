import { loadConfig } from '../../shared/env'
import { cachedChannelKeys } from '../../shared/wiring/channel-keys'
import { wireFunction } from '../../shared/wiring/core'
import { messaging } from '../../shared/wiring/messaging'
import { buildHealthHandler } from './handler'

/** Lambda entry of the health job (EventBridge Scheduler target): its adapters wired once per cold start. */
export const handler = buildHealthHandler(
  wireFunction('health', loadConfig(), { messaging, channelKeys: cachedChannelKeys }),
)

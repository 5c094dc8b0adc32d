import { loadConfig } from '../../shared/env'
import { channelKeys } from '../../shared/wiring/channel-keys'
import { wireFunction } from '../../shared/wiring/core'
import { partnerApi } from '../../shared/wiring/partner-api'
import { secrets } from '../../shared/wiring/secrets'
import { buildChannelKeysHandler } from './handler'

/** Lambda entry of the channel-keys function: its adapters (FUNCTIONS.channelKeys.adapters) wired once per cold start. */
export const handler = buildChannelKeysHandler(
  wireFunction('channelKeys', loadConfig(), { secrets, partnerApi, channelKeys }),
)

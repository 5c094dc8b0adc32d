import { loadConfig } from '../../shared/env'
import { channelKeys } from '../../shared/wiring/channel-keys'
import { wireFunction } from '../../shared/wiring/core'
import { partnerApi } from '../../shared/wiring/partner-api'
import { secrets } from '../../shared/wiring/secrets'
import { buildPollerHandler } from './handler'

/** Lambda entry of the reconciliation poller (EventBridge Scheduler target): its adapters wired once per cold start. */
export const handler = buildPollerHandler(
  wireFunction('poller', loadConfig(), { secrets, partnerApi, channelKeys }),
)

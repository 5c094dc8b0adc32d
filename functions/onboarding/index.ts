import { loadConfig } from '../../shared/env'
import { channelKeys } from '../../shared/wiring/channel-keys'
import { wireFunction } from '../../shared/wiring/core'
import { partnerApi } from '../../shared/wiring/partner-api'
import { secrets } from '../../shared/wiring/secrets'
import { buildOnboardingHandler } from './handler'

/** Lambda entry of the onboarding function: its adapters (FUNCTIONS.onboarding.adapters) wired once per cold start. */
export const handler = buildOnboardingHandler(
  wireFunction('onboarding', loadConfig(), { secrets, partnerApi, channelKeys }),
)

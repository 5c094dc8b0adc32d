import { loadConfig } from '../../shared/env'
import { wireFunction } from '../../shared/wiring/core'
import { failureQueue } from '../../shared/wiring/failure-queue'
import { partnerApi } from '../../shared/wiring/partner-api'
import { secrets } from '../../shared/wiring/secrets'
import { buildApiHandler } from './handler'

/** Lambda entry of the management API function: its adapters (FUNCTIONS.api.adapters) wired once per cold start. */
export const handler = buildApiHandler(
  wireFunction('api', loadConfig(), { secrets, partnerApi, failureQueue }),
)

import { createPartnerApiClient } from '../adapters/partner-api/client'
import type { AdapterBuilder } from './core'

/** `partnerApi`: the 360dialog Partner API client over fetch, authenticated with the `partnerApi` secret. */
export const partnerApi: AdapterBuilder<'partnerApi'> = ({ config, deps }) => {
  const logger = deps.logger
  return createPartnerApiClient({
    baseUrl: config.PARTNER_API_BASE_URL,
    partnerId: config.PARTNER_ID,
    auth: config.PARTNER_API_AUTH,
    secrets: deps.secrets,
    timeoutMs: config.UPSTREAM_TIMEOUT_MS,
    maxAttempts: config.UPSTREAM_MAX_ATTEMPTS,
    budgetMs: config.UPSTREAM_BUDGET_MS,
    logger: {
      debug: (m, c) => logger.debug(m, { ...c }),
      info: (m, c) => logger.info(m, { ...c }),
      warn: (m, c) => logger.warn(m, { ...c }),
    },
  })
}

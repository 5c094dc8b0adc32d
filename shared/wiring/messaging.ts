import { createMessagingApiClient } from '../adapters/messaging-api/client'
import type { AdapterBuilder } from './core'

/**
 * `messaging`: the Messaging API's health reads over fetch (no SDK), at most HEALTH_CONCURRENCY
 * requests in flight; timeouts and retries are the Partner API client's defaults.
 */
export const messaging: AdapterBuilder<'messaging'> = ({ config, deps }) => {
  const logger = deps.logger
  return createMessagingApiClient({
    concurrency: config.HEALTH_CONCURRENCY,
    logger: {
      debug: (m, c) => logger.debug(m, { ...c }),
      info: (m, c) => logger.info(m, { ...c }),
      warn: (m, c) => logger.warn(m, { ...c }),
    },
  })
}

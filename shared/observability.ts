import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'

/** Metrics namespace of every PartnerOps EMF metric. */
export const METRICS_NAMESPACE = 'PartnerOps'

/** A Powertools logger for one function (level from POWERTOOLS_LOG_LEVEL, JSON, structured context). */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName })
}

const ownLoggers = new Map<string, Logger>()
function ownLogger(serviceName: string): Logger {
  let logger = ownLoggers.get(serviceName)
  if (!logger) {
    logger = createLogger(serviceName)
    ownLoggers.set(serviceName, logger)
  }
  return logger
}

const NOTHING_TO_PUBLISH = 'No application metrics to publish'

/**
 * A Powertools EMF metrics instance for one function. Its own warnings go through the function's
 * structured logger; the one about an invocation that counted nothing is debug, because that is
 * normal for reads and for stream batches with nothing new, and would otherwise be logged on each.
 * Without a logger of the caller's, one of this service's own is used, so the rule holds everywhere
 * (tests and tools included, where it used to print that warning hundreds of times).
 */
export function createMetrics(serviceName: string, logger: Logger = ownLogger(serviceName)): Metrics {
  const log = (level: 'debug' | 'warn', ...args: unknown[]): void => {
    const [message, ...rest] = args
    logger[level](String(message), ...rest.map((r) => ({ detail: r })))
  }
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName,
    logger: {
      debug: (...args: unknown[]) => log('debug', ...args),
      info: (...args: unknown[]) => logger.info(String(args[0])),
      error: (...args: unknown[]) => logger.error(String(args[0])),
      warn: (...args: unknown[]) =>
        log(String(args[0]).startsWith(NOTHING_TO_PUBLISH) ? 'debug' : 'warn', ...args),
    },
  })
}

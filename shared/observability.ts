import { Logger } from '@aws-lambda-powertools/logger'
import { Metrics } from '@aws-lambda-powertools/metrics'

/** Metrics namespace of every PartnerOps EMF metric. */
export const METRICS_NAMESPACE = 'PartnerOps'

/** A Powertools logger for one function (level from POWERTOOLS_LOG_LEVEL, JSON, structured context). */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName })
}

/** A Powertools EMF metrics instance for one function. */
export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName })
}

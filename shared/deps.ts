import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import type { Config } from './env'
import type { Clock, EventSink, FailureQueue, PartnerApi, SecretSource, StateStore } from './ports'

/**
 * Everything a function needs, built once per cold start by shared/wiring.ts (in AWS) or by the local
 * runner (locally), and passed to each function's `build…Handler(deps)`. Tests pass fakes.
 */
export interface AppDeps {
  config: Config
  store: StateStore
  partnerApi: PartnerApi
  secrets: SecretSource
  events: EventSink
  /** The change-event publisher's on-failure queue (GET /status shows its depth). */
  failureQueue: FailureQueue
  clock: Clock
  logger: Logger
  metrics: Metrics
}

import type { AppDeps } from './deps'
import { ADAPTER_NAMES } from './deps'
import type { Config } from './env'
import { channelKeys } from './wiring/channel-keys'
import { type AdapterBuilders, wireDeps } from './wiring/core'
import { events } from './wiring/events'
import { failureQueue } from './wiring/failure-queue'
import { messaging } from './wiring/messaging'
import { partnerApi } from './wiring/partner-api'
import { secrets } from './wiring/secrets'

export { wireFunction } from './wiring/core'
export { createSecretSource } from './wiring/secrets'

/**
 * Every adapter's builder. For the local runner, tests and tools, which may use any part; a Lambda
 * entry never imports this module (it would bundle every SDK client): it imports shared/wiring/core.ts
 * and the builders of its own adapters (docs/wiring.md; test/unit/architecture/boundaries.test.ts).
 */
export const ADAPTER_BUILDERS: AdapterBuilders = {
  secrets,
  partnerApi,
  events,
  failureQueue,
  channelKeys,
  messaging,
}

/**
 * Dependencies with every adapter available (each built on first use): the local runner's shared
 * deps, tests and tools. `overrides` replace any part.
 */
export function createAppDeps(config: Config, service: string, overrides: Partial<AppDeps> = {}): AppDeps {
  return wireDeps(config, service, ADAPTER_NAMES, ADAPTER_BUILDERS, overrides)
}

import type { Logger } from '@aws-lambda-powertools/logger'
import type { Metrics } from '@aws-lambda-powertools/metrics'
import type { Config } from './env'
import type {
  ChannelKeyStore,
  Clock,
  EventSink,
  FailureQueue,
  MessagingApi,
  PartnerApi,
  SecretSource,
  StateStore,
} from './ports'

/**
 * Everything a function needs, built once per cold start by the function's entry (functions/<name>/
 * index.ts, through shared/wiring/core.ts) or by the local runner, and passed to each function's
 * `build…Handler(deps)`. Tests pass fakes.
 *
 * Two kinds of parts: the base (config, store, clock, logger, metrics), which every function builds at
 * init, and the adapters (every other key), which a function builds only if FUNCTIONS (shared/
 * functions.ts) lists them in its `adapters`, and then on first use. docs/wiring.md says how to add
 * one.
 */
export interface AppDeps {
  config: Config
  store: StateStore
  partnerApi: PartnerApi
  secrets: SecretSource
  events: EventSink
  /** The change-event publisher's on-failure queue (GET /status shows its depth). */
  failureQueue: FailureQueue
  /** The encrypted store of channel Messaging API keys (built on first use). */
  channelKeys: ChannelKeyStore
  /** The Messaging API's health reads, with each channel's own key (the health job). */
  messaging: MessagingApi
  clock: Clock
  logger: Logger
  metrics: Metrics
}

/** The parts every function builds at init. */
export type BasePart = 'config' | 'store' | 'clock' | 'logger' | 'metrics'

/** The parts a function builds only when FUNCTIONS lists them, and then on first use. */
export type AdapterName = Exclude<keyof AppDeps, BasePart>

/** Every adapter name, at run time (a compile error below if one of AppDeps' adapters is missing). */
export const ADAPTER_NAMES = [
  'secrets',
  'partnerApi',
  'events',
  'failureQueue',
  'channelKeys',
  'messaging',
] as const

const everyAdapterListed: Exclude<AdapterName, (typeof ADAPTER_NAMES)[number]> extends never ? true : never =
  true
void everyAdapterListed

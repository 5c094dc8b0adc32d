import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { systemClock } from './adapters/clock'
import { createDynamoStore, tableNamesFromConfig } from './adapters/dynamo/dynamo-store'
import { createEventBridgeSink, createFileEventSink, createMemoryEventSink } from './adapters/event-sink'
import { createSqsFailureQueue, noFailureQueue } from './adapters/failure-queue'
import { createPartnerApiClient } from './adapters/partner-api/client'
import { createAwsSecretSource, createEnvSecretSource } from './adapters/secrets'
import type { AppDeps } from './deps'
import { type Config, SETTINGS, type SettingInfo, type SettingName } from './env'
import { createLogger, createMetrics } from './observability'
import type { SecretName, SecretSource } from './ports'

/** The secret source a configuration asks for: Secrets Manager in AWS, environment values locally. */
export function createSecretSource(config: Config): SecretSource {
  if (config.SECRETS_SOURCE === 'env') {
    const values = secretsByName(config, 'secretValue')
    // Bearer auth keeps its two values in two settings; the secret itself is their JSON.
    if (config.PARTNER_API_AUTH === 'bearer') {
      values.partnerApi = JSON.stringify({
        username: config.PARTNER_API_USERNAME,
        password: config.PARTNER_API_PASSWORD,
      })
    }
    return createEnvSecretSource(values)
  }
  return createAwsSecretSource({
    maxAgeSeconds: config.SECRET_CACHE_SECONDS,
    ids: secretsByName(config, 'secretId'),
  })
}

/** The settings marked as a secret's value (or id) in SETTINGS, by secret name; unset ones left out. */
function secretsByName(
  config: Config,
  role: 'secretValue' | 'secretId',
): Partial<Record<SecretName, string>> {
  const out: Partial<Record<SecretName, string>> = {}
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingInfo][]) {
    const secret = spec[role]
    const value = config[name]
    if (secret !== undefined && typeof value === 'string' && value !== '') out[secret] = value
  }
  return out
}

/**
 * A property built on first read and kept: the part is constructed only when (and if) some code path
 * of the function uses it.
 */
function defineLazy<K extends keyof AppDeps>(deps: AppDeps, key: K, build: () => AppDeps[K]): void {
  let value: AppDeps[K] | undefined
  Object.defineProperty(deps, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      value ??= build()
      return value
    },
    set: (v: AppDeps[K]) => {
      value = v
    },
  })
}

/**
 * Builds the dependencies of one function from configuration. The same function wires Lambda
 * (functions/<name>/index.ts) and the local runner; `overrides` replace any part (tests, local).
 *
 * The logger, metrics and the DynamoDB store (every invocation reads state) are built here, at init.
 * The secret source, the event sink and the Partner API client are built on first use: not every
 * function uses each of them (the webhook never calls the Partner API, most requests publish no change
 * event), and building their SDK clients at init would cost every cold start.
 */
export function createAppDeps(config: Config, service: string, overrides: Partial<AppDeps> = {}): AppDeps {
  const logger = overrides.logger ?? createLogger(service)
  const store =
    overrides.store ??
    createDynamoStore({
      ...(config.DYNAMODB_ENDPOINT
        ? { client: new DynamoDBClient({ endpoint: config.DYNAMODB_ENDPOINT }) }
        : {}),
      tables: tableNamesFromConfig(config),
      cursorSecret: config.CURSOR_SECRET,
    })
  const eager: Omit<AppDeps, 'secrets' | 'partnerApi' | 'events' | 'failureQueue'> = {
    config,
    store,
    clock: overrides.clock ?? systemClock,
    logger,
    metrics: overrides.metrics ?? createMetrics(service, logger),
  }
  // The three lazy parts are defined right below, before anyone can read them.
  const deps = eager as AppDeps
  defineLazy(deps, 'secrets', () => overrides.secrets ?? createSecretSource(config))
  defineLazy(
    deps,
    'partnerApi',
    () =>
      overrides.partnerApi ??
      createPartnerApiClient({
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
      }),
  )
  defineLazy(
    deps,
    'events',
    () =>
      overrides.events ??
      (config.EVENT_SINK === 'eventbridge'
        ? createEventBridgeSink({ busName: config.EVENT_BUS_NAME })
        : config.EVENT_SINK === 'file'
          ? createFileEventSink({ path: config.EVENTS_FILE })
          : createMemoryEventSink()),
  )
  defineLazy(
    deps,
    'failureQueue',
    () =>
      overrides.failureQueue ??
      (config.CHANGE_FAILURES_QUEUE_URL
        ? createSqsFailureQueue({ queueUrl: config.CHANGE_FAILURES_QUEUE_URL })
        : noFailureQueue),
  )
  return deps
}

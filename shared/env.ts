import { ConfigError } from './domain/errors'
import type { FunctionKey } from './functions'
import type { SecretName } from './ports'

/**
 * Every setting of the product, defined once: its shape and AWS default, what it means, which functions
 * read it, whether it carries a secret, and its value under `npm start` where that differs. The runtime
 * parser (loadConfig, below), the CDK stack (which can set only keys defined here, on the functions that
 * read them) and the local runner all read this table. process.env is parsed once, here; nothing else in
 * the functions reads it.
 *
 * Why not zod here: this runs in every Lambda init, and building and first running a zod schema of
 * 45 fields costs several milliseconds of cold start (zod's code is compiled on first use), while
 * each setting is one of five simple shapes. The parsers below keep zod's semantics for those shapes:
 * numbers are coerced with `Number()` (so '' is 0) and must be finite safe integers within bounds, a
 * missing value takes its default, optional text that is blank is absent, URLs are trimmed and must
 * parse.
 */

/** One setting's shape: the raw environment value in, the value or a problem out. */
export interface Setting<T> {
  parse(raw: string | undefined): { ok: true; value: T } | { ok: false; message: string }
}

const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value })
const bad = (message: string): { ok: false; message: string } => ({ ok: false, message })

/** An integer within bounds, `def` when unset. */
export const int = (def: number, min: number, max: number): Setting<number> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    const n = Number(raw)
    if (!Number.isFinite(n)) return bad(`expected a number, received "${raw}"`)
    if (!Number.isSafeInteger(n)) return bad(`expected an integer, received ${n}`)
    if (n < min) return bad(`too small: expected a number >= ${min}`)
    if (n > max) return bad(`too big: expected a number <= ${max}`)
    return ok(n)
  },
})

/** Text of at least `minLength` characters, `def` when unset. */
export const text = (def: string, minLength = 0): Setting<string> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    if (raw.length < minLength) return bad(`too small: expected at least ${minLength} characters`)
    return ok(raw)
  },
})

/** Text that may be absent; blank counts as absent. */
export const optionalText: Setting<string | undefined> = {
  parse: (raw) => ok(raw === undefined || raw.trim() === '' ? undefined : raw),
}

/** One of a fixed list of words, `def` when unset. */
export const oneOf = <const V extends readonly string[]>(values: V, def: V[number]): Setting<V[number]> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    const found = values.find((v) => v === raw)
    return found === undefined ? bad(`expected one of ${values.join('|')}`) : ok(found)
  },
})

/** A URL, `def` when unset. */
export const url = (def: string): Setting<string> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    const trimmed = raw.trim()
    // The URL parser drops ASCII tabs and newlines; so does the value kept.
    return URL.canParse(trimmed) ? ok(trimmed.replace(/[\t\n\r]/g, '')) : bad('invalid URL')
  },
})

/** Text that must be set and match `pattern`. */
export const required = (pattern: RegExp, message: string): Setting<string> => ({
  parse(raw) {
    if (raw === undefined) return bad('required')
    return pattern.test(raw) ? ok(raw) : bad(message)
  },
})

/** What the product knows about one setting besides its shape. */
export interface SettingInfo {
  /** What it means. */
  doc: string
  /**
   * The functions that read it. The stack sets a setting only on these (and only when the deployment
   * gives it a value; otherwise the default applies). `[]`: the local runner and tools only.
   */
  usedBy: 'all' | readonly FunctionKey[]
  /** Holds this secret's value (SECRETS_SOURCE=env: the local runner and tests). Never deployed. */
  secretValue?: SecretName
  /** Holds part of a secret (the bearer user and password, joined into `partnerApi`). Never deployed. */
  secret?: true
  /** Names this secret in Secrets Manager; deployed on exactly the functions granted the secret. */
  secretId?: SecretName
  /** Its value under `npm start`, where that differs from the AWS default. */
  local?: string
  /** `npm start` takes it from its own environment (README, Running locally). */
  startEnv?: true
}

/** A setting: its shape and what the product knows about it. */
export type SettingSpec<T> = Setting<T> & SettingInfo

const setting = <T, const I extends SettingInfo>(shape: Setting<T>, info: I): Setting<T> & I => ({
  ...info,
  parse: shape.parse,
})

const ALL = 'all' as const
/** The functions that call the Partner API. */
const UPSTREAM_CALLERS = ['api', 'onboarding', 'poller'] as const satisfies readonly FunctionKey[]

/** Every setting, its shape, default and where it applies. */
export const SETTINGS = {
  PARTNER_ID: setting(required(/^[A-Za-z0-9_-]{1,64}$/, 'must be a partner id such as examplePA'), {
    doc: '360dialog partner id',
    usedBy: ALL,
    local: 'demoPA',
    startEnv: true,
  }),
  PARTNER_API_BASE_URL: setting(url('https://hub.360dialog.io/api/v2'), {
    doc: 'Partner API base URL (locally: the simulator unless set)',
    usedBy: UPSTREAM_CALLERS,
    startEnv: true,
  }),
  PARTNER_API_AUTH: setting(oneOf(['api_key', 'bearer'], 'api_key'), {
    doc: 'api_key (X-API-Key) or bearer (username/password token flow)',
    usedBy: UPSTREAM_CALLERS,
  }),
  UPSTREAM_TIMEOUT_MS: setting(int(10_000, 100, 120_000), {
    doc: 'timeout of one Partner API request',
    usedBy: UPSTREAM_CALLERS,
  }),
  UPSTREAM_MAX_ATTEMPTS: setting(int(4, 1, 10), {
    doc: 'attempts of one retryable Partner API request',
    usedBy: UPSTREAM_CALLERS,
  }),
  UPSTREAM_BUDGET_MS: setting(int(30_000, 100, 900_000), {
    doc: 'time one Partner API call may take with its retries',
    usedBy: UPSTREAM_CALLERS,
  }),

  SECRETS_SOURCE: setting(oneOf(['aws', 'env'], 'aws'), {
    doc: 'aws (Secrets Manager, by the *_SECRET_ID settings) or env (the secret values below)',
    usedBy: ALL,
    local: 'env',
  }),
  SECRET_CACHE_SECONDS: setting(int(300, 0, 86_400), {
    doc: 'how long a secret read from Secrets Manager is cached',
    usedBy: ALL,
  }),
  PARTNER_API_SECRET_ID: setting(optionalText, {
    doc: 'Secrets Manager id of the Partner API credentials',
    usedBy: ALL,
    secretId: 'partnerApi',
  }),
  PLATFORM_SECRET_ID: setting(optionalText, {
    doc: 'Secrets Manager id of the Platform Secret',
    usedBy: ALL,
    secretId: 'platformSecret',
  }),
  WEBHOOK_TOKEN_SECRET_ID: setting(optionalText, {
    doc: 'Secrets Manager id of the webhook token',
    usedBy: ALL,
    secretId: 'webhookToken',
  }),
  LINK_SIGNING_SECRET_ID: setting(optionalText, {
    doc: 'Secrets Manager id of the onboarding link signing key',
    usedBy: ALL,
    secretId: 'linkSigningKey',
  }),
  PARTNER_API_KEY: setting(optionalText, {
    doc: 'Partner API key (SECRETS_SOURCE=env)',
    usedBy: [],
    secretValue: 'partnerApi',
    local: 'local-partner-api-key',
    startEnv: true,
  }),
  PARTNER_API_USERNAME: setting(optionalText, {
    doc: 'Partner API user for bearer auth (SECRETS_SOURCE=env)',
    usedBy: [],
    secret: true,
  }),
  PARTNER_API_PASSWORD: setting(optionalText, {
    doc: 'Partner API password for bearer auth (SECRETS_SOURCE=env)',
    usedBy: [],
    secret: true,
  }),
  PLATFORM_SECRET: setting(optionalText, {
    doc: 'HMAC key of x-360dialog-signature (SECRETS_SOURCE=env)',
    usedBy: [],
    secretValue: 'platformSecret',
    local: 'local-platform-secret',
    startEnv: true,
  }),
  WEBHOOK_TOKEN: setting(optionalText, {
    doc: 'x-webhook-token the webhook also requires (SECRETS_SOURCE=env)',
    usedBy: [],
    secretValue: 'webhookToken',
    startEnv: true,
  }),
  LINK_SIGNING_KEY: setting(optionalText, {
    doc: 'HMAC key of onboarding link references (SECRETS_SOURCE=env)',
    usedBy: [],
    secretValue: 'linkSigningKey',
    local: 'local-link-signing-key',
  }),

  TABLE_CLIENTS: setting(text('partnerops-clients', 3), { doc: 'clients table', usedBy: ALL }),
  TABLE_CHANNELS: setting(text('partnerops-channels', 3), { doc: 'channels table', usedBy: ALL }),
  TABLE_EVENTS: setting(text('partnerops-webhook-events', 3), { doc: 'webhook events table', usedBy: ALL }),
  TABLE_CANCELLATIONS: setting(text('partnerops-cancellations', 3), {
    doc: 'cancellations table',
    usedBy: ALL,
  }),
  TABLE_AUDIT: setting(text('partnerops-audit', 3), { doc: 'audit table', usedBy: ALL }),
  TABLE_OPS: setting(text('partnerops-ops', 3), { doc: 'ops table', usedBy: ALL }),
  TABLE_CHANNEL_KEYS: setting(text('partnerops-channel-keys', 3), {
    doc: 'channel API key table (encrypted values)',
    usedBy: ALL,
  }),
  CHANNEL_KEY_CIPHER: setting(oneOf(['kms', 'local'], 'kms'), {
    doc: 'how channel API keys are encrypted: KMS (AWS) or a local AES key (npm start)',
    usedBy: ALL,
    local: 'local',
  }),
  CHANNEL_KEY_KMS_KEY_ID: setting(optionalText, {
    doc: 'the KMS key that encrypts channel API keys (CHANNEL_KEY_CIPHER=kms)',
    usedBy: ALL,
  }),
  CHANNEL_KEY_LOCAL_SECRET: setting(text('local-channel-key-secret', 8), {
    doc: 'what the local AES key of channel API keys is derived from (CHANNEL_KEY_CIPHER=local)',
    usedBy: [],
  }),
  DYNAMODB_ENDPOINT: setting(optionalText, { doc: 'a local DynamoDB endpoint', usedBy: [] }),

  // Only the change-event publisher publishes: services never do (shared/services/events).
  EVENT_SINK: setting(oneOf(['eventbridge', 'file', 'none'], 'eventbridge'), {
    doc: 'where change events go',
    usedBy: ['eventPublisher'],
    local: 'file',
  }),
  EVENT_BUS_NAME: setting(text('partnerops'), { doc: 'the change-event bus', usedBy: ['eventPublisher'] }),
  EVENTS_FILE: setting(text('.data/events.jsonl'), { doc: 'change-event log (EVENT_SINK=file)', usedBy: [] }),
  QUALITY_METRICS: setting(oneOf(['on', 'off'], 'on'), {
    doc: 'the publisher emits a metric per quality rating a channel moves into, and LiveChannelTurnedRed',
    usedBy: ['eventPublisher'],
  }),
  CHANGE_FAILURES_QUEUE_URL: setting(optionalText, {
    doc: "the change-event publisher's on-failure queue (GET /status shows its depth)",
    usedBy: ['api'],
  }),

  WEBHOOK_SIGNATURE: setting(oneOf(['required', 'off'], 'required'), {
    doc: 'check x-360dialog-signature (off only with a webhook token)',
    usedBy: ['webhook'],
  }),
  WEBHOOK_RETENTION_DAYS: setting(int(30, 1, 3650), {
    doc: 'days a stored webhook event is kept',
    usedBy: ['webhook'],
  }),

  POLL_PAGE_SIZE: setting(int(100, 1, 1000), { doc: 'Partner API page size', usedBy: ['poller'] }),
  POLL_CONCURRENCY: setting(int(4, 1, 32), { doc: 'pages in flight', usedBy: ['poller'] }),
  POLL_BUDGET_MS: setting(int(240_000, 1_000, 900_000), {
    doc: 'when a reconciliation run stops starting work',
    usedBy: ['poller'],
  }),
  POLL_LEASE_MS: setting(int(300_000, 1_000, 3_600_000), {
    doc: 'how long a run holds the poll lease',
    usedBy: ['poller'],
  }),
  FULL_SWEEP_INTERVAL_SECONDS: setting(int(86_400, 0, 30 * 86_400), {
    doc: 'a reconciliation run is a full sweep (every item, then missing detection) this long after the last one started; runs in between are incremental (0 = every run sweeps fully)',
    usedBy: ['poller'],
    local: '3600',
  }),

  HEALTH_INTERVAL_MINUTES: setting(int(15, 7, 60), {
    doc: 'how often the health job checks every live channel with a key (at least 7: no channel is ever checked twice within 5 minutes)',
    usedBy: ['health'],
    local: '7',
    startEnv: true,
  }),
  HEALTH_CONCURRENCY: setting(int(20, 1, 200), {
    doc: 'health checks (Messaging API requests) in flight at once',
    usedBy: ['health'],
  }),
  HEALTH_SPREAD: setting(oneOf(['on', 'off'], 'on'), {
    doc: 'on: each channel is checked at its own fixed offset within the interval; off: all at once (tests)',
    usedBy: ['health'],
  }),
  HEALTH_BUDGET_MS: setting(int(870_000, 1_000, 900_000), {
    doc: 'when a health sweep stops starting checks',
    usedBy: ['health'],
  }),
  MESSAGING_API_BASE_URL: setting(url('https://waba-v2.360dialog.io'), {
    doc: 'the Messaging API base for a channel key stored without an address (locally: the simulator)',
    usedBy: ['health'],
  }),

  CANCELLATION_BUDGET_PER_HOUR: setting(int(20, 1, 100_000), {
    doc: 'cancellations one caller may request per hour',
    usedBy: ['api'],
    startEnv: true,
  }),
  ONBOARDING_LINK_TTL_SECONDS: setting(int(604_800, 60, 31_536_000), {
    doc: 'lifetime of an onboarding link',
    usedBy: ['onboarding'],
  }),
  HUB_BASE_URL: setting(url('https://hub.360dialog.com'), {
    doc: 'where onboarding links point (the 360dialog Hub; locally the simulator, which serves its permission page)',
    usedBy: ['onboarding'],
    startEnv: true,
  }),
  ONBOARDING_CALLBACK_URL: setting(optionalText, {
    doc: 'public URL of the onboarding callback (also the partner_redirect_url GET /partner expects)',
    usedBy: ['onboarding', 'api', 'poller'],
  }),
  WEBHOOK_URL: setting(optionalText, {
    doc: 'public URL of the webhook receiver: the webhook_url GET /partner and each run expect at 360dialog',
    usedBy: ['api', 'poller'],
  }),
  ONBOARDING_DEFAULT_REDIRECT_URL: setting(optionalText, {
    doc: 'where the callback sends browsers without a redirectUrl',
    usedBy: ['onboarding'],
  }),
  ONBOARDING_CALLBACK_RATE_PER_MINUTE: setting(int(30, 1, 100_000), {
    doc: 'callback requests one source may make per minute',
    usedBy: ['onboarding'],
  }),
  CURSOR_SECRET: setting(text('partnerops-cursor-v1', 8), {
    doc: 'HMAC key of pagination cursors (integrity only)',
    usedBy: ALL,
  }),
} satisfies Record<string, SettingSpec<unknown>>

/** The name of a setting. */
export type SettingName = keyof typeof SETTINGS

/** Raw values of settings by name: what a process environment holds (a typo is a compile error). */
export type SettingValues = Partial<Record<SettingName, string>>

/** The parsed configuration: one property per setting. */
export type Config = {
  [K in SettingName]: (typeof SETTINGS)[K] extends Setting<infer T> ? T : never
}

/** Whether `fn` reads setting `name` (a secret id only when the function is granted the secret). */
export function readsSetting(
  name: SettingName,
  fn: FunctionKey,
  grantedSecrets: readonly SecretName[],
): boolean {
  const spec: SettingInfo = SETTINGS[name]
  if (spec.secretId !== undefined) return grantedSecrets.includes(spec.secretId)
  return spec.usedBy === 'all' || spec.usedBy.includes(fn)
}

/** Parses raw values against a table of settings: the values, or every problem by name. */
export function parseSettings<S extends Record<string, Setting<unknown>>>(
  schema: S,
  env: Record<string, string | undefined>,
): { values: { [K in keyof S]: S[K] extends Setting<infer T> ? T : never }; problems: string[] } {
  const values: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [name, spec] of Object.entries(schema)) {
    const result = spec.parse(env[name])
    if (result.ok) values[name] = result.value
    else problems.push(`${name}: ${result.message}`)
  }
  return { values: values as { [K in keyof S]: S[K] extends Setting<infer T> ? T : never }, problems }
}

/** Rules across settings; each names the variable to fix. */
function crossChecks(c: Config): string[] {
  const problems: string[] = []
  const need = (cond: boolean, name: SettingName, message: string): void => {
    if (cond) problems.push(`${name}: ${message}`)
  }
  need(
    c.WEBHOOK_SIGNATURE === 'off' && c.SECRETS_SOURCE === 'env' && !c.WEBHOOK_TOKEN,
    'WEBHOOK_SIGNATURE',
    'signature checking can be off only while a webhook token is configured',
  )
  need(
    c.WEBHOOK_SIGNATURE === 'off' && c.SECRETS_SOURCE === 'aws' && !c.WEBHOOK_TOKEN_SECRET_ID,
    'WEBHOOK_SIGNATURE',
    'signature checking can be off only while WEBHOOK_TOKEN_SECRET_ID is set',
  )
  need(
    c.SECRETS_SOURCE === 'env' &&
      c.PARTNER_API_AUTH === 'bearer' &&
      (!c.PARTNER_API_USERNAME || !c.PARTNER_API_PASSWORD),
    'PARTNER_API_USERNAME',
    'bearer auth needs PARTNER_API_USERNAME and PARTNER_API_PASSWORD',
  )
  return problems
}

/** Parses configuration from an environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const { values, problems } = parseSettings(SETTINGS, env)
  // Cross-field rules run even when single settings are bad, so one message names every problem.
  problems.push(...crossChecks(values))
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  return values
}

/** The settings `npm start` uses where they differ from AWS (the `local` column of SETTINGS). */
export function localSettings(): SettingValues {
  const out: SettingValues = {}
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingInfo][]) {
    if (spec.local !== undefined) out[name] = spec.local
  }
  return out
}

/** The product settings `npm start` reads from its own environment, as set there (blank = unset). */
export function startEnvSettings(env: Record<string, string | undefined>): SettingValues {
  const out: SettingValues = {}
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingInfo][]) {
    const value = env[name]
    if (spec.startEnv && value !== undefined && value.trim() !== '') out[name] = value
  }
  return out
}

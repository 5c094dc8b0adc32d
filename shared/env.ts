import { ConfigError } from './domain/errors'

/**
 * process.env parsed once. Nothing else reads process.env. Every variable has a safe default except
 * those a deployment must set; a bad value fails at start with a message naming every bad variable.
 *
 * Why not zod here: this runs in every Lambda init, and building and first running a zod schema of
 * 45 fields costs several milliseconds of cold start (zod's code is compiled on first use), while
 * each setting is one of five simple shapes. The parsers below keep zod's semantics for those shapes:
 * numbers are coerced with `Number()` (so '' is 0) and must be finite safe integers within bounds, a
 * missing value takes its default, optional text that is blank is absent, URLs are trimmed and must
 * parse.
 */

/** One setting: the raw environment value in, the value or a problem out. */
export interface Setting<T> {
  parse(raw: string | undefined): { ok: true; value: T } | { ok: false; message: string }
}

const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value })
const bad = (message: string): { ok: false; message: string } => ({ ok: false, message })

const int = (def: number, min: number, max: number): Setting<number> => ({
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

const text = (def: string, minLength = 0): Setting<string> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    if (raw.length < minLength) return bad(`too small: expected at least ${minLength} characters`)
    return ok(raw)
  },
})

const optionalText: Setting<string | undefined> = {
  parse: (raw) => ok(raw === undefined || raw.trim() === '' ? undefined : raw),
}

const oneOf = <const V extends readonly string[]>(values: V, def: V[number]): Setting<V[number]> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    const found = values.find((v) => v === raw)
    return found === undefined ? bad(`expected one of ${values.join('|')}`) : ok(found)
  },
})

const url = (def: string): Setting<string> => ({
  parse(raw) {
    if (raw === undefined) return ok(def)
    const trimmed = raw.trim()
    // The URL parser drops ASCII tabs and newlines; so does the value kept.
    return URL.canParse(trimmed) ? ok(trimmed.replace(/[\t\n\r]/g, '')) : bad('invalid URL')
  },
})

const required = (pattern: RegExp, message: string): Setting<string> => ({
  parse(raw) {
    if (raw === undefined) return bad('required')
    return pattern.test(raw) ? ok(raw) : bad(message)
  },
})

/** Every setting, its shape and default. */
export const configSchema = {
  PARTNER_ID: required(/^[A-Za-z0-9_-]{1,64}$/, 'must be a partner id such as examplePA'),
  PARTNER_API_BASE_URL: url('https://hub.360dialog.io/api/v2'),
  PARTNER_API_AUTH: oneOf(['api_key', 'bearer'], 'api_key'),
  UPSTREAM_TIMEOUT_MS: int(10_000, 100, 120_000),
  UPSTREAM_MAX_ATTEMPTS: int(4, 1, 10),
  UPSTREAM_BUDGET_MS: int(30_000, 100, 900_000),

  SECRETS_SOURCE: oneOf(['aws', 'env'], 'aws'),
  SECRET_CACHE_SECONDS: int(300, 0, 86_400),
  PARTNER_API_SECRET_ID: optionalText,
  PLATFORM_SECRET_ID: optionalText,
  WEBHOOK_TOKEN_SECRET_ID: optionalText,
  LINK_SIGNING_SECRET_ID: optionalText,
  // Only with SECRETS_SOURCE=env (the local runner and tests).
  PARTNER_API_KEY: optionalText,
  PARTNER_API_USERNAME: optionalText,
  PARTNER_API_PASSWORD: optionalText,
  PLATFORM_SECRET: optionalText,
  WEBHOOK_TOKEN: optionalText,
  LINK_SIGNING_KEY: optionalText,

  TABLE_CLIENTS: text('partnerops-clients', 3),
  TABLE_CHANNELS: text('partnerops-channels', 3),
  TABLE_EVENTS: text('partnerops-webhook-events', 3),
  TABLE_CANCELLATIONS: text('partnerops-cancellations', 3),
  TABLE_AUDIT: text('partnerops-audit', 3),
  TABLE_OPS: text('partnerops-ops', 3),
  DYNAMODB_ENDPOINT: optionalText,

  EVENT_SINK: oneOf(['eventbridge', 'file', 'none'], 'eventbridge'),
  EVENT_BUS_NAME: text('partnerops'),
  EVENTS_FILE: text('.data/events.jsonl'),

  WEBHOOK_SIGNATURE: oneOf(['required', 'off'], 'required'),
  WEBHOOK_RETENTION_DAYS: int(30, 1, 3650),

  POLL_PAGE_SIZE: int(100, 1, 1000),
  POLL_CONCURRENCY: int(4, 1, 32),
  POLL_BUDGET_MS: int(240_000, 1_000, 900_000),
  POLL_LEASE_MS: int(300_000, 1_000, 3_600_000),

  CANCELLATION_BUDGET_PER_HOUR: int(20, 1, 100_000),
  ONBOARDING_LINK_TTL_SECONDS: int(604_800, 60, 31_536_000),
  ONBOARDING_CALLBACK_URL: optionalText,
  ONBOARDING_DEFAULT_REDIRECT_URL: optionalText,
  ONBOARDING_CALLBACK_RATE_PER_MINUTE: int(30, 1, 100_000),
  CURSOR_SECRET: text('partnerops-cursor-v1', 8),
} satisfies Record<string, Setting<unknown>>

/** The parsed configuration: one property per setting of configSchema. */
export type Config = {
  [K in keyof typeof configSchema]: (typeof configSchema)[K] extends Setting<infer T> ? T : never
}

/** Rules across settings; each names the variable to fix. */
function crossChecks(c: Config): string[] {
  const problems: string[] = []
  const need = (cond: boolean, name: string, message: string): void => {
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
  const values: Record<string, unknown> = {}
  const problems: string[] = []
  for (const [name, setting] of Object.entries(configSchema) as [string, Setting<unknown>][]) {
    const result = setting.parse(env[name])
    if (result.ok) values[name] = result.value
    else problems.push(`${name}: ${result.message}`)
  }
  // Cross-field rules run even when single settings are bad, so one message names every problem.
  problems.push(...crossChecks(values as Config))
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
  return values as Config
}

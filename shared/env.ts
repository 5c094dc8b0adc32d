import { z } from 'zod'
import { ConfigError } from './domain/errors'

/**
 * process.env parsed once with zod. Nothing else reads process.env. Every variable has a safe default
 * except those a deployment must set; a bad value fails at start with a message naming every bad variable.
 */

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def)
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v))

export const configSchema = z
  .object({
    PARTNER_ID: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a partner id such as examplePA'),
    PARTNER_API_BASE_URL: z.url().default('https://hub.360dialog.io/api/v2'),
    PARTNER_API_AUTH: z.enum(['api_key', 'bearer']).default('api_key'),
    UPSTREAM_TIMEOUT_MS: int(10_000, 100, 120_000),
    UPSTREAM_MAX_ATTEMPTS: int(4, 1, 10),
    UPSTREAM_BUDGET_MS: int(30_000, 100, 900_000),

    SECRETS_SOURCE: z.enum(['aws', 'env']).default('aws'),
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

    TABLE_CLIENTS: z.string().min(3).default('partnerops-clients'),
    TABLE_CHANNELS: z.string().min(3).default('partnerops-channels'),
    TABLE_EVENTS: z.string().min(3).default('partnerops-webhook-events'),
    TABLE_CANCELLATIONS: z.string().min(3).default('partnerops-cancellations'),
    TABLE_AUDIT: z.string().min(3).default('partnerops-audit'),
    TABLE_OPS: z.string().min(3).default('partnerops-ops'),
    DYNAMODB_ENDPOINT: optionalText,

    EVENT_SINK: z.enum(['eventbridge', 'file', 'none']).default('eventbridge'),
    EVENT_BUS_NAME: z.string().default('partnerops'),
    EVENTS_FILE: z.string().default('.data/events.jsonl'),

    WEBHOOK_SIGNATURE: z.enum(['required', 'off']).default('required'),
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
    CURSOR_SECRET: z.string().min(8).default('partnerops-cursor-v1'),
  })
  .superRefine((c, ctx) => {
    const need = (cond: boolean, path: string, message: string): void => {
      if (cond) ctx.addIssue({ code: 'custom', path: [path], message })
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
  })

export type Config = z.infer<typeof configSchema>

/** Parses configuration from an environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = configSchema.safeParse(env)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`)
  throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`)
}

import { z } from 'zod'
import { SETTINGS, type Setting } from '../shared/env'

/**
 * Deployment settings of the CDK app, read from CDK context (cdk.json `context`, or `-c key=value` on
 * the command line). `partnerId` and `alarmEmail` are required; everything else has a default.
 */

const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const

/** Context keys the app reads, with what each means (printed when a setting is missing or bad). */
export const CONTEXT_KEYS = {
  partnerId: '360dialog partner id, e.g. examplePA (required)',
  alarmEmail: 'e-mail address subscribed to the alarm topic (required)',
  stackPrefix: 'prefix of the stack names (default PartnerOps)',
  partnerApiBaseUrl: 'Partner API base URL (default https://hub.360dialog.io/api/v2)',
  partnerApiAuth: 'api_key (X-API-Key, default) or bearer (username/password token flow)',
  webhookAuth: 'signature (default), signature+token, or token (signature checking off; token required)',
  pollRateMinutes: 'reconciliation interval in minutes (default 15)',
  healthRateMinutes:
    'health job interval in minutes: every live channel with a key is checked once per interval (default 15, at least 7)',
  healthConcurrency: 'health checks in flight at once (default 20)',
  pollPageSize: 'Partner API page size during reconciliation (default 100)',
  pollConcurrency: 'parallel upstream applies during reconciliation (default 4)',
  webhookRetentionDays: 'days a stored webhook event is kept (TTL, default 30)',
  logRetentionDays: 'CloudWatch Logs retention of every log group (default 90; a value CloudWatch accepts)',
  eventArchiveRetentionDays: 'days the change-event archive keeps events for replay (default 30)',
  cancellationBudgetPerHour: 'cancellations one caller may request per hour (default 20)',
  apiRateLimit: 'API stage steady-state requests per second (default 100)',
  apiBurstLimit: 'API stage burst (default 200)',
  webhookRateLimit: 'webhook route requests per second (default 1000)',
  webhookBurstLimit: 'webhook route burst (default 2000)',
  callbackRateLimit: 'onboarding callback requests per second (default 5)',
  callbackBurstLimit: 'onboarding callback burst (default 10)',
  unauthorizedAlarmThreshold:
    'rejected webhook authentications per 5 minutes that raise the alarm (default 20)',
  onboardingDefaultRedirectUrl:
    'where the onboarding callback sends the browser without a redirectUrl (optional)',
  qualityMetrics: 'emit a metric per quality rating channels move into (default true)',
  qualityRedAlarmActions:
    'notify the alarm topic when a live channel turns RED (default false: the alarm shows in the console only)',
} as const

/** A context key the app understands. */
export type ContextKey = keyof typeof CONTEXT_KEYS

/** A boolean setting: true or false in cdk.json, "true" or "false" with -c on the command line. */
const flag = (def: boolean) =>
  z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(def)

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def)

/**
 * A context key that deploys as a function setting: parsed by that setting's own parser (shared/env.ts),
 * so the shape, bounds and default are the ones the function applies.
 */
const fromSetting = <T>(spec: Setting<T>) =>
  z
    .unknown()
    .optional()
    .transform((raw, ctx): T => {
      const result = spec.parse(raw === undefined ? undefined : String(raw))
      if (result.ok) return result.value
      ctx.addIssue({ code: 'custom', message: result.message })
      return z.NEVER
    })

const deployConfigSchema = z.object({
  partnerId: fromSetting(SETTINGS.PARTNER_ID),
  alarmEmail: z.email('must be an e-mail address'),
  stackPrefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,40}$/, 'letters, digits and dashes, starting with a letter')
    .default('PartnerOps'),
  partnerApiBaseUrl: fromSetting(SETTINGS.PARTNER_API_BASE_URL).refine((u) => u.startsWith('https://'), {
    message: 'must be an https URL',
  }),
  partnerApiAuth: fromSetting(SETTINGS.PARTNER_API_AUTH),
  webhookAuth: z.enum(['signature', 'signature+token', 'token']).default('signature'),
  pollRateMinutes: int(15, 1, 1440),
  healthRateMinutes: fromSetting(SETTINGS.HEALTH_INTERVAL_MINUTES),
  healthConcurrency: fromSetting(SETTINGS.HEALTH_CONCURRENCY),
  pollPageSize: fromSetting(SETTINGS.POLL_PAGE_SIZE),
  pollConcurrency: fromSetting(SETTINGS.POLL_CONCURRENCY),
  webhookRetentionDays: fromSetting(SETTINGS.WEBHOOK_RETENTION_DAYS),
  logRetentionDays: z.coerce
    .number()
    .refine((n) => (LOG_RETENTION_DAYS as readonly number[]).includes(n), {
      message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(90),
  eventArchiveRetentionDays: int(30, 1, 3650),
  cancellationBudgetPerHour: fromSetting(SETTINGS.CANCELLATION_BUDGET_PER_HOUR),
  apiRateLimit: int(100, 1, 10_000),
  apiBurstLimit: int(200, 1, 5_000),
  webhookRateLimit: int(1_000, 1, 10_000),
  webhookBurstLimit: int(2_000, 1, 5_000),
  callbackRateLimit: int(5, 1, 10_000),
  callbackBurstLimit: int(10, 1, 5_000),
  unauthorizedAlarmThreshold: int(20, 1, 1_000_000),
  onboardingDefaultRedirectUrl: z.url({ protocol: /^https$/, error: 'must be an https URL' }).optional(),
  qualityMetrics: flag(true),
  qualityRedAlarmActions: flag(false),
})

/** The parsed deployment settings. */
export type DeployConfig = z.infer<typeof deployConfigSchema>

/** Thrown when the deployment settings are missing or invalid; the message says how to fix them. */
export class DeployConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DeployConfigError'
  }
}

/**
 * Parses the deployment settings from a context lookup (`app.node.tryGetContext`). Throws
 * DeployConfigError naming every missing or bad setting and how to provide it.
 */
export function loadDeployConfig(getContext: (key: string) => unknown): DeployConfig {
  const raw: Record<string, unknown> = {}
  for (const key of Object.keys(CONTEXT_KEYS)) {
    const value = getContext(key)
    if (value !== undefined && value !== null && value !== '') raw[key] = value
  }
  const parsed = deployConfigSchema.safeParse(raw)
  if (parsed.success) return parsed.data
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '(config)') as ContextKey
    const missing = raw[key] === undefined
    const what = CONTEXT_KEYS[key] ?? ''
    return missing ? `  - ${key}: missing (${what})` : `  - ${key}: ${issue.message} (${what})`
  })
  throw new DeployConfigError(
    [
      'PartnerOps deployment settings are missing or invalid:',
      ...problems,
      'Set them in cdk.json under "context", or on the command line, e.g.',
      '  npm run synth -- -c partnerId=examplePA -c alarmEmail=ops@example.com',
    ].join('\n'),
  )
}

/** The environment variable values the functions derive from the webhook auth mode. */
export function webhookAuthSettings(config: DeployConfig): {
  signature: 'required' | 'off'
  token: boolean
} {
  return {
    signature: config.webhookAuth === 'token' ? 'off' : 'required',
    token: config.webhookAuth !== 'signature',
  }
}

import * as z from 'zod'
import type { SimulatorOptions } from './server'
import { DEFAULT_VARIANTS, parseVarianceSetting, VARIANT_NAMES, type VarianceSetting } from './variance'

/**
 * Everything the simulator reads from the environment, parsed in one place (`npm run simulator`
 * and the local runner). The names are the local runner's (README "Running locally").
 */
const port = z.coerce.number().int().min(0).max(65_535)
const onOff = z.enum(['on', 'off'])

const envSchema = z.object({
  SIMULATOR_PORT: port.default(4010),
  SIMULATOR_HOST: z.string().min(1).default('127.0.0.1'),
  PARTNER_ID: z.string().min(1).default('demoPA'),
  PARTNER_API_KEY: z.string().min(1).default('local-partner-api-key'),
  PLATFORM_SECRET: z.string().min(1).default('local-platform-secret'),
  WEBHOOK_TOKEN: z.string().min(1).optional(),
  SIMULATOR_WEBHOOK_URL: z.url().optional(),
  SIMULATOR_WEBHOOKS: onOff.default('on'),
  SIMULATOR_AUTO_ADVANCE_MS: z.coerce.number().int().min(0).default(20_000),
  SIMULATOR_VARIANCE: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return DEFAULT_VARIANTS as VarianceSetting
      const setting = parseVarianceSetting(raw)
      if (setting === null) {
        ctx.addIssue({
          code: 'custom',
          message: `must be on, off or a comma-separated list of ${VARIANT_NAMES.join(', ')}`,
        })
        return z.NEVER
      }
      return setting
    }),
})

/** The simulator's typed settings. */
export interface SimulatorConfig {
  port: number
  host: string
  partnerId: string
  apiKey: string
  platformSecret: string
  /** Sent as `x-webhook-token` with every webhook when set. */
  webhookToken: string | null
  /** Initial partner `webhook_url` (standalone runs; the local runner sets its own receiver). */
  webhookUrl: string | null
  deliverWebhooks: boolean
  /** Demo-mode interval; null = off. */
  autoAdvanceMs: number | null
  /** Which real-world variants of bodies it emits (README "Variance"). */
  variance: VarianceSetting
}

/** A setting that does not parse; the message names the variable. */
export class SimulatorConfigError extends Error {
  override name = 'SimulatorConfigError'
}

/** Parses the simulator's settings; empty strings count as unset. Throws SimulatorConfigError. */
export function loadSimulatorConfig(env: Record<string, string | undefined> = process.env): SimulatorConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = envSchema.safeParse(present)
  if (!parsed.success) {
    throw new SimulatorConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    )
  }
  const e = parsed.data
  return {
    port: e.SIMULATOR_PORT,
    host: e.SIMULATOR_HOST,
    partnerId: e.PARTNER_ID,
    apiKey: e.PARTNER_API_KEY,
    platformSecret: e.PLATFORM_SECRET,
    webhookToken: e.WEBHOOK_TOKEN ?? null,
    webhookUrl: e.SIMULATOR_WEBHOOK_URL ?? null,
    deliverWebhooks: e.SIMULATOR_WEBHOOKS === 'on',
    autoAdvanceMs: e.SIMULATOR_AUTO_ADVANCE_MS === 0 ? null : e.SIMULATOR_AUTO_ADVANCE_MS,
    variance: e.SIMULATOR_VARIANCE,
  }
}

/** The {@link startSimulator} options a configuration stands for. */
export function simulatorOptions(config: SimulatorConfig): SimulatorOptions {
  return {
    port: config.port,
    host: config.host,
    partnerId: config.partnerId,
    apiKeys: [config.apiKey],
    platformSecret: config.platformSecret,
    webhookUrl: config.webhookUrl,
    webhookHeaders: config.webhookToken ? { 'x-webhook-token': config.webhookToken } : {},
    deliverWebhooks: config.deliverWebhooks,
    autoAdvanceMs: config.autoAdvanceMs,
    variance: config.variance,
  }
}

import { loadConfig } from '../../shared/env'
import { wireFunction } from '../../shared/wiring/core'
import { secrets } from '../../shared/wiring/secrets'
import { buildWebhookHandler } from './handler'

/** Lambda entry of the webhook function: its adapters (FUNCTIONS.webhook.adapters) wired once per cold start. */
export const handler = buildWebhookHandler(wireFunction('webhook', loadConfig(), { secrets }))

import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildWebhookHandler } from './handler'

/** Lambda entry of the webhook function: dependencies wired once per cold start. */
export const handler = buildWebhookHandler(createAppDeps(loadConfig(), 'webhook'))

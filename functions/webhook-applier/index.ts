import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildWebhookApplierHandler } from './handler'

/** Lambda entry of the webhook applier (DynamoDB Streams on the events table): wired once per cold start. */
export const handler = buildWebhookApplierHandler(createAppDeps(loadConfig(), 'webhook-applier'))

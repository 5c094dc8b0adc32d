import { loadConfig } from '../../shared/env'
import { wireFunction } from '../../shared/wiring/core'
import { buildWebhookApplierHandler } from './handler'

/** Lambda entry of the webhook applier (DynamoDB Streams on the events table): no adapter beyond the store. */
export const handler = buildWebhookApplierHandler(wireFunction('webhookApplier', loadConfig(), {}))

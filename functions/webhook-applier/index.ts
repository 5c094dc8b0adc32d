import { loadConfig } from '../../shared/env'
import { channelKeys } from '../../shared/wiring/channel-keys'
import { wireFunction } from '../../shared/wiring/core'
import { partnerApi } from '../../shared/wiring/partner-api'
import { secrets } from '../../shared/wiring/secrets'
import { buildWebhookApplierHandler } from './handler'

/**
 * Lambda entry of the webhook applier (DynamoDB Streams on the events table): the Partner API and the
 * key store for the channel keys that permission events create or delete.
 */
export const handler = buildWebhookApplierHandler(
  wireFunction('webhookApplier', loadConfig(), { secrets, partnerApi, channelKeys }),
)

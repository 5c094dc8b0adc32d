/**
 * The custom metrics the alarms and the dashboard read: one place for their names. The functions emit
 * them as Powertools EMF in namespace `PartnerOps` with the single dimension `service` (the function's
 * service name). test/infra checks these names against the constants the functions use.
 */

/** EMF namespace of every PartnerOps metric (shared/observability.ts METRICS_NAMESPACE). */
export const NAMESPACE = 'PartnerOps'

/** Powertools service names, which are also the `service` metric dimension. */
export const SERVICES = {
  webhook: 'webhook',
  api: 'api',
  onboarding: 'onboarding',
  poller: 'poller',
} as const

/** Metrics of the webhook function (shared/services/ingest-webhook.ts WEBHOOK_METRICS). */
export const WEBHOOK = {
  accepted: 'WebhookAccepted',
  duplicate: 'WebhookDuplicate',
  unauthorized: 'WebhookUnauthorized',
  rejected: 'RejectedEvents',
  applied: 'WebhookApplied',
  applyFailed: 'WebhookApplyFailed',
  storeFailed: 'WebhookStoreFailed',
} as const

/** Metrics of the reconciliation poller (functions/poller/handler.ts recordRunMetrics). */
export const POLLER = {
  secondsSinceLastSuccess: 'SecondsSinceLastSuccess',
  runSucceeded: 'RunSucceeded',
  runFailed: 'RunFailed',
  runDuration: 'RunDuration',
  clientsChanged: 'ClientsChanged',
  channelsChanged: 'ChannelsChanged',
  channelsMissing: 'ChannelsMissing',
  eventsSwept: 'EventsSwept',
  cancellationsConfirmed: 'CancellationsConfirmed',
} as const

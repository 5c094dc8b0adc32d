import { HEALTH_METRICS } from '../shared/domain/health'
import { LIVE_CHANNEL_TURNED_RED, QUALITY_METRIC_OF } from '../shared/domain/signals'
import type { FunctionKey } from '../shared/functions'

/**
 * The custom metrics the alarms and the dashboard read: one place for their names. The functions emit
 * them as Powertools EMF in namespace `PartnerOps` with the single dimension `service` (the function's
 * service name). test/infra checks these names against the constants the functions use.
 */

/** EMF namespace of every PartnerOps metric (shared/observability.ts METRICS_NAMESPACE). */
export const NAMESPACE = 'PartnerOps'

/**
 * Metrics of webhook ingestion, emitted by the webhook function only (shared/services/webhooks/ingest-webhook.ts,
 * WEBHOOK_METRICS): the request path stores the event and answers.
 */
export const WEBHOOK = {
  accepted: 'WebhookAccepted',
  duplicate: 'WebhookDuplicate',
  unauthorized: 'WebhookUnauthorized',
  storeFailed: 'WebhookStoreFailed',
} as const

/**
 * Outcome metrics of completing a stored webhook event (shared/services/webhooks/apply-pending-event.ts,
 * WEBHOOK_METRICS), keyed as there. Emitted by the webhook-applier (the stream consumer) and, when a
 * redelivery completes a still-pending event inline, by the webhook function; the sweep emits none.
 */
export const WEBHOOK_OUTCOMES = {
  applied: 'WebhookApplied',
  rejected: 'RejectedEvents',
  unmatched: 'WebhookUnmatchedNotices',
  unknown: 'WebhookUnknownType',
  stale: 'WebhookStale',
  applyFailed: 'WebhookApplyFailed',
} as const

/** The functions whose `service` dimension carries WEBHOOK_OUTCOMES, the stream applier first. */
export const WEBHOOK_OUTCOME_SERVICES = [
  'webhookApplier',
  'webhook',
] as const satisfies readonly FunctionKey[]

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
  itemsQuarantined: 'ItemsQuarantined',
  warningItemsKeyMissing: 'WarningItemsKeyMissing',
  warningTotalMismatch: 'WarningTotalMismatch',
  warningMassMissingHalted: 'WarningMassMissingHalted',
  warningQuarantinedItems: 'WarningQuarantinedItems',
  warningSortFallback: 'WarningSortFallback',
  runIncremental: 'RunIncremental',
} as const

/**
 * Partner settings drift: every reconciliation run compares the partner's settings at 360dialog
 * (webhook URL, redirect URL) with this deployment's (shared/services/partner/partner-settings.ts); the
 * poller emits 1 for a run that found them different, else 0 (RUN_WARNING_METRICS of
 * functions/poller/handler.ts, warning `partner_settings_drift`). The alarm reads it.
 */
export const PARTNER_SETTINGS = {
  drift: 'PartnerSettingsDrift',
} as const

/**
 * Metrics of the change-event publisher (functions/event-publisher/handler.ts CHANGE_EVENT_METRICS):
 * events accepted by the bus, batches it asked Lambda to retry, and the delay from a state write to
 * its publish.
 */
export const CHANGE_EVENTS = {
  published: 'ChangeEventsPublished',
  failed: 'ChangeEventBatchesRetried',
  delay: 'ChangeEventDelay',
} as const

/**
 * Quality metrics of the change-event publisher (shared/domain/signals.ts, qualityMoves): one count
 * per rating a channel moved into, and the live channels that turned RED (the alarm reads it).
 * Emitted unless the deployment sets `qualityMetrics` to false.
 */
export const QUALITY = {
  green: QUALITY_METRIC_OF.GREEN,
  yellow: QUALITY_METRIC_OF.YELLOW,
  red: QUALITY_METRIC_OF.RED,
  unknown: QUALITY_METRIC_OF.UNKNOWN,
  liveTurnedRed: LIVE_CHANNEL_TURNED_RED,
} as const

/**
 * Metrics of the health job (shared/domain/health.ts HEALTH_METRICS, emitted by functions/health/handler.ts): one datapoint of each per
 * sweep. `ChannelsBecameUnhealthy` (live channels that entered BLOCKED or disconnected in the sweep)
 * raises the ChannelBecameUnhealthy alarm; `ChannelsUnhealthy` counts all of them.
 */
export const HEALTH = HEALTH_METRICS

/**
 * Ordering of upstream facts. Every stored client and channel carries an `orderKey`; a write is applied
 * only when its key is greater than the stored one (or equal with different content, which happens only
 * when time alone changed a derived field), so duplicates and out-of-order deliveries never move state
 * backwards.
 *
 * The key is the upstream `modified_at` normalized to a fixed-width UTC ISO string, then a two-digit
 * precedence. When `modified_at` is absent the webhook envelope `timestamp` stands in; when both are
 * absent the precedence alone orders the event after nothing dated (the "epoch" time below).
 */

/** Precedence of facts that carry the same upstream time: later steps of the lifecycle win. */
export const EVENT_PRECEDENCE: Readonly<Record<string, number>> = {
  client_created: 10,
  channel_created: 10,
  channel_submitted: 20,
  channel_ready: 30,
  channel_running: 40,
  channel_live: 50,
  template_messaging_enabled: 55,
  template_messaging_disabled: 55,
  account_violation: 56,
  account_restriction: 57,
  cancellation_request: 60,
  cancellation_revoke: 70,
  cancellation_processed: 80,
  /** A full snapshot from the Partner API (poll, onboarding callback, management call) is authoritative for its time. */
  snapshot: 90,
}

const EPOCH = '0000-00-00T00:00:00.000Z'

/** Normalizes an upstream timestamp to a sortable fixed-width string, or null when unparseable. */
export function normalizeTime(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) return null
  const iso = new Date(ms).toISOString()
  // Years beyond 9999 would break fixed width; clamp them (they are bogus upstream data anyway).
  return iso.length === 24 ? iso : '9999-12-31T23:59:59.999Z'
}

/** Builds the order key of a fact from its upstream time and its kind (an event name or 'snapshot'). */
export function orderKey(time: string | null | undefined, kind: string): string {
  const precedence = EVENT_PRECEDENCE[kind] ?? 1
  return `${normalizeTime(time) ?? EPOCH}#${String(precedence).padStart(2, '0')}`
}

/** True when `candidate` may replace `stored` (see the module comment). */
export function isNewer(
  candidate: { orderKey: string; contentHash: string },
  stored: { orderKey: string; contentHash: string } | null,
): boolean {
  if (stored === null) return true
  if (candidate.orderKey > stored.orderKey) return true
  return candidate.orderKey === stored.orderKey && candidate.contentHash !== stored.contentHash
}

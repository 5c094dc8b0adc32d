/**
 * Ordering of upstream facts. Every stored client and channel carries an `orderKey`; a write is applied
 * only when its key is greater than the stored one (or equal with different content, which happens only
 * when time alone changed a derived field), so duplicates and out-of-order deliveries never move state
 * backwards.
 *
 * The key is the fact's ordering time (see `orderingTime`) normalized to a fixed-width UTC ISO string,
 * then a two-digit precedence of the kind of fact.
 */

/** Precedence of facts that carry the same upstream time: later steps of the lifecycle win. */
export const EVENT_PRECEDENCE: Readonly<Record<string, number>> = {
  client_created: 10,
  channel_created: 10,
  channel_submitted: 20,
  channel_ready: 30,
  /** Seen in real integrations (not in 360dialog's list): the client granted the partner access, once ready. */
  channel_permission_granted: 35,
  /** The client withdrew that access (name assumed, docs/partner-api-notes.md); the channel's key is deleted. */
  channel_permission_revoked: 36,
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

/** Where a fact's ordering time came from (kept for logs and tests). */
export type OrderingTimeSource = 'modified_at' | 'timestamp' | 'received' | 'capped'

/** The times a fact carries: upstream `modified_at`, the webhook envelope `timestamp`, and when we received it. */
export interface FactTimes {
  modifiedAt?: string | null
  envelopeTime?: string | null
  /** When the fact reached us: the time a webhook was stored, or the time a poll fetched its page. */
  receivedAt: string | Date
}

/**
 * The time a fact is ordered by (README, Ordering): the upstream `modified_at`, else the webhook
 * envelope `timestamp`, else the time it was received; an upstream time later than the time it was
 * received counts as the time it was received. Why: real deliveries may carry no time at all (they
 * must then not sort before everything and be dropped as stale), and a sender's clock or a bad body
 * may date a fact in the future (it must not outrank every later fact, freezing the record).
 * Unparseable times count as absent.
 */
export function orderingTime(times: FactTimes): { time: string; from: OrderingTimeSource } {
  const received =
    normalizeTime(times.receivedAt instanceof Date ? times.receivedAt.toISOString() : times.receivedAt) ??
    EPOCH
  const modified = normalizeTime(times.modifiedAt)
  const envelope = modified === null ? normalizeTime(times.envelopeTime) : null
  const upstream = modified ?? envelope
  if (upstream === null) return { time: received, from: 'received' }
  if (upstream > received) return { time: received, from: 'capped' }
  return { time: upstream, from: modified !== null ? 'modified_at' : 'timestamp' }
}

/** The order key of a fact from its times (see orderingTime) and its kind (an event name or 'snapshot'). */
export function factOrderKey(times: FactTimes, kind: string): string {
  return orderKey(orderingTime(times).time, kind)
}

/** Builds the order key of a fact from an already chosen time and its kind (an event name or 'snapshot'). */
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

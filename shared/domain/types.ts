/** Pure types of PartnerOps state. No AWS, no env, no I/O. */
import type { KeyStatus } from './channel-key'
import type { KeyRejection, StoredHealth } from './health'

export const LIFECYCLES = ['draft', 'onboarding', 'error', 'live', 'pending_deletion', 'terminated'] as const
export type Lifecycle = (typeof LIFECYCLES)[number]

/** Who wrote a record last (docs/openapi.yaml `source`; `api` for management and onboarding writes). */
export type Source = 'webhook' | 'poll' | 'api'

/** Fields every upstream-mirrored record carries for ordering and change detection. */
export interface Versioned {
  /** Sortable version: normalized upstream modified_at plus event precedence (see ordering.ts). Never decreases. */
  orderKey: string
  /** Hash of the served content (excluding bookkeeping), to write only what changed. */
  contentHash: string
}

/** A client as stored and served (docs/openapi.yaml). */
export interface Client extends Versioned {
  clientId: string
  name: string | null
  organisation: string | null
  status: string | null
  partnerPayload: string | null
  contactEmail: string | null
  /** contact_info.phone, else contact_user.phone. */
  contactPhone: string | null
  maxChannels: number | null
  upstreamCreatedAt: string | null
  upstreamModifiedAt: string | null
  updatedAt: string
  source: Source
  /** Set when two complete reconciliation runs did not see the client. */
  missingSince: string | null
}

/** A channel as stored and served (docs/openapi.yaml). */
export interface Channel extends Versioned {
  channelId: string
  clientId: string
  phoneNumber: string | null
  displayName: string | null
  lifecycle: Lifecycle
  accountMode: string | null
  status: string | null
  availabilityStatus: string | null
  terminatedAt: string | null
  /** Upstream `hub_status` (seen in real bodies, not documented); null when not sent. */
  hubStatus: string | null
  /** Upstream `cancelled_at` (seen in real bodies, not documented); null when not sent. */
  cancelledAt: string | null
  /** Upstream `current_quality_rating` (Meta's GREEN, YELLOW, RED, UNKNOWN; NA seen too), as sent. */
  qualityRating: string | null
  /** Upstream `current_limit`, the messaging tier (e.g. TIER_1K), as sent (a number as its decimal string). */
  messagingLimit: string | null
  /** Upstream `billing_started_at`. */
  billingStartedAt: string | null
  /** Upstream `integration.state` (e.g. running, pending, terminated). */
  integrationState: string | null
  /** Upstream `waba_account.fb_business_id`: Meta's id of the business owning the WABA. */
  fbBusinessId: string | null
  partnerPayload: string | null
  /** Company name (client organisation, else client name) for the CSV export. */
  companyName: string | null
  contactEmail: string | null
  /** Upstream channel `status` (registration progress), exported as number_registration. */
  numberRegistration: string | null
  /** waba_account.fb_account_status, exported as meta_business_verification. */
  metaBusinessVerification: string | null
  /** waba_account.on_behalf_of_business_info.status, exported as message_on_behalf. */
  messageOnBehalf: string | null
  wabaAccountId: string | null
  appId: string | null
  /** 1 = Classic Signup, 2 = Embedded Signup (the default when absent). */
  version: 1 | 2
  /** A cancellation_processed event was applied: terminated whatever the dates say. Sticky. */
  cancellationProcessed: boolean
  /** Latest account_violation / account_restriction seen, if any. */
  violation: { type: string | null; restricted: boolean; at: string } | null
  templateMessaging: 'enabled' | 'disabled' | null
  /** Order keys of the latest applied violation / template-messaging notices: they order among themselves, not against upstream channel facts. */
  noticeKeys?: { violation?: string; templateMessaging?: string }
  upstreamCreatedAt: string | null
  upstreamModifiedAt: string | null
  updatedAt: string
  source: Source
  /**
   * Where the channel stands with its Messaging API key (README "Channel API keys"); absent on records
   * written before keys existed, served as `none`. Never the key itself.
   */
  keyStatus?: KeyStatus
  /** Number of consecutive complete reconciliation runs that did not see this channel. */
  absentRuns: number
  /** Set when the channel is considered gone upstream (two complete runs without it, or a lookup by id). */
  missingSince: string | null
  /**
   * Messaging health from the health job (shared/services/health/); absent until the first check.
   * Not upstream partner state: every upstream write carries it over (mapping.ts).
   */
  health?: StoredHealth | null
  /** The stored key the Messaging API refused, if any (the health job skips the channel until the key changes). Not served. */
  keyRejected?: KeyRejection | null
  /**
   * The client's legal name (`organisation`) as last applied to its client, which `GET /channels?q=`
   * searches (upstream channel bodies carry only the client's `name`). Written by the client's writes
   * (shared/services/state/legal-name.ts), never by a channel fact; absent until first known. Not served.
   */
  clientOrganisation?: ClientOrganisation
}

/**
 * A client's organisation as kept on each of its channels, with the client's order key when it was
 * written: a write carrying an older client key never replaces it (ordering.ts rules, per client).
 */
export interface ClientOrganisation {
  value: string | null
  clientOrderKey: string
}

/** Cancellation record states (docs/openapi.yaml). */
export type CancellationState = 'requested' | 'confirmed' | 'failed' | 'unknown' | 'revoked'

/** The cancellation record of one channel (docs/openapi.yaml). */
export interface CancellationRecord {
  channelId: string
  clientId: string
  state: CancellationState
  requestedBy: string
  requestedAt: string
  idempotencyKey: string
  reason: string | null
  terminatesAt: string | null
  confirmedAt: string | null
  /** Upstream HTTP status of the last call, if any. */
  upstreamStatus: number | null
  /** Upstream message of a refusal, if any. */
  upstreamMessage: string | null
  updatedAt: string
  /** Holder of the per-channel upstream call lock while an upstream call is in flight, with its expiry. */
  inFlight: { owner: string; until: string } | null
  /** Optimistic concurrency counter, incremented on every write. */
  version: number
  /** Which call left the record `unknown` (absent on records written before it existed: a request). */
  unknownCall?: 'request' | 'revoke'
  /** Who moved the record last (for its change event); absent = the management API. Not served. */
  source?: Source
}

/** One append-only audit entry. */
export interface AuditEntry {
  /** What the entry is about, e.g. `channel#Pq7Wx2CH` or `client#Kd82nQ1zCL`. */
  subject: string
  at: string
  /** Unique id (sortable with `at`). */
  id: string
  action: string
  principal: string
  idempotencyKey: string | null
  requestHash: string | null
  outcome: string
  httpStatus: number | null
  upstreamStatus: number | null
  details: Record<string, unknown> | null
}

/** A received webhook event as stored (before and after it is applied). */
export type WebhookEventStatus = 'pending' | 'applied' | 'stale' | 'rejected' | 'unknown_type'
export interface WebhookEventRecord {
  eventKey: string
  eventType: string
  /** The raw body as received (UTF-8). */
  body: string
  receivedAt: string
  status: WebhookEventStatus
  reason: string | null
  appliedAt: string | null
  /** Epoch seconds after which DynamoDB TTL may delete the record. */
  expiresAt: number
  /** How many times this event was delivered (1 + duplicates). */
  deliveries: number
}

/**
 * Warnings a reconciliation run can raise (README, Reconciliation): listed per run in `GET /status`
 * and emitted as metrics. `sort_fallback` and `partner_settings_drift` belong to features that raise
 * them; the codes are fixed here so every producer uses the same spelling.
 */
export const RUN_WARNINGS = [
  'items_key_missing',
  'total_mismatch',
  'mass_missing_halted',
  'sort_fallback',
  'quarantined_items',
  'partner_settings_drift',
] as const
export type RunWarning = (typeof RUN_WARNINGS)[number]

/** Where the full sweep a run worked on stands after the run (a sweep may span several runs). */
export interface SweepProgress {
  sweepId: string
  /** When the sweep's first run started. */
  startedAt: string
  /** Why it ran: the first run, the interval, an incremental walk that fell back, or too many changes. */
  reason: 'first' | 'interval' | 'sort_fallback' | 'window_too_large'
  /** `done`: walked end to end and missing detection ran; otherwise where the next run continues. */
  phase: 'clients' | 'channels' | 'absence' | 'marking' | 'done'
  /** Upstream offset in the phase's list where the next run continues. */
  offset: number
  /** Runs that have worked on it, this one included. */
  invocations: number
  /** Items read and written over the whole sweep so far. */
  seen: { clients: number; channels: number }
  changed: { clients: number; channels: number }
}

/** Summary of one reconciliation run (served by GET /status). */
export interface RunSummary {
  runId: string
  startedAt: string
  endedAt: string
  outcome: 'succeeded' | 'failed' | 'skipped'
  error: string | null
  /**
   * `full`: a sweep of every client and channel (then missing detection), possibly one invocation of a
   * sweep that spans several; `incremental`: only what changed since the last run's watermark.
   */
  mode: 'full' | 'incremental'
  complete: boolean
  /** Upstream list items that failed validation, kept aside (the rest of their pages applied). */
  quarantined: number
  /** Distinct warning codes, in the order first raised. */
  warnings: RunWarning[]
  pages: number
  calls: number
  retries: number
  seen: { clients: number; channels: number }
  changed: { clients: number; channels: number }
  missing: { clients: number; channels: number }
  swept: number
  confirmedCancellations: number
  /** The full sweep this run worked on (mode `full`): where it stands after the run. */
  sweep?: SweepProgress
}

/** A stored HTTP response for idempotent replay, byte for byte. */
export interface StoredResponse {
  statusCode: number
  headers: Record<string, string>
  body: string
}

/** An idempotency record (Stripe-like keys, scoped per principal and operation). */
export interface IdempotencyRecord {
  scope: string
  key: string
  requestHash: string
  state: 'in_flight' | 'completed'
  response: StoredResponse | null
  lockedUntil: string
  expiresAt: number
}

/** A change event (docs/change-events.md). */
export type ChangeDetailType =
  | 'Channel Lifecycle Changed'
  | 'Channel Discovered'
  | 'Client Discovered'
  | 'Cancellation State Changed'
  | 'Channel Quality Changed'
  | 'Channel Messaging Limit Changed'
  | 'Channel Health Changed'
export interface ChangeEvent {
  detailType: ChangeDetailType
  detail: {
    /** Deterministic: the same change always has the same id (shared/domain/change-events.ts). */
    eventId: string
    clientId: string
    channelId?: string
    from: string | null
    to: string
    source: Source
    /** When the state changed (the item's updatedAt). */
    at: string
    /** The entity's version after the change (its orderKey, or the cancellation's zero-padded version). */
    version: string
  }
}

/** One page of a list answer: opaque cursor or null at the end. */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

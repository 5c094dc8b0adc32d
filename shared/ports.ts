/**
 * The interfaces services depend on. Real implementations live in shared/adapters (DynamoDB, the
 * Partner API client, Secrets Manager, EventBridge); tests use the in-memory fakes in test/fakes.
 */

import type { ChannelKey, KeyStatus, UpstreamApiKey } from './domain/channel-key'
import type { ChannelFilter, ClientFilter } from './domain/filters'
import type {
  HealthReading,
  HealthSweepSummary,
  KeyRejection,
  MessagingApiKind,
  StoredHealth,
} from './domain/health'
import type { FactSpec } from './domain/mapping'
import type {
  PartnerSettingsCheck,
  PartnerSettingsFailure,
  PartnerSettingsRecord,
} from './domain/partner-settings'
import type { QualityRating } from './domain/signals'
import type {
  AuditEntry,
  CancellationRecord,
  ChangeEvent,
  Channel,
  Client,
  ClientOrganisation,
  IdempotencyRecord,
  Lifecycle,
  Page,
  RunSummary,
  RunWarning,
  Source,
  StoredResponse,
  SweepProgress,
  WebhookEventRecord,
  WebhookEventStatus,
} from './domain/types'
import type { UpstreamBalance, UpstreamChannel, UpstreamClient, UpstreamPartner } from './domain/upstream'

/** Time, injected so logic never calls Date.now() itself. */
export interface Clock {
  now(): Date
}

// ---------------------------------------------------------------------------------------------
// Secrets

/** Names of the secrets PartnerOps reads. */
export type SecretName = 'partnerApi' | 'platformSecret' | 'webhookToken' | 'linkSigningKey'

/**
 * Reads secrets with a finite cache age. `forceRefresh` bypasses the cache (after an upstream 401).
 * Returns null when the secret is not configured (e.g. the optional webhook token).
 */
export interface SecretSource {
  get(name: SecretName, opts?: { forceRefresh?: boolean }): Promise<string | null>
}

// ---------------------------------------------------------------------------------------------
// Partner API

/** Query of a Partner API list call (docs/partner-api-notes.md §3). */
export interface ListQuery {
  filters?: Record<string, string | number | boolean | null>
  /** Sort keys, `-` prefix for descending. */
  sort?: string[]
  limit?: number
  offset?: number
}

/**
 * A list item that failed validation: kept aside with the reason instead of sinking its page
 * (README, Reconciliation). `id` is the item's own id when it has a usable one.
 */
export interface QuarantinedItem {
  kind: 'client' | 'channel'
  id: string | null
  /** What the schema refused, e.g. `client_id: expected string`. */
  reason: string
  /** The item as received, as JSON, cut to a few kilobytes. */
  raw: string
}

/** One page of a Partner API list. */
export interface ListPage<T> {
  /** The items that passed validation, in page order. */
  items: T[]
  total: number
  offset: number
  limit: number
  /** Items of this page that failed validation (absent: none). They count for offsets. */
  quarantined?: QuarantinedItem[]
  /** The sort keys upstream says it applied (its envelope's `sort`), when it said. */
  sort?: string[]
}

/** What a complete walk saw against what upstream said it holds. */
export interface WalkTotals {
  /** The upstream `total` of the last page read. */
  total: number
  /** Distinct items walked: valid ones plus quarantined ones. */
  walked: number
}

/** Where one page of a walk sits in its list. */
export interface PagePosition {
  /** The offset the page was asked for. */
  offset: number
  /** Items it held (valid and quarantined): the next page starts at offset + received. */
  received: number
  total: number
}

/** Options of a whole-list walk. */
export interface IterateOptions extends Omit<ListQuery, 'offset'> {
  /** Pages fetched at once after the first page told the total (default 4). */
  concurrency?: number
  /** Stop (with an error) when the walk would exceed this time budget, in ms. */
  budgetMs?: number
  signal?: AbortSignal
  /** Told about every item a page held that failed validation (the page's valid items are yielded). */
  onQuarantined?: (items: QuarantinedItem[]) => void
  /** Told, once a walk completes, how many items it walked against the upstream `total`. */
  onComplete?: (totals: WalkTotals) => void
  /** Offset of the first page: a walk resumed where an earlier invocation stopped (default 0). */
  startOffset?: number
  /**
   * Told about every page read, before its items are yielded: once the consumer has handled the items
   * yielded after this call, the walk can resume at `offset + received`.
   */
  onPage?: (page: PagePosition) => void
}

/** Counters of upstream work, for run summaries and benchmarks. */
export interface PartnerApiStats {
  calls: number
  retries: number
}

/** Typed access to the 360dialog Partner API v2 for one partner. */
export interface PartnerApi {
  getPartner(): Promise<UpstreamPartner>
  patchPartner(patch: { webhook_url?: string; partner_redirect_url?: string }): Promise<UpstreamPartner>
  getWebhookUrl(): Promise<string | null>
  setWebhookUrl(url: string, headers?: Record<string, string>): Promise<void>
  listClients(query?: ListQuery): Promise<ListPage<UpstreamClient>>
  /** All clients, page by page (arrays in page order); correct when the server returns short pages. */
  iterateClients(opts?: IterateOptions): AsyncIterable<UpstreamClient[]>
  patchClient(
    clientId: string,
    patch: { max_channels?: number; partner_payload?: string },
  ): Promise<UpstreamClient>
  /**
   * The client's balance (`…/clients/{id}/info/balance`), validated. One attempt only, never retried
   * here: the endpoint allows 5 calls per 30 s, and the caller's cache decides when to call again.
   */
  getClientBalance(clientId: string, query?: Record<string, string | number>): Promise<UpstreamBalance>
  listChannels(query?: ListQuery): Promise<ListPage<UpstreamChannel>>
  iterateChannels(opts?: IterateOptions): AsyncIterable<UpstreamChannel[]>
  /** One channel by id through the list filter (single GETs are not documented), or null. */
  findChannel(channelId: string): Promise<UpstreamChannel | null>
  /** One client by id through the list filter, or null. */
  findClient(clientId: string): Promise<UpstreamClient | null>
  /** Client-scoped cancellation request `{"enabled": true}`. Never retried on an ambiguous outcome. */
  requestCancellation(clientId: string, channelId: string): Promise<UpstreamChannel>
  /** Revoke a pending cancellation `{"enabled": false}`. Never retried on an ambiguous outcome. */
  revokeCancellation(clientId: string, channelId: string): Promise<UpstreamChannel>
  /**
   * Creates the channel's Messaging API key (201); upstream revokes the channel's earlier keys. A
   * refusal for lack of permission is a non-retryable UpstreamError (403).
   */
  createChannelApiKey(channelId: string): Promise<UpstreamApiKey>
  /** The channel's current keys. */
  listChannelApiKeys(channelId: string): Promise<UpstreamApiKey[]>
  /** Revokes the channel's keys upstream. */
  deleteChannelApiKeys(channelId: string): Promise<void>
  stats(): PartnerApiStats
}

// ---------------------------------------------------------------------------------------------
// State store (DynamoDB). Single-item conditional writes only (no transactions).

/** What a guarded write did: written, or refused because stored state is newer or equal. */
export type GuardedWrite = 'written' | 'stale'

/**
 * What a fact write did: written (`previous` = the item before, `record` = the item now), or refused
 * (`current` = the stored item that refused it: newer, equal, or holding a sticky flag the fact lacks).
 */
export type FactWrite<T> =
  | { outcome: 'written'; previous: T | null; record: T }
  | { outcome: 'refused'; current: T | null }

/** Digest of a stored item: just what reconciliation needs to compare. */
export interface Digest {
  id: string
  orderKey: string
  contentHash: string
  absentRuns: number
  missingSince: string | null
}

/**
 * Where one page of a Scan of stored digests starts: segment `segment` of `segments` (DynamoDB's
 * parallel scan: the segments split the table between them, each read page by page), from `start`
 * (null: the segment's beginning; otherwise a `next` an earlier page answered). Positions are opaque
 * strings, so missing detection can save them between invocations (README, Reconciliation).
 */
export interface DigestScan {
  segment: number
  segments: number
  start: string | null
  /** At most this many items in the page (default: DynamoDB's 1 MB page). */
  limit?: number
}

/** A page of stored digests (possibly empty) and where the segment continues; `next` null: done. */
export interface DigestPage {
  items: Digest[]
  next: string | null
}

/** Clients, keyed by clientId. */
export interface ClientRepository {
  get(clientId: string): Promise<Client | null>
  /**
   * Writes when the stored orderKey is lower (or equal with a different hash) or nothing is stored.
   * With `readHash`, also only when the stored content is still what the caller read (null: nothing
   * was stored), so a concurrent write in between is never lost (compare-and-set).
   */
  putIfNewer(client: Client, readHash?: string | null): Promise<GuardedWrite>
  /** Writes only when the stored orderKey equals `expectedOrderKey` (null = must not exist). */
  putIfVersion(client: Client, expectedOrderKey: string | null): Promise<GuardedWrite>
  /**
   * Writes one upstream fact without reading first: one conditional write, accepted when nothing is
   * stored or the fact is newer by the rule of putIfNewer (and no `sticky` flag is stored set that
   * the fact derives unset); `carried` fields the fact has no value for keep their stored value.
   */
  writeFact(client: Client, spec: FactSpec): Promise<FactWrite<Client>>
  /** One page of clients matching every given filter (shared/domain/filters.ts). */
  list(query: ClientFilter & { limit: number; cursor?: string }): Promise<Page<Client>>
  /** One page of a (parallel) Scan of every stored client's digest (see {@link DigestScan}). */
  scanDigests(q: DigestScan): Promise<DigestPage>
  /** The digests of these clients that are stored (any order; unknown ids left out). */
  digestsOf(clientIds: readonly string[]): Promise<Digest[]>
}

/** Channels, keyed by channelId, with lookups by client, lifecycle and phone number. */
export interface ChannelRepository {
  get(channelId: string): Promise<Channel | null>
  /** As ClientRepository.putIfNewer. */
  putIfNewer(channel: Channel, readHash?: string | null): Promise<GuardedWrite>
  putIfVersion(channel: Channel, expectedOrderKey: string | null): Promise<GuardedWrite>
  /** As ClientRepository.writeFact. */
  writeFact(channel: Channel, spec: FactSpec): Promise<FactWrite<Channel>>
  /** One page of channels matching every given filter (shared/domain/filters.ts). */
  list(query: ChannelFilter & { limit: number; cursor?: string }): Promise<Page<Channel>>
  listByClient(clientId: string): Promise<Channel[]>
  /** Ids of ready channels without a key (channel-key.ts `needsKey`), page by page (a sparse index). */
  keyNeededIds(): AsyncIterable<string[]>
  findByPhoneNumber(phoneNumber: string): Promise<Channel[]>
  countByLifecycle(): Promise<Record<Lifecycle, number>>
  /** Rated channels per quality bucket (shared/domain/signals.ts qualityBucket); unrated ones are in none. */
  countByQuality(): Promise<Record<QualityRating, number>>
  /** Every stored channel, page by page (export). */
  scan(pageSize?: number): AsyncIterable<Channel[]>
  /** As ClientRepository.scanDigests. */
  scanDigests(q: DigestScan): Promise<DigestPage>
  /** The digests of these channels that are stored (any order; unknown ids left out). */
  digestsOf(channelIds: readonly string[]): Promise<Digest[]>
  /**
   * Sets only the channel's `health` (and, when given, `updatedAt` and `source`, for the change event)
   * while the channel is still live; 'stale' when it is gone or no longer live. Order key and content
   * hash are untouched: health is not upstream state (shared/domain/health.ts).
   */
  setHealth(
    channelId: string,
    health: StoredHealth,
    touch?: { updatedAt: string; source: Source },
  ): Promise<GuardedWrite>
  /**
   * Records that the Messaging API refused the channel's stored key (`key`: the key's identity, never
   * its value), while the channel is live; the health job checks the channel again only with another key.
   */
  setKeyRejected(channelId: string, rejection: KeyRejection): Promise<GuardedWrite>
  /**
   * Sets only the channel's `keyStatus` (and its entry in the sparse key-needed index) while its
   * content hash is still `readHash`; 'stale' otherwise. Order key and content hash are untouched:
   * keyStatus is not upstream state, so a reconciliation run never sees it as a change.
   */
  setKeyStatus(
    channelId: string,
    update: { keyStatus: KeyStatus; keyNeeded: boolean },
    readHash: string,
  ): Promise<GuardedWrite>
  /**
   * Sets only the channel's copy of its client's legal name (`clientOrganisation`, which `q` searches)
   * while the channel belongs to `clientId` and holds no copy from a later client write (a larger
   * `clientOrderKey`); 'stale' otherwise. Order key and content hash are untouched: it is the
   * client's state, not the channel's.
   */
  setClientOrganisation(
    channelId: string,
    clientId: string,
    organisation: ClientOrganisation,
  ): Promise<GuardedWrite>
  /** Updates only the absence bookkeeping (absentRuns, missingSince) when orderKey still matches. */
  markAbsence(
    channelId: string,
    expectedOrderKey: string,
    absentRuns: number,
    missingSince: string | null,
  ): Promise<GuardedWrite>
}

/** What storing a received webhook event did: created, or a duplicate of the event stored as `existing`. */
export type PutNewResult = { outcome: 'created' } | { outcome: 'duplicate'; existing: WebhookEventRecord }

/** Received webhook events (durable first, applied after). */
export interface WebhookEventRepository {
  /**
   * Conditional create. A duplicate (the key exists) has its delivery count incremented, and the
   * stored event comes back from that same write (as it is after the increment), so a redelivery
   * needs no read.
   */
  putNew(record: WebhookEventRecord): Promise<PutNewResult>
  get(eventKey: string): Promise<WebhookEventRecord | null>
  /**
   * Records an event's outcome and takes it out of the pending index. With `onlyIfPending`, only
   * while the event is still pending: false when someone else completed it first (or it is gone), so
   * each event is completed, and counted, once. Without it, whatever its status (replay); false only
   * when the event is gone.
   */
  markOutcome(
    eventKey: string,
    status: Exclude<WebhookEventStatus, 'pending'>,
    reason: string | null,
    at: string,
    opts?: { onlyIfPending?: boolean },
  ): Promise<boolean>
  /** Events still pending that were received before `before` (the sweep). */
  listPending(before: string, limit: number): Promise<WebhookEventRecord[]>
  /** How many events are still pending that were received before `before`, counting at most `cap`. */
  countPending(before: string, cap: number): Promise<number>
  /** Events received at or after `since` (replay), page by page, in storage order (not by time). */
  listSince(since: string): AsyncIterable<WebhookEventRecord[]>
}

/** Cancellation records, one per channel, with optimistic concurrency on `version`. */
export interface CancellationRepository {
  get(channelId: string): Promise<CancellationRecord | null>
  /** Writes when the stored version equals `expectedVersion` (null = must not exist); false otherwise. */
  put(record: CancellationRecord, expectedVersion: number | null): Promise<boolean>
}

/** Append-only audit trail. */
export interface AuditRepository {
  append(entry: AuditEntry): Promise<void>
  list(subject: string, limit: number, cursor?: string): Promise<Page<AuditEntry>>
}

/** Idempotency keys for management writes. */
export interface IdempotencyRepository {
  /** Creates an in_flight record, or returns the existing one (also when its lock expired: `expired`). */
  begin(
    record: IdempotencyRecord,
  ): Promise<{ created: true } | { created: false; existing: IdempotencyRecord }>
  /** Takes over an in_flight record whose lock expired (conditional on the old lock). */
  takeOver(record: IdempotencyRecord, previousLockedUntil: string): Promise<boolean>
  complete(scope: string, key: string, response: StoredResponse): Promise<void>
  /** Deletes an in_flight record after a failure we caused before anything happened upstream. */
  release(scope: string, key: string): Promise<void>
}

/** A quarantined upstream list item as kept for an operator (`GET /status`, README Reconciliation). */
export interface QuarantineRecord extends QuarantinedItem {
  /** The item's id, or `sha256:` and a hash of `raw` when it has none: one record per kind and key. */
  key: string
  /** The run that last saw it. */
  runId: string
  firstSeenAt: string
  lastSeenAt: string
}

/** Which list a sweep walks. */
export type SweepKind = 'clients' | 'channels'

/**
 * Where a full sweep that spans several invocations stands (README, Reconciliation): saved under the
 * poll lease after every few pages, so the next invocation continues where this one stopped.
 */
export interface SweepCheckpoint {
  sweepId: string
  /** When the sweep's first invocation started (the next watermark: nothing older is left unread). */
  startedAt: string
  reason: SweepProgress['reason']
  /** `marking`: missing detection had begun; a sweep resumed there marks nothing more (README). */
  phase: SweepKind | 'absence' | 'marking'
  /** Upstream offset in the phase's list (sorted by created_at, id) where the walk continues. */
  offset: number
  invocations: number
  /** Chunks of seen-id hashes saved so far, per list. */
  chunks: Record<SweepKind, number>
  /** What the sweep did so far, across its invocations. */
  pages: number
  calls: number
  seen: Record<SweepKind, number>
  changed: Record<SweepKind, number>
  quarantined: number
  /** Distinct items walked (valid and quarantined) and the last upstream total, per list. */
  walked: Record<SweepKind, number>
  /** Quarantined items without an id: their list proves no absence in this sweep. */
  unnamedQuarantined: Record<SweepKind, number>
  warnings: RunWarning[]
  updatedAt: string
  /** Missing detection's progress (phases `absence` and `marking`); absent before it begins. */
  absence?: AbsenceProgress
}

/**
 * Where missing detection stands: a Scan of the stored digests (clients, then channels) in parallel
 * segments, each at its saved position; then the marking of the absent items it found, which are kept
 * in chunks in the ops table with the digest they had when scanned.
 */
export interface AbsenceProgress {
  /** The list being scanned. */
  kind: SweepKind
  /** Per segment of that list's Scan: where it continues (null: its beginning), and whether it is done. */
  segments: { start: string | null; done: boolean }[]
  /** Stored items scanned, and of those the ones the sweep did not see (absent), per list. */
  scanned: Record<SweepKind, number>
  absent: Record<SweepKind, number>
  /** Absent items kept for marking (at most a bound per list), and the chunks they are saved in. */
  kept: Record<SweepKind, number>
  keptChunks: Record<SweepKind, number>
  /** Scan requests made so far (pages), over all invocations. */
  pages: number
  /** Set once the scan completed: too many absent, so nothing is marked (`mass_missing_halted`). */
  halted: boolean
  /** Marking: the time written as `missingSince` (the same on a resumed run), and items handled so far. */
  markedAt: string | null
  marked: number
}

/** Reconciliation's memory between runs: one item in the ops table, written with compare-and-set. */
export interface ReconcileState {
  /** Bumped by every save; a save expecting another version writes nothing. */
  version: number
  /** The next incremental run reads what changed at or after this time less the safety overlap. */
  watermark: string | null
  /** The last full sweep that completed end to end. */
  lastFullSweep: { sweepId: string; startedAt: string; completedAt: string } | null
  /** The full sweep in progress, or null. */
  sweep: SweepCheckpoint | null
}

/** Operational records: the poll lease, run summaries, counters, rate budgets. */
export interface OpsRepository {
  /** Reconciliation's state between runs (null before the first save). */
  getReconcileState(): Promise<ReconcileState | null>
  /**
   * Saves it when the stored version is `expectedVersion` (null: nothing stored yet); false otherwise.
   * Only the holder of the poll lease calls this; the version keeps a former holder from overwriting.
   */
  saveReconcileState(state: ReconcileState, expectedVersion: number | null): Promise<boolean>
  /**
   * Keeps one chunk of a sweep's seen-id hashes (`expiresAt` epoch seconds, DynamoDB TTL). Missing
   * detection keeps the absent items it found the same way, under `<sweepId>/absent`.
   */
  saveSeenChunk(
    sweepId: string,
    kind: SweepKind,
    index: number,
    hashes: Uint8Array,
    expiresAt: number,
  ): Promise<void>
  /** Every chunk saved for the sweep and list, in no particular order. */
  seenChunks(sweepId: string, kind: SweepKind): AsyncIterable<Uint8Array>
  /** Acquires the named lease when free or expired; false when someone else holds it. */
  acquireLease(name: string, owner: string, now: Date, ttlMs: number): Promise<boolean>
  releaseLease(name: string, owner: string): Promise<void>
  saveRunSummary(summary: RunSummary): Promise<void>
  /** The last run and the last successful run. */
  getRunSummaries(): Promise<{ last: RunSummary | null; lastSuccess: RunSummary | null }>
  /** Atomically adds to named counters (ADD). */
  incrementCounters(name: string, deltas: Record<string, number>): Promise<void>
  getCounters(name: string): Promise<Record<string, number>>
  /**
   * Consumes one unit of a fixed-window budget (windows aligned to multiples of `windowMs` since the
   * epoch); returns whether it was allowed, and if not, the seconds until the window ends.
   */
  consumeBudget(
    key: string,
    now: Date,
    windowMs: number,
    limit: number,
  ): Promise<{ allowed: boolean; retryAfterSeconds: number }>
  /**
   * Keeps a quarantined item (one record per kind and key: a repeat refreshes `lastSeenAt`, `runId`,
   * reason and expiry and keeps `firstSeenAt`). `expiresAt` is epoch seconds (DynamoDB TTL).
   */
  saveQuarantined(record: QuarantineRecord, expiresAt: number): Promise<void>
  /** Quarantined items not yet expired at `now`, at most `cap` of them, in no particular order. */
  listQuarantined(now: Date, cap: number): Promise<QuarantineRecord[]>
  /**
   * Binds `key` (in namespace `name`) to `value` on first use with one conditional write. True when the
   * key is bound to `value` (now or before), false when it is bound to another value.
   */
  bindOnce(name: string, key: string, value: string, expiresAt: number): Promise<boolean>
  /** Records that the change-event publisher published `events` events up to a change made at `changeAt`. */
  markChangesPublished(mark: { changeAt: string; publishedAt: string; events: number }): Promise<void>
  /** The last mark of the change-event publisher, or null before its first publish. */
  getChangesPublished(): Promise<ChangeFeedMark | null>
  /**
   * Saves a health sweep's summary as the last one; one that checked channels (any outcome but
   * `skipped`, `running` included) is also kept as the last run, whose start paces the next sweep.
   */
  saveHealthSweep(summary: HealthSweepSummary): Promise<void>
  /** The last health sweep and the last one that ran (null before the first). */
  getHealthSweeps(): Promise<{ last: HealthSweepSummary | null; lastRun: HealthSweepSummary | null }>
  /** The call slot `name`/`key` (strongly consistent read), or null when none was ever taken. */
  getCallSlot(name: string, key: string): Promise<CallSlot | null>
  /**
   * Takes the slot for `owner` with one conditional write, only when nobody holds it or its
   * `nextCallAt` has passed at `now`; the slot is then `pending` until `nextCallAt`. False when taken.
   */
  takeCallSlot(name: string, key: string, owner: string, now: Date, nextCallAt: number): Promise<boolean>
  /** Records the outcome of the slot's call, only while `owner` still holds it; false otherwise. */
  settleCallSlot(
    name: string,
    key: string,
    owner: string,
    settled: { state: 'ok' | 'error'; outcome: string; nextCallAt: number },
  ): Promise<boolean>
  /** Keeps the latest successful partner settings check (and clears the failure noted since the last). */
  savePartnerSettingsCheck(check: PartnerSettingsCheck): Promise<void>
  /** Notes a failed partner settings check beside the last successful one. */
  savePartnerSettingsFailure(failure: PartnerSettingsFailure): Promise<void>
  getPartnerSettings(): Promise<PartnerSettingsRecord>
}

/**
 * One upstream call per key and window, shared by every instance (the balance cache): whoever takes
 * the slot makes the call and stores its outcome; everyone else reads that outcome until `nextCallAt`.
 */
export interface CallSlot {
  owner: string
  /** When the slot was taken (epoch ms). */
  takenAt: number
  /** No new upstream call before this (epoch ms). */
  nextCallAt: number
  /** `pending` while its call is in flight. */
  state: 'pending' | 'ok' | 'error'
  /** The outcome as JSON (a value or an error), null while pending. */
  outcome: string | null
}

/** Progress of the change-event publisher (GET /status). */
export interface ChangeFeedMark {
  /** When the newest change of the last published batch was written. */
  changeAt: string
  /** When that batch was published. */
  publishedAt: string
  /** Events published since the first mark. */
  published: number
}

/** Everything the store offers, one repository per concern. */
export interface StateStore {
  clients: ClientRepository
  channels: ChannelRepository
  events: WebhookEventRepository
  cancellations: CancellationRepository
  audit: AuditRepository
  idempotency: IdempotencyRepository
  ops: OpsRepository
}

// ---------------------------------------------------------------------------------------------
// Channel API keys

/**
 * The encrypted store of channel Messaging API keys (README "Channel API keys"): one key per channel,
 * encrypted at rest (KMS in AWS), readable only by the functions granted to read it. The value never
 * leaves through logs, events, exports or errors. Its implementation never logs a value either.
 */
export interface ChannelKeyStore {
  /** The stored key value of a channel, or null when none is stored. */
  get(channelId: string): Promise<string | null>
  /** The stored key with its metadata, or null. */
  read(channelId: string): Promise<ChannelKey | null>
  /** Whether a key is stored, without decrypting it. */
  has(channelId: string): Promise<boolean>
  /** Stores (replaces) a channel's key. */
  put(channelId: string, key: ChannelKey): Promise<void>
  /** Deletes a channel's key (nothing stored is fine). */
  delete(channelId: string): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Change events

/** What a publish achieved: events are sent in order, and `published` leading ones are known accepted. */
export interface PublishOutcome {
  /** How many events, from the first, were accepted (all of them on success). */
  published: number
  /** Why the event at index `published` was not, when one was not. */
  error?: unknown
}

/**
 * Publishes change events (docs/change-events.md) in order (EventBridge in AWS, a JSON-lines file
 * locally). It never throws for a refused or failed publish: it answers how far it got, so the caller
 * can retry from the first event that was not accepted.
 */
export interface EventSink {
  publish(events: ChangeEvent[]): Promise<PublishOutcome>
}

/** The on-failure queue of the change-event publisher: how many batches wait for a redrive. */
export interface FailureQueue {
  /** Messages waiting (SQS ApproximateNumberOfMessages; locally the held batches); null = no queue. */
  depth(): Promise<number | null>
}

// ---------------------------------------------------------------------------------------------
// Messaging API (health checks)

/** Where and with which key one channel's Messaging API is reached. Never logged. */
export interface MessagingTarget {
  /** The channel's `D360-API-KEY`. */
  apiKey: string
  /** Which stored key this is (its upstream id and creation time, never the value): a refusal names it. */
  keyRef?: string
  /** The API's base address, e.g. https://waba-v2.360dialog.io (Cloud) or https://waba.360dialog.io. */
  address: string
  kind: MessagingApiKind
}

/** Counters of messaging work, for sweep summaries and benchmarks. */
export interface MessagingApiStats {
  calls: number
  retries: number
  /** Requests in flight now, and the most ever at once (the concurrency bound at work). */
  inFlight: number
  maxInFlight: number
}

/**
 * The 360dialog Messaging API's health reads for one channel key. A refused key (401) is an
 * UpstreamError with `upstreamStatus` 401 and code `upstream_unauthorized`, never retried.
 */
export interface MessagingApi {
  /** Cloud `GET /health_status` or on-premise `GET /v1/health`, by the target's kind. */
  health(target: MessagingTarget): Promise<HealthReading>
  /** `GET /v1/configs/phone_number`: the digits of the number the key sends from, or null if unnamed. */
  phoneNumber(target: MessagingTarget): Promise<string | null>
  stats(): MessagingApiStats
}

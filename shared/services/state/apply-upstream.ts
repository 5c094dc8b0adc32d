import { confirmed, revoked } from '../../domain/cancellation'
import {
  CHANNEL_FACT_SPEC,
  CLIENT_FACT_SPEC,
  channelFromUpstream,
  clientFromUpstream,
  type FactSpec,
  rehash,
} from '../../domain/mapping'
import { isNewer } from '../../domain/ordering'
import type { CancellationRecord, CancellationState, Channel, Client, Source } from '../../domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../domain/upstream'
import type { Clock, FactWrite, GuardedWrite, StateStore } from '../../ports'
import { fillLegalName, propagateLegalName, withNoCopyYet } from './legal-name'

/** What applying upstream state needs. */
export interface ApplyDeps {
  store: StateStore
  clock: Clock
  /**
   * Told about each applied channel permission event (the webhook applier provisions or deletes the
   * channel's API key after its batch: shared/services/channel-keys/key-triggers.ts).
   */
  onKeyPermission?: (change: { channelId: string; granted: boolean }) => void
}

/** How an upstream fact reached us and how it orders against stored state. */
export interface ApplyOptions<T> {
  source: Source
  /** The webhook event name, or 'snapshot' for a full read from the Partner API. */
  kind: string
  /** The webhook envelope `timestamp`: the ordering time when the object has no modified_at. */
  envelopeTime?: string | null
  /**
   * When the fact reached us: a webhook's storage time, a poll page's fetch time (default: now). Orders
   * an undated fact and caps a future-dated one (shared/domain/ordering.ts, orderingTime).
   */
  receivedAt?: string | Date
  /** The stored record when the caller already read it (undefined = read it here). */
  stored?: T | null
  /** A domain change on top of the mapped record (e.g. a flag set by an event). */
  mutate?: (record: T) => T
  /**
   * Leave the channel's cancellation record alone: the caller holds its upstream-call lock and writes
   * it itself right after (the cancellation request, with the call's answer). Channels only.
   */
  ownsCancellation?: boolean
  /**
   * Write without reading first when the caller does not pass `stored` (and no `mutate`): one
   * conditional write per fact (the store's writeFact), guarded by the ordering rule itself. Used by
   * the webhook applier.
   */
  withoutRead?: boolean
}

/**
 * Outcome of one apply: written, unchanged (same content), or stale (stored state is newer). An
 * unchanged fact that orders after the stored one still advances the stored orderKey (one write, no
 * events), or an older fact arriving later would look newer than what is stored.
 */
export interface ApplyResult<T> {
  outcome: 'written' | 'unchanged' | 'stale'
  record: T
  /** The state this write moved the channel's cancellation record to (confirmed, revoked), if it did. */
  cancellation: CancellationState | null
}

/**
 * Applies one upstream channel (webhook data, poll item, callback read) to stored state: derives the
 * lifecycle, writes only when the content changed and the fact is not older than what is stored
 * (conditional write, so a concurrent newer write always wins), confirms or revokes the channel's
 * cancellation record. Change events are not published here: the publisher derives them from the
 * write itself (the tables' streams, shared/services/events/publish-changes.ts).
 */
export async function applyChannel(
  deps: ApplyDeps,
  up: UpstreamChannel,
  opts: ApplyOptions<Channel>,
): Promise<ApplyResult<Channel>> {
  const now = deps.clock.now()
  const build = (stored: Channel | null): Channel => {
    const next = channelFromUpstream(up, {
      now,
      source: opts.source,
      kind: opts.kind,
      envelopeTime: opts.envelopeTime ?? null,
      receivedAt: opts.receivedAt ?? now,
      previous: stored,
    })
    return opts.mutate ? rehash(opts.mutate(next)) : next
  }
  // A fact written without a read sets NO_COPY_YET where the channel has no legal-name copy yet.
  const w =
    opts.withoutRead && opts.stored === undefined && !opts.mutate
      ? await factWrite(deps.store.channels, up.id, withNoCopyYet(build(null)), build, CHANNEL_FACT_SPEC)
      : await guardedWrite(deps.store.channels, up.id, opts.stored, build)
  // The client's legal name, which `q` searches, is kept on the channel (legal-name.ts): looked up
  // after any write that left the item without a copy from before (an unchanged fact that only
  // advanced the order key may still have set NO_COPY_YET on an item stored before the copy existed).
  // The same fact again (a retry after a failure, possibly of this very lookup) looks up again while
  // the channel has no copy from a client write: the write that set NO_COPY_YET may not have got to it.
  if (w.outcome === 'written' || w.factOver !== undefined || w.sameFact) {
    const lookedUp = !w.sameFact && w.factOver?.clientOrganisation !== undefined
    await fillLegalName(deps.store, w.record, lookedUp)
  }
  if (w.outcome !== 'written') return { outcome: w.outcome, record: w.record, cancellation: null }
  if (opts.ownsCancellation) return { outcome: w.outcome, record: w.record, cancellation: null }
  const cancellation = await syncCancellation(deps, w.record, opts.kind, opts.source, now.toISOString())
  return { outcome: 'written', record: w.record, cancellation }
}

/** Applies one upstream client to stored state (the publisher makes `Client Discovered` of its first write). */
export async function applyClient(
  deps: ApplyDeps,
  up: UpstreamClient,
  opts: ApplyOptions<Client>,
): Promise<ApplyResult<Client>> {
  const now = deps.clock.now()
  const build = (stored: Client | null): Client => {
    const next = clientFromUpstream(up, {
      now,
      source: opts.source,
      kind: opts.kind,
      envelopeTime: opts.envelopeTime ?? null,
      receivedAt: opts.receivedAt ?? now,
      previous: stored,
    })
    return opts.mutate ? rehash(opts.mutate(next)) : next
  }
  const w =
    opts.withoutRead && opts.stored === undefined && !opts.mutate
      ? await factWrite(deps.store.clients, up.id, build(null), build, CLIENT_FACT_SPEC)
      : await guardedWrite(deps.store.clients, up.id, opts.stored, build)
  // A changed legal name goes to the client's channels, which `q` searches (legal-name.ts).
  if (w.outcome === 'written') await propagateLegalName(deps.store, w.record, w.stored)
  return { outcome: w.outcome, record: w.record, cancellation: null }
}

/** Attempts of a compare-and-set write before a record that keeps changing under us counts as stale. */
const CAS_ATTEMPTS = 4

/**
 * `factOver`: the item a fact's UpdateItem (writeFact) wrote over (null: it created the item), set
 * only when that write was accepted; fields it leaves as stored (FactSpec) are as in that item.
 * `sameFact`: the fact was refused because the stored item holds it already (same order key and
 * content): a redelivery, or a retry after a failure that came after its write.
 */
type GuardedOutcome<T> =
  | { outcome: 'written'; record: T; stored: T | null; factOver?: T | null; sameFact?: boolean }
  | { outcome: 'unchanged' | 'stale'; record: T; factOver?: T | null; sameFact?: boolean }

/**
 * The one guarded write behind applyChannel and applyClient: builds the next record from what is
 * stored, skips it when the content is unchanged (still advancing a later order key) or older, and
 * writes with compare-and-set on the content it read, so a concurrent write in between (a webhook
 * notice during a poll, say) is re-read and merged instead of overwritten.
 */
async function guardedWrite<T extends { orderKey: string; contentHash: string }>(
  repo: {
    get(id: string): Promise<T | null>
    putIfNewer(record: T, readHash?: string | null): Promise<GuardedWrite>
  },
  id: string,
  known: T | null | undefined,
  build: (stored: T | null) => T,
): Promise<GuardedOutcome<T>> {
  let stored = known !== undefined ? known : await repo.get(id)
  for (let attempt = 1; ; attempt++) {
    const next = build(stored)
    const readHash = stored?.contentHash ?? null
    if (stored && stored.contentHash === next.contentHash) {
      if (next.orderKey > stored.orderKey)
        await repo.putIfNewer({ ...stored, orderKey: next.orderKey }, readHash)
      return { outcome: 'unchanged', record: stored }
    }
    if (!isNewer(next, stored)) return { outcome: 'stale', record: stored ?? next }
    if ((await repo.putIfNewer(next, readHash)) === 'written')
      return { outcome: 'written', record: next, stored }
    if (attempt >= CAS_ATTEMPTS) return { outcome: 'stale', record: stored ?? next }
    stored = await repo.get(id)
  }
}

/**
 * One upstream fact in one conditional write, without reading first: the record mapped without the
 * stored one, written when the ordering rule (isNewer) accepts it, carried fields left as stored
 * (FactSpec). A refusal returns the stored item with it (DynamoDB's ReturnValuesOnConditionCheckFailure),
 * so the outcome costs no read: stale (or unchanged) by the same rule the condition applied, and
 * only a fact refused by a sticky flag (a processed cancellation) is merged with what is stored and
 * written with compare-and-set, as guardedWrite does.
 */
async function factWrite<T extends { orderKey: string; contentHash: string }>(
  repo: {
    get(id: string): Promise<T | null>
    putIfNewer(record: T, readHash?: string | null): Promise<GuardedWrite>
    writeFact(record: T, spec: FactSpec): Promise<FactWrite<T>>
  },
  id: string,
  /** The fact mapped without the stored record (build(null), plus any FactSpec `initial` default). */
  next: T,
  build: (stored: T | null) => T,
  spec: FactSpec,
): Promise<GuardedOutcome<T>> {
  const w = await repo.writeFact(next, spec)
  if (w.outcome === 'written') {
    const same = w.previous !== null && w.previous.contentHash === next.contentHash
    return same
      ? { outcome: 'unchanged', record: w.record, factOver: w.previous }
      : { outcome: 'written', record: w.record, stored: w.previous, factOver: w.previous }
  }
  const current = w.current
  if (current !== null && !isNewer(next, current)) {
    const same = current.contentHash === next.contentHash
    return {
      outcome: same ? 'unchanged' : 'stale',
      record: current,
      sameFact: same && current.orderKey === next.orderKey,
    }
  }
  return guardedWrite(repo, id, current, build)
}

const CONFIRMABLE: ReadonlySet<CancellationRecord['state']> = new Set(['requested', 'unknown'])

/**
 * Keeps the cancellation record in step with upstream: `terminated_at` appearing confirms a requested
 * (or unknown) record; a `cancellation_revoke` event revokes a pending one. Optimistic concurrency on
 * the record's version: a lost race means someone else moved it, which is fine.
 */
async function syncCancellation(
  deps: ApplyDeps,
  channel: Channel,
  kind: string,
  source: Source,
  at: string,
): Promise<CancellationState | null> {
  // Nothing below can change without terminated_at or a revoke: skip the read (one per poll write).
  if (!channel.terminatedAt && kind !== 'cancellation_revoke') return null
  const record = await deps.store.cancellations.get(channel.channelId)
  if (!record) return null
  let next: CancellationRecord | null = null
  if (channel.terminatedAt && CONFIRMABLE.has(record.state)) {
    next = confirmed(record, channel.terminatedAt, at)
  } else if (
    kind === 'cancellation_revoke' &&
    !channel.terminatedAt &&
    record.state !== 'revoked' &&
    record.state !== 'failed'
  ) {
    next = { ...revoked(record, null, at), terminatesAt: record.terminatesAt }
  }
  if (!next) return null
  // `source` tells the change event who moved the record (the webhook or poll that saw it upstream).
  const written = await deps.store.cancellations.put(
    { ...next, source, updatedAt: at, inFlight: null, version: record.version + 1 },
    record.version,
  )
  return written ? next.state : null
}

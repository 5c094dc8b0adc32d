import { createHmac } from 'node:crypto'
import type { ChangeTable, ItemChange } from '../../shared/domain/change-events'
import { needsKey } from '../../shared/domain/channel-key'
import { ValidationError } from '../../shared/domain/errors'
import { channelMatches, clientMatches, phoneDigits } from '../../shared/domain/filters'
import type { HealthSweepSummary } from '../../shared/domain/health'
import type { FactSpec } from '../../shared/domain/mapping'
import { isNewer } from '../../shared/domain/ordering'
import type { PartnerSettingsRecord } from '../../shared/domain/partner-settings'
import { QUALITY_RATINGS, type QualityRating, qualityBucket } from '../../shared/domain/signals'
import type {
  AuditEntry,
  CancellationRecord,
  Channel,
  Client,
  IdempotencyRecord,
  Lifecycle,
  Page,
  RunSummary,
  StoredResponse,
  WebhookEventRecord,
} from '../../shared/domain/types'
import { LIFECYCLES } from '../../shared/domain/types'
import type {
  CallSlot,
  ChangeFeedMark,
  Digest,
  DigestPage,
  DigestScan,
  FactWrite,
  GuardedWrite,
  QuarantineRecord,
  ReconcileState,
  StateStore,
} from '../../shared/ports'

/** Counts of store calls, so tests can assert "zero writes" and the like. */
export interface MemoryStoreStats {
  reads: number
  writes: number
}

const clone = <T>(v: T): T => structuredClone(v)

const CURSOR_KEY = 'memory-store-cursor'
const cursorMac = (payload: string): string =>
  createHmac('sha256', CURSOR_KEY).update(payload).digest('base64url')

// Cursors are bound to their query (`scope`) and signed, like the DynamoDB adapter's.
function paginate<T>(
  scope: string,
  items: T[],
  idOf: (t: T) => string,
  limit: number,
  cursor?: string,
): Page<T> {
  let start = 0
  if (cursor !== undefined) {
    const [payload, mac, ...rest] = cursor.split('.')
    let after: unknown
    try {
      if (!payload || !mac || rest.length > 0 || cursorMac(payload) !== mac) throw new Error('bad cursor')
      after = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      throw new ValidationError('Invalid cursor', { code: 'invalid_cursor' })
    }
    if (!Array.isArray(after) || after[0] !== scope || typeof after[1] !== 'string') {
      throw new ValidationError('Invalid cursor', { code: 'invalid_cursor' })
    }
    const id: string = after[1]
    start = items.findIndex((t) => idOf(t) > id)
    if (start === -1) start = items.length
  }
  const page = items.slice(start, start + limit)
  const last = page.at(-1)
  const more = start + limit < items.length
  const payload = last ? Buffer.from(JSON.stringify([scope, idOf(last)])).toString('base64url') : ''
  return {
    items: page.map(clone),
    nextCursor: more && last ? `${payload}.${cursorMac(payload)}` : null,
  }
}

function digestOf(
  r: { orderKey: string; contentHash: string; missingSince: string | null },
  id: string,
  absentRuns = 0,
): Digest {
  return { id, orderKey: r.orderKey, contentHash: r.contentHash, absentRuns, missingSince: r.missingSince }
}

/**
 * One page of a segmented digest scan, as DynamoDB's parallel Scan would answer it: each id belongs to
 * one segment (by a hash of the id), a segment is read in id order, and `next` is the last id read.
 */
function scanDigestPage(
  all: Digest[],
  { segment, segments, start, limit }: DigestScan,
  defaultPageSize: number,
): DigestPage {
  const pageSize = limit ?? defaultPageSize
  const mine = all
    .filter((d) => segments <= 1 || segmentOf(d.id, segments) === segment)
    .filter((d) => start === null || d.id > start)
    .sort((a, b) => (a.id < b.id ? -1 : 1))
  const items = mine.slice(0, pageSize)
  return { items, next: mine.length > pageSize ? (items.at(-1)?.id ?? null) : null }
}

/** FNV-1a of the id, modulo the segments. */
function segmentOf(id: string, segments: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0
  return h % segments
}

/**
 * In-memory StateStore with the same conditional-write semantics as the DynamoDB adapter. Optional
 * fault injection (`failNext`, `failureRate`) makes writes throw like an unavailable table.
 */
/**
 * A map whose writes are seen like a DynamoDB stream with NEW_AND_OLD_IMAGES: each set() reports the
 * item's image before and after (copies), in write order.
 */
class StreamedMap<V> extends Map<string, V> {
  constructor(
    private readonly table: ChangeTable,
    private readonly emit: (change: ItemChange) => void,
  ) {
    super()
  }
  override set(key: string, value: V): this {
    const old = super.get(key)
    super.set(key, value)
    // JSON round trip: like a stream image, undefined attributes are absent.
    const image = (v: V): Record<string, unknown> => JSON.parse(JSON.stringify(v))
    this.emit?.({
      table: this.table,
      oldImage: old === undefined ? null : image(old),
      newImage: image(value),
    })
    return this
  }
}

export class MemoryStore implements StateStore {
  readonly stats: MemoryStoreStats = { reads: 0, writes: 0 }
  failureRate = 0
  private random: () => number = Math.random
  private readonly listeners: ((change: ItemChange) => void)[] = []
  private readonly emitChange = (change: ItemChange): void => {
    for (const l of this.listeners) l(change)
  }
  private readonly clientMap = new StreamedMap<Client>('clients', this.emitChange)
  private readonly channelMap = new StreamedMap<Channel>('channels', this.emitChange)
  private readonly eventMap = new Map<string, WebhookEventRecord>()
  private readonly cancellationMap = new StreamedMap<CancellationRecord>('cancellations', this.emitChange)
  private readonly auditList: AuditEntry[] = []
  private readonly idemMap = new Map<string, IdempotencyRecord>()
  private readonly leases = new Map<string, { owner: string; until: number }>()
  private runs: { last: RunSummary | null; lastSuccess: RunSummary | null } = {
    last: null,
    lastSuccess: null,
  }
  private readonly counters = new Map<string, Record<string, number>>()
  private readonly budgets = new Map<string, number>()
  private readonly quarantine = new Map<string, { record: QuarantineRecord; expiresAt: number }>()
  private readonly bindings = new Map<string, string>()
  private readonly callSlots = new Map<string, CallSlot>()
  private partnerSettings: PartnerSettingsRecord = { check: null, failure: null }
  private changeFeed: ChangeFeedMark | null = null
  private reconcileState: ReconcileState | null = null
  private readonly seen = new Map<string, Uint8Array[]>()
  /** Digests per page of `scanDigests()` (DynamoDB's Scan pages by size). */
  digestPageSize = 1000
  private healthSweeps: { last: HealthSweepSummary | null; lastRun: HealthSweepSummary | null } = {
    last: null,
    lastRun: null,
  }

  constructor(opts?: { random?: () => number }) {
    if (opts?.random) this.random = opts.random
  }

  /** Sees every write to clients, channels and cancellations, as their streams would (see test/fakes/change-feed.ts). */
  onChange(listener: (change: ItemChange) => void): void {
    this.listeners.push(listener)
  }

  /** The semantics of the DynamoDB adapter's writeFact (one conditional UpdateItem). */
  private writeFact<T extends { orderKey: string; contentHash: string }>(
    map: Map<string, T>,
    id: string,
    record: T,
    spec: FactSpec,
    /** Carried fields a stored search text derives from (the adapter reads when a fact lacks one). */
    searchInputs: readonly string[] = [],
  ): FactWrite<T> {
    this.write()
    const stored = map.get(id) ?? null
    const before = stored as Record<string, unknown> | null
    const fields = record as Record<string, unknown>
    if (searchInputs.some((f) => spec.carried.includes(f) && fields[f] === null)) {
      this.read()
      return { outcome: 'refused', current: stored ? clone(stored) : null }
    }
    const blocked = spec.sticky.some((f) => fields[f] === false && before?.[f] === true)
    if (stored !== null && (!isNewer(record, stored) || blocked))
      return { outcome: 'refused', current: clone(stored) }
    const next: Record<string, unknown> = { ...(before ?? {}), ...fields }
    for (const f of spec.carried) if (fields[f] === null && before?.[f] !== undefined) next[f] = before[f]
    for (const f of spec.initial ?? []) if (before?.[f] !== undefined) next[f] = before[f]
    map.set(id, clone(next as T))
    return { outcome: 'written', previous: stored ? clone(stored) : null, record: clone(next as T) }
  }

  private read(): void {
    this.stats.reads++
  }

  private write(): void {
    if (this.failureRate > 0 && this.random() < this.failureRate) {
      throw new Error('injected storage failure')
    }
    this.stats.writes++
  }

  readonly clients: StateStore['clients'] = {
    get: async (id) => {
      this.read()
      const c = this.clientMap.get(id)
      return c ? clone(c) : null
    },
    putIfNewer: async (client, readHash?: string | null): Promise<GuardedWrite> => {
      const stored = this.clientMap.get(client.clientId) ?? null
      if (readHash !== undefined && (stored?.contentHash ?? null) !== readHash) return 'stale'
      if (!isNewer(client, stored)) return 'stale'
      this.write()
      this.clientMap.set(client.clientId, clone(client))
      return 'written'
    },
    writeFact: async (client, spec) => this.writeFact(this.clientMap, client.clientId, client, spec),
    putIfVersion: async (client, expected): Promise<GuardedWrite> => {
      const stored = this.clientMap.get(client.clientId) ?? null
      if ((stored?.orderKey ?? null) !== expected) return 'stale'
      this.write()
      this.clientMap.set(client.clientId, clone(client))
      return 'written'
    },
    list: async ({ limit, cursor, ...filter }) => {
      this.read()
      const items = [...this.clientMap.values()]
        .filter((c) => clientMatches(c, filter))
        .sort((a, b) => (a.clientId < b.clientId ? -1 : 1))
      return paginate(`clients|${JSON.stringify(filter)}`, items, (c) => c.clientId, limit, cursor)
    },
    scanDigests: async (q) => {
      this.read()
      const all = [...this.clientMap.values()].map((c) => digestOf(c, c.clientId))
      return scanDigestPage(all, q, this.digestPageSize)
    },
    digestsOf: async (ids) => {
      this.read()
      return [...new Set(ids)].flatMap((id) => {
        const c = this.clientMap.get(id)
        return c ? [digestOf(c, c.clientId)] : []
      })
    },
  }

  readonly channels: StateStore['channels'] = {
    get: async (id) => {
      this.read()
      const c = this.channelMap.get(id)
      return c ? clone(c) : null
    },
    putIfNewer: async (channel, readHash?: string | null): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(channel.channelId) ?? null
      if (readHash !== undefined && (stored?.contentHash ?? null) !== readHash) return 'stale'
      if (!isNewer(channel, stored)) return 'stale'
      this.write()
      this.channelMap.set(channel.channelId, clone(channel))
      return 'written'
    },
    writeFact: async (channel, spec) =>
      this.writeFact(this.channelMap, channel.channelId, channel, spec, ['companyName', 'partnerPayload']),
    putIfVersion: async (channel, expected): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(channel.channelId) ?? null
      if ((stored?.orderKey ?? null) !== expected) return 'stale'
      this.write()
      this.channelMap.set(channel.channelId, clone(channel))
      return 'written'
    },
    list: async ({ limit, cursor, ...filter }) => {
      this.read()
      const items = [...this.channelMap.values()]
        .filter((c) => channelMatches(c, filter))
        .sort((a, b) => (a.channelId < b.channelId ? -1 : 1))
      return paginate(`channels|${JSON.stringify(filter)}`, items, (c) => c.channelId, limit, cursor)
    },
    listByClient: async (clientId) => {
      this.read()
      return [...this.channelMap.values()].filter((c) => c.clientId === clientId).map(clone)
    },
    keyNeededIds: () => {
      this.read()
      const ids = [...this.channelMap.values()]
        .filter(needsKey)
        .map((c) => c.channelId)
        .sort()
      return (async function* () {
        if (ids.length > 0) yield ids
      })()
    },
    findByPhoneNumber: async (phone) => {
      this.read()
      const digits = phoneDigits(phone)
      if (digits === null) return []
      return [...this.channelMap.values()].filter((c) => phoneDigits(c.phoneNumber) === digits).map(clone)
    },
    countByQuality: async () => {
      this.read()
      const counts = Object.fromEntries(QUALITY_RATINGS.map((r) => [r, 0])) as Record<QualityRating, number>
      for (const c of this.channelMap.values()) {
        const bucket = qualityBucket(c.qualityRating)
        if (bucket !== null) counts[bucket]++
      }
      return counts
    },
    countByLifecycle: async () => {
      this.read()
      const counts = Object.fromEntries(LIFECYCLES.map((l) => [l, 0])) as Record<Lifecycle, number>
      for (const c of this.channelMap.values()) counts[c.lifecycle]++
      return counts
    },
    scan: (pageSize = 100) => {
      const all = [...this.channelMap.values()].map(clone)
      return (async function* () {
        for (let i = 0; i < all.length; i += pageSize) yield all.slice(i, i + pageSize)
      })()
    },
    scanDigests: async (q) => {
      this.read()
      const all = [...this.channelMap.values()].map((c) => digestOf(c, c.channelId, c.absentRuns))
      return scanDigestPage(all, q, this.digestPageSize)
    },
    digestsOf: async (ids) => {
      this.read()
      return [...new Set(ids)].flatMap((id) => {
        const c = this.channelMap.get(id)
        return c ? [digestOf(c, c.channelId, c.absentRuns)] : []
      })
    },
    setHealth: async (id, health, touch): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(id)
      if (stored?.lifecycle !== 'live') return 'stale'
      this.write()
      this.channelMap.set(id, { ...stored, health: clone(health), ...(touch ?? {}) })
      return 'written'
    },
    setKeyRejected: async (id, rejection): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(id)
      if (stored?.lifecycle !== 'live') return 'stale'
      this.write()
      this.channelMap.set(id, { ...stored, keyRejected: clone(rejection) })
      return 'written'
    },
    setKeyStatus: async (id, update, readHash): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(id)
      if (!stored || stored.contentHash !== readHash) return 'stale'
      this.write()
      this.channelMap.set(id, { ...stored, keyStatus: update.keyStatus })
      return 'written'
    },
    setClientOrganisation: async (id, clientId, organisation): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(id)
      if (!stored || stored.clientId !== clientId) return 'stale'
      const held = stored.clientOrganisation
      if (held && held.clientOrderKey > organisation.clientOrderKey) return 'stale'
      this.write()
      this.channelMap.set(id, { ...stored, clientOrganisation: clone(organisation) })
      return 'written'
    },
    markAbsence: async (id, expectedOrderKey, absentRuns, missingSince): Promise<GuardedWrite> => {
      const stored = this.channelMap.get(id)
      if (!stored || stored.orderKey !== expectedOrderKey) return 'stale'
      this.write()
      this.channelMap.set(id, { ...stored, absentRuns, missingSince })
      return 'written'
    },
  }

  readonly events: StateStore['events'] = {
    putNew: async (record) => {
      this.write()
      const stored = this.eventMap.get(record.eventKey)
      if (stored) {
        stored.deliveries++
        return { outcome: 'duplicate', existing: clone(stored) }
      }
      this.eventMap.set(record.eventKey, clone(record))
      return { outcome: 'created' }
    },
    get: async (key) => {
      this.read()
      const e = this.eventMap.get(key)
      return e ? clone(e) : null
    },
    markOutcome: async (key, status, reason, at, opts = {}) => {
      this.write()
      const e = this.eventMap.get(key)
      if (!e || (opts.onlyIfPending && e.status !== 'pending')) return false
      this.eventMap.set(key, { ...e, status, reason, appliedAt: at })
      return true
    },
    listPending: async (before, limit) => {
      this.read()
      return [...this.eventMap.values()]
        .filter((e) => e.status === 'pending' && e.receivedAt < before)
        .sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : 1))
        .slice(0, limit)
        .map(clone)
    },
    countPending: async (before, cap) => {
      this.read()
      return Math.min(
        cap,
        [...this.eventMap.values()].filter((e) => e.status === 'pending' && e.receivedAt < before).length,
      )
    },
    listSince: (since) => {
      const all = [...this.eventMap.values()]
        .filter((e) => e.receivedAt >= since)
        .sort((a, b) => (a.receivedAt < b.receivedAt ? -1 : 1))
        .map(clone)
      return (async function* () {
        if (all.length > 0) yield all
      })()
    },
  }

  readonly cancellations: StateStore['cancellations'] = {
    get: async (id) => {
      this.read()
      const r = this.cancellationMap.get(id)
      return r ? clone(r) : null
    },
    put: async (record, expectedVersion) => {
      const stored = this.cancellationMap.get(record.channelId)
      if ((stored?.version ?? null) !== expectedVersion) return false
      this.write()
      this.cancellationMap.set(record.channelId, clone(record))
      return true
    },
  }

  readonly audit: StateStore['audit'] = {
    append: async (entry) => {
      this.write()
      this.auditList.push(clone(entry))
    },
    list: async (subject, limit, cursor) => {
      this.read()
      const items = this.auditList
        .filter((e) => e.subject === subject)
        .sort((a, b) => (`${a.at}#${a.id}` < `${b.at}#${b.id}` ? -1 : 1))
      return paginate(`audit|${subject}`, items, (e) => `${e.at}#${e.id}`, limit, cursor)
    },
  }

  readonly idempotency: StateStore['idempotency'] = {
    begin: async (record) => {
      const k = `${record.scope}|${record.key}`
      const existing = this.idemMap.get(k)
      if (existing) return { created: false, existing: clone(existing) }
      this.write()
      this.idemMap.set(k, clone(record))
      return { created: true }
    },
    takeOver: async (record, previousLockedUntil) => {
      const k = `${record.scope}|${record.key}`
      const existing = this.idemMap.get(k)
      if (existing?.state !== 'in_flight' || existing.lockedUntil !== previousLockedUntil) return false
      this.write()
      this.idemMap.set(k, clone(record))
      return true
    },
    complete: async (scope, key, response: StoredResponse) => {
      this.write()
      const k = `${scope}|${key}`
      const existing = this.idemMap.get(k)
      if (existing) this.idemMap.set(k, { ...existing, state: 'completed', response: clone(response) })
    },
    release: async (scope, key) => {
      this.write()
      // Like the DynamoDB adapter: only an in_flight record is deleted; a completed one keeps answering.
      if (this.idemMap.get(`${scope}|${key}`)?.state === 'in_flight') this.idemMap.delete(`${scope}|${key}`)
    },
  }

  readonly ops: StateStore['ops'] = {
    getReconcileState: async () => {
      this.read()
      return this.reconcileState ? clone(this.reconcileState) : null
    },
    saveReconcileState: async (state, expectedVersion) => {
      if ((this.reconcileState?.version ?? null) !== expectedVersion) return false
      this.write()
      this.reconcileState = clone(state)
      return true
    },
    saveSeenChunk: async (sweepId, kind, index, hashes) => {
      this.write()
      const k = `${sweepId}|${kind}`
      const chunks = this.seen.get(k) ?? []
      chunks[index] = hashes.slice()
      this.seen.set(k, chunks)
    },
    seenChunks: (sweepId, kind) => {
      this.read()
      const chunks = (this.seen.get(`${sweepId}|${kind}`) ?? []).filter((c) => c !== undefined)
      return (async function* () {
        for (const c of chunks) yield c.slice()
      })()
    },
    acquireLease: async (name, owner, now, ttlMs) => {
      const held = this.leases.get(name)
      if (held && held.owner !== owner && held.until > now.getTime()) return false
      this.write()
      this.leases.set(name, { owner, until: now.getTime() + ttlMs })
      return true
    },
    releaseLease: async (name, owner) => {
      if (this.leases.get(name)?.owner === owner) {
        this.write()
        this.leases.delete(name)
      }
    },
    saveRunSummary: async (summary) => {
      this.write()
      this.runs = {
        last: clone(summary),
        lastSuccess: summary.outcome === 'succeeded' ? clone(summary) : this.runs.lastSuccess,
      }
    },
    getRunSummaries: async () => {
      this.read()
      return clone(this.runs)
    },
    incrementCounters: async (name, deltas) => {
      this.write()
      const c = this.counters.get(name) ?? {}
      for (const [k, v] of Object.entries(deltas)) c[k] = (c[k] ?? 0) + v
      this.counters.set(name, c)
    },
    getCounters: async (name) => {
      this.read()
      return { ...(this.counters.get(name) ?? {}) }
    },
    markChangesPublished: async (mark) => {
      this.write()
      this.changeFeed = {
        changeAt: mark.changeAt,
        publishedAt: mark.publishedAt,
        published: (this.changeFeed?.published ?? 0) + mark.events,
      }
    },
    getChangesPublished: async () => {
      this.read()
      return this.changeFeed ? { ...this.changeFeed } : null
    },
    saveHealthSweep: async (summary) => {
      this.write()
      this.healthSweeps = {
        last: clone(summary),
        lastRun: summary.outcome === 'skipped' ? this.healthSweeps.lastRun : clone(summary),
      }
    },
    getHealthSweeps: async () => {
      this.read()
      return clone(this.healthSweeps)
    },
    consumeBudget: async (key, now, windowMs, limit) => {
      const windowStart = Math.floor(now.getTime() / windowMs) * windowMs
      const k = `${key}|${windowStart}`
      const used = this.budgets.get(k) ?? 0
      const retryAfterSeconds = Math.max(1, Math.ceil((windowStart + windowMs - now.getTime()) / 1000))
      if (used >= limit) return { allowed: false, retryAfterSeconds }
      this.write()
      this.budgets.set(k, used + 1)
      return { allowed: true, retryAfterSeconds: 0 }
    },
    saveQuarantined: async (record, expiresAt) => {
      this.write()
      const k = `${record.kind}#${record.key}`
      const firstSeenAt = this.quarantine.get(k)?.record.firstSeenAt ?? record.firstSeenAt
      this.quarantine.set(k, { record: { ...clone(record), firstSeenAt }, expiresAt })
    },
    listQuarantined: async (now, cap) => {
      this.read()
      const nowSeconds = Math.floor(now.getTime() / 1000)
      return [...this.quarantine.values()]
        .filter((q) => q.expiresAt > nowSeconds)
        .slice(0, cap)
        .map((q) => clone(q.record))
    },
    getCallSlot: async (name, key) => {
      this.read()
      const slot = this.callSlots.get(`${name}|${key}`)
      return slot ? { ...slot } : null
    },
    takeCallSlot: async (name, key, owner, now, nextCallAt) => {
      const k = `${name}|${key}`
      const held = this.callSlots.get(k)
      if (held && held.nextCallAt > now.getTime()) return false
      this.write()
      this.callSlots.set(k, { owner, takenAt: now.getTime(), nextCallAt, state: 'pending', outcome: null })
      return true
    },
    settleCallSlot: async (name, key, owner, settled) => {
      const k = `${name}|${key}`
      const held = this.callSlots.get(k)
      if (!held || held.owner !== owner) return false
      this.write()
      this.callSlots.set(k, { ...held, ...settled })
      return true
    },
    savePartnerSettingsCheck: async (check) => {
      this.write()
      this.partnerSettings = { check: clone(check), failure: null }
    },
    savePartnerSettingsFailure: async (failure) => {
      this.write()
      this.partnerSettings = { ...this.partnerSettings, failure: clone(failure) }
    },
    getPartnerSettings: async () => {
      this.read()
      return clone(this.partnerSettings)
    },
    bindOnce: async (name, key, value) => {
      const k = `${name}|${key}`
      const bound = this.bindings.get(k)
      if (bound !== undefined) return bound === value
      this.write()
      this.bindings.set(k, value)
      return true
    },
  }

  /** Test helper: every stored audit entry in append order. */
  allAudit(): AuditEntry[] {
    return this.auditList.map(clone)
  }

  /** Test helper: every stored webhook event. */
  allEvents(): WebhookEventRecord[] {
    return [...this.eventMap.values()].map(clone)
  }
}

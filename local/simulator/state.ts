import { ConflictError, NotFoundError, ValidationError } from '../../shared/domain/errors'
import type {
  ChannelClientJson,
  ChannelPartial,
  ClientPartial,
  ListKind,
  PartnerJson,
  UpstreamChannelJson,
  UpstreamClientJson,
  WabaAccountJson,
} from './types'

/** A parsed list request: equality filters, sort keys (`-` = descending), page window. */
export interface ListQuery {
  filters: Record<string, unknown>
  sort: string[]
  limit: number
  offset: number
}

/** The documented list envelope without its items key (added by the HTTP layer). */
export interface ListPage<T> {
  count: number
  filters: Record<string, unknown>
  sort: string[]
  limit: number
  offset: number
  total: number
  items: T[]
}

/** A webhook the state change calls for; `data` is serialized at once by the dispatcher. */
export interface SimEvent {
  event: string
  data: UpstreamChannelJson | UpstreamClientJson
}

/** Result of a state change: the changed channel and the webhooks it triggers. */
export interface ChannelChange {
  channel: UpstreamChannelJson
  events: SimEvent[]
}

export interface SimStateOptions {
  partnerId: string
  clock: () => Date
  webhookUrl: string | null
  maxPageSize: number
  defaultPageSize: number
}

/** Options of bulk generation (see {@link SimState.generate}). */
export interface GenerateOptions {
  clients: number
  channelsPerClient?: number
  channels?: number
}

const NEXT_STATUS: Readonly<Record<string, string>> = {
  created: 'submitted',
  submitted: 'ready',
  ready: 'running',
  running: 'live',
}

const MAX_AUTO_CREATED = 100
const CACHE_LIMIT = 32

/** ISO-8601 without milliseconds, the way the fixtures write timestamps. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Last second of the current UTC month: when a requested cancellation takes effect. */
export function endOfUtcMonth(now: Date): string {
  return isoSeconds(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0, 23, 59, 59))
}

const pathCache = new Map<string, string[]>()

/** Reads a dotted path (`setup_info.phone_number`) from a JSON object. */
export function getPath(value: unknown, path: string): unknown {
  let parts = pathCache.get(path)
  if (parts === undefined) {
    parts = path.split('.')
    if (pathCache.size < 1000) pathCache.set(path, parts)
  }
  let current: unknown = value
  for (const part of parts) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

function sameValue(actual: unknown, expected: unknown): boolean {
  if (expected === null) return actual === null || actual === undefined
  if (typeof expected === 'object') return JSON.stringify(actual) === JSON.stringify(expected)
  if (typeof expected === 'number' && typeof actual === 'string') return actual === String(expected)
  return actual === expected
}

const SEARCH_PATHS = ['id', 'name', 'setup_info.phone_number', 'setup_info.phone_name', 'client.name']

/** Equality on every key (AND); a null value matches null or absent; `q` is a free-text search. */
export function matchesFilters(item: object, filters: Record<string, unknown>): boolean {
  for (const [path, expected] of Object.entries(filters)) {
    if (path === 'q' && typeof expected === 'string') {
      const needle = expected.toLowerCase()
      const hit = SEARCH_PATHS.some((p) => {
        const v = getPath(item, p)
        return typeof v === 'string' && v.toLowerCase().includes(needle)
      })
      if (!hit) return false
      continue
    }
    if (!sameValue(getPath(item, path), expected)) return false
  }
  return true
}

type SortValue = string | number | boolean | null

function sortValue(raw: unknown, isDate: boolean): SortValue {
  if (raw === null || raw === undefined) return null
  if (isDate && typeof raw === 'string') {
    const ms = Date.parse(raw)
    return Number.isNaN(ms) ? raw : ms
  }
  if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') return raw
  return JSON.stringify(raw)
}

function compareValues(a: SortValue, b: SortValue): number {
  if (a === b) return 0
  if (a === null) return -1
  if (b === null) return 1
  if (typeof a !== typeof b) return typeof a < typeof b ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

/** Multi-key sort; `-key` descends; nulls sort first ascending; ties broken by id ascending. */
export function sortItems<T extends { id: string }>(items: readonly T[], sort: readonly string[]): T[] {
  const keys = sort.map((key) => {
    const desc = key.startsWith('-')
    const path = desc || key.startsWith('+') ? key.slice(1) : key
    return { path, desc, isDate: path.endsWith('_at') }
  })
  const decorated = items.map((item) => ({
    item,
    values: keys.map((k) => sortValue(getPath(item, k.path), k.isDate)),
  }))
  decorated.sort((a, b) => {
    for (let i = 0; i < keys.length; i++) {
      const c = compareValues(a.values[i] ?? null, b.values[i] ?? null)
      if (c !== 0) return keys[i]?.desc ? -c : c
    }
    return a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0
  })
  return decorated.map((d) => d.item)
}

function parseIntParam(name: string, raw: string | null, fallback: number, min: number): number {
  if (raw === null || raw === '') return fallback
  if (!/^-?\d+$/.test(raw.trim())) throw wrongPayload(`${name}: not an integer`)
  const value = Number(raw.trim())
  if (value < min) throw wrongPayload(`${name}: must be at least ${min}`)
  return value
}

/** A 400 "Wrong payload" with the documented `details` list. */
export function wrongPayload(...details: string[]): ValidationError {
  return new ValidationError('Wrong payload', { code: 'wrong_payload', details: { details } })
}

/**
 * Parses `filters` (URL-encoded JSON object), `sort` (comma-separated, repeated or a JSON array),
 * `limit` (clamped to maxPageSize, defaultPageSize when absent) and `offset`.
 */
export function parseListQuery(
  params: URLSearchParams,
  maxPageSize: number,
  defaultPageSize: number,
): ListQuery {
  const rawFilters = params.get('filters')
  let filters: Record<string, unknown> = {}
  if (rawFilters !== null && rawFilters.trim() !== '') {
    let parsed: unknown
    try {
      parsed = JSON.parse(rawFilters)
    } catch {
      throw wrongPayload('filters: invalid JSON')
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw wrongPayload('filters: must be a JSON object')
    }
    filters = parsed as Record<string, unknown>
  }
  const sort: string[] = []
  for (const raw of params.getAll('sort')) {
    const trimmed = raw.trim()
    let parts: unknown[] = trimmed.split(',')
    if (trimmed.startsWith('[')) {
      try {
        const parsed: unknown = JSON.parse(trimmed)
        parts = Array.isArray(parsed) ? parsed : [parsed]
      } catch {
        throw wrongPayload('sort: invalid JSON array')
      }
    }
    for (const part of parts) {
      if (typeof part !== 'string') throw wrongPayload('sort: keys must be strings')
      const key = part.trim()
      if (key !== '' && key !== '-' && key !== '+') sort.push(key)
    }
  }
  const limit = Math.min(parseIntParam('limit', params.get('limit'), defaultPageSize, 1), maxPageSize)
  const offset = parseIntParam('offset', params.get('offset'), 0, 0)
  return { filters, sort, limit, offset }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** Deep merge producing new objects (shared nested objects are never mutated); arrays are replaced. */
export function deepMerge<T>(base: T, patch: unknown): T {
  if (!isPlainObject(patch) || !isPlainObject(base)) return (patch === undefined ? base : patch) as T
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key], value) : value
  }
  return out as T
}

function pad(n: number, width: number, radix = 10): string {
  return n.toString(radix).padStart(width, '0')
}

/** Small deterministic PRNG (mulberry32) for demo-mode choices. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Default partner object: the fixture's shape with the simulator's id. */
export function defaultPartner(partnerId: string, webhookUrl: string | null): PartnerJson {
  return {
    id: partnerId,
    brand_name: 'PartnerOps Demo Partner',
    payment_required: false,
    payment_plan: {},
    logo_url: null,
    onboarding_deeplink_add_params: false,
    webhook_url: webhookUrl,
    partner_redirect_url: null,
    country: 'DE',
    blocked_new_submission: false,
    allow_client_to_add_phone_no: true,
    settings: null,
    billing_system: 'stripe',
    publishable_key: null,
  }
}

/**
 * The simulator's in-memory Partner API state: clients, channels, partner settings, lifecycle steps,
 * cancellation rules and cached sorted/filtered orders for cheap paging. Pure: no I/O, time from the
 * injected clock.
 */
export class SimState {
  partner: PartnerJson
  private readonly clients = new Map<string, UpstreamClientJson>()
  private readonly channels = new Map<string, UpstreamChannelJson>()
  /** One short client object per client, shared by its channels so that client patches show everywhere. */
  private readonly shortClients = new Map<string, ChannelClientJson>()
  private readonly wabas = new Map<string, WabaAccountJson>()
  private readonly cache = {
    clients: new Map<string, UpstreamClientJson[]>(),
    channels: new Map<string, UpstreamChannelJson[]>(),
  }
  private lastStampMs = 0
  private counters = { client: 0, channel: 0, generated: 0, generatedChannels: 0, app: 0, phone: 0, auto: 0 }

  constructor(private readonly opts: SimStateOptions) {
    this.partner = defaultPartner(opts.partnerId, opts.webhookUrl)
  }

  /** Drops everything (seed data is loaded again by the caller). */
  clear(): void {
    this.partner = defaultPartner(this.opts.partnerId, this.opts.webhookUrl)
    this.clients.clear()
    this.channels.clear()
    this.shortClients.clear()
    this.wabas.clear()
    this.invalidate()
    this.counters = { client: 0, channel: 0, generated: 0, generatedChannels: 0, app: 0, phone: 0, auto: 0 }
  }

  now(): Date {
    return this.opts.clock()
  }

  get clientCount(): number {
    return this.clients.size
  }

  get channelCount(): number {
    return this.channels.size
  }

  /** A modified_at later than the clock's "now", than every earlier stamp and than `prev`. */
  nextStamp(prev?: string | null): string {
    let ms = this.opts.clock().getTime()
    if (ms <= this.lastStampMs) ms = this.lastStampMs + 1
    const prevMs = prev ? Date.parse(prev) : Number.NaN
    if (!Number.isNaN(prevMs) && ms <= prevMs) ms = prevMs + 1
    this.lastStampMs = ms
    return new Date(ms).toISOString()
  }

  private invalidate(kind?: ListKind): void {
    if (kind === undefined || kind === 'clients') this.cache.clients.clear()
    this.cache.channels.clear()
  }

  // ---- raw loading (seeds, generation) --------------------------------------------------------

  /** Stores a complete client as given (seeding); replaces one with the same id. */
  loadClient(client: UpstreamClientJson): UpstreamClientJson {
    this.clients.set(client.id, client)
    const short = this.shortClients.get(client.id)
    const fresh = toShortClient(client)
    if (short) Object.assign(short, fresh)
    else this.shortClients.set(client.id, fresh)
    this.invalidate()
    return client
  }

  /** Stores a complete channel as given (seeding); its `client` becomes the shared short client. */
  loadChannel(channel: UpstreamChannelJson): UpstreamChannelJson {
    const short = this.shortClients.get(channel.client_id)
    if (!short) throw new NotFoundError(`Client not found: ${channel.client_id}`)
    channel.client = short
    this.channels.set(channel.id, channel)
    this.invalidate('channels')
    return channel
  }

  // ---- reads ----------------------------------------------------------------------------------

  getClient(id: string): UpstreamClientJson {
    const client = this.clients.get(id)
    if (!client) throw new NotFoundError('Client not found')
    return client
  }

  getChannel(id: string): UpstreamChannelJson {
    const channel = this.channels.get(id)
    if (!channel) throw new NotFoundError('Channel not found')
    return channel
  }

  hasChannel(id: string): boolean {
    return this.channels.has(id)
  }

  allChannels(): IterableIterator<UpstreamChannelJson> {
    return this.channels.values()
  }

  listClients(query: ListQuery): ListPage<UpstreamClientJson> {
    return this.page(query, this.ordered('clients', this.clients, query))
  }

  listChannels(query: ListQuery): ListPage<UpstreamChannelJson> {
    return this.page(query, this.ordered('channels', this.channels, query))
  }

  private ordered<T extends { id: string }>(kind: ListKind, source: Map<string, T>, query: ListQuery): T[] {
    const cache = this.cache[kind] as unknown as Map<string, T[]>
    const key = `${JSON.stringify(query.filters)}|${query.sort.join(',')}`
    const hit = cache.get(key)
    if (hit) return hit
    let items: T[]
    const filterKeys = Object.keys(query.filters)
    const byId = query.filters['id']
    if (filterKeys.length === 1 && typeof byId === 'string') {
      const one = source.get(byId)
      items = one ? [one] : []
    } else if (filterKeys.length === 0) {
      items = Array.from(source.values())
    } else {
      items = []
      for (const item of source.values()) if (matchesFilters(item, query.filters)) items.push(item)
    }
    if (query.sort.length > 0) items = sortItems(items, query.sort)
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(key, items)
    return items
  }

  private page<T>(query: ListQuery, ordered: T[]): ListPage<T> {
    const items = ordered.slice(query.offset, query.offset + query.limit)
    return {
      count: items.length,
      filters: query.filters,
      sort: query.sort,
      limit: query.limit,
      offset: query.offset,
      total: ordered.length,
      items,
    }
  }

  // ---- partner --------------------------------------------------------------------------------

  /** PATCH /partners/{pid}: only `webhook_url` and `partner_redirect_url`, each a URL or null. */
  patchPartner(body: unknown): PartnerJson {
    if (!isPlainObject(body)) throw wrongPayload('body: must be a JSON object')
    const allowed = ['webhook_url', 'partner_redirect_url'] as const
    const unknown = Object.keys(body).filter((k) => !(allowed as readonly string[]).includes(k))
    if (unknown.length > 0) throw wrongPayload(...unknown.map((k) => `${k}: unknown field`))
    if (Object.keys(body).length === 0) throw wrongPayload('body: nothing to update')
    for (const key of allowed) {
      if (key in body) checkUrl(key, body[key])
    }
    for (const key of allowed) {
      if (key in body) this.partner[key] = body[key] as string | null
    }
    return this.partner
  }

  /** POST /partners/{pid}/webhook_url with `{"webhook_url": "…"}`. */
  setWebhookUrl(body: unknown): PartnerJson {
    if (!isPlainObject(body) || !('webhook_url' in body)) throw wrongPayload('webhook_url: required')
    checkUrl('webhook_url', body['webhook_url'])
    this.partner.webhook_url = body['webhook_url'] as string | null
    return this.partner
  }

  // ---- clients --------------------------------------------------------------------------------

  /** PATCH a client: `partner_payload` (string 1–255) and/or `max_channels` (integer 1–100). */
  patchClient(id: string, body: unknown): UpstreamClientJson {
    const client = this.getClient(id)
    if (!isPlainObject(body)) throw wrongPayload('body: must be a JSON object')
    const problems: string[] = []
    for (const key of Object.keys(body)) {
      if (key !== 'partner_payload' && key !== 'max_channels') problems.push(`${key}: unknown field`)
    }
    const payload = body['partner_payload']
    if (
      'partner_payload' in body &&
      (typeof payload !== 'string' || payload.length < 1 || payload.length > 255)
    ) {
      problems.push('partner_payload: must be a string of 1 to 255 characters')
    }
    const max = body['max_channels']
    if (
      'max_channels' in body &&
      (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100)
    ) {
      problems.push('max_channels: must be an integer from 1 to 100')
    }
    if (!('partner_payload' in body) && !('max_channels' in body) && problems.length === 0) {
      problems.push('body: partner_payload or max_channels required')
    }
    if (problems.length > 0) throw wrongPayload(...problems)
    if (typeof payload === 'string') client.partner_payload = payload
    if (typeof max === 'number') client.max_channels = max
    client.modified_at = this.nextStamp(client.modified_at)
    client.modified_by = { user_id: 'partner-api', user_name: 'partner-api' }
    this.syncShort(client)
    return client
  }

  private syncShort(client: UpstreamClientJson): void {
    const short = this.shortClients.get(client.id)
    if (short) Object.assign(short, toShortClient(client))
    this.invalidate()
  }

  /** Adds a client from a partial object; the rest gets defaults (ids and phone numbers are deterministic). */
  addClient(partial: ClientPartial = {}): UpstreamClientJson {
    const n = ++this.counters.client
    const id = typeof partial.id === 'string' ? partial.id : `Nc${pad(n, 6, 36)}CL`
    if (this.clients.has(id)) throw new ConflictError(`Client already exists: ${id}`)
    const stamp = this.nextStamp()
    const base = makeClient(id, `Sim Client ${n}`, stamp, `sim:${n}`, n)
    const client = deepMerge(base, partial)
    client.id = id
    return this.loadClient(client)
  }

  /** Adds a channel from a partial object with `client_id`; defaults to a fresh draft (status created). */
  addChannel(partial: ChannelPartial): UpstreamChannelJson {
    const client = this.clients.get(partial.client_id)
    if (!client) throw new NotFoundError(`Client not found: ${partial.client_id}`)
    const n = ++this.counters.channel
    const id = typeof partial.id === 'string' ? partial.id : `Nh${pad(n, 6, 36)}CH`
    if (this.channels.has(id)) throw new ConflictError(`Channel already exists: ${id}`)
    const stamp = this.nextStamp()
    const base = makeChannel({
      id,
      client,
      waba: this.wabaFor(client),
      phone: this.nextPhone('4916'),
      status: 'created',
      createdAt: stamp,
      appId: null,
      now: this.now(),
    })
    const { client: _ignored, ...rest } = partial
    const channel = deepMerge(base, rest)
    channel.id = id
    return this.loadChannel(channel)
  }

  private nextPhone(prefix: string): string {
    return `${prefix}${pad(++this.counters.phone, 8)}`
  }

  private nextAppId(): string {
    return String(300000 + ++this.counters.app)
  }

  private wabaFor(client: UpstreamClientJson): WabaAccountJson {
    let waba = this.wabas.get(client.id)
    if (!waba) {
      waba = makeWaba(client.id, client.created_at, this.wabas.size + 1)
      this.wabas.set(client.id, waba)
    }
    return waba
  }

  // ---- channel changes --------------------------------------------------------------------------

  /** Deletes a channel upstream without any webhook (as if removed behind our back). */
  removeChannel(id: string): void {
    this.getChannel(id)
    this.channels.delete(id)
    this.invalidate('channels')
  }

  /** Deep-merges a patch into a channel and bumps modified_at; `client` always follows `client_id`. */
  mutateChannel(id: string, patch: object): UpstreamChannelJson {
    const current = this.getChannel(id)
    const { client: _ignored, id: _id, ...rest } = patch as Partial<UpstreamChannelJson>
    const next = deepMerge(current, rest)
    const short = this.shortClients.get(next.client_id)
    if (!short) throw new NotFoundError(`Client not found: ${next.client_id}`)
    next.client = short
    next.modified_at = this.nextStamp(current.modified_at)
    this.channels.set(id, next)
    this.invalidate('channels')
    return next
  }

  private touch(channel: UpstreamChannelJson): void {
    channel.modified_at = this.nextStamp(channel.modified_at)
    this.invalidate('channels')
  }

  /**
   * The client-scoped cancellation request. `enabled` true sets terminated_at to the end of the current
   * UTC month (idempotent: a repeat changes nothing and triggers no webhook); false revokes.
   */
  cancellation(clientId: string, channelId: string, enabled: boolean): ChannelChange {
    this.getClient(clientId)
    const channel = this.channels.get(channelId)
    if (!channel || channel.client_id !== clientId) throw new NotFoundError('Channel not found')
    const now = this.now()
    if (isTerminated(channel, now)) throw wrongPayload('channel is already terminated')
    if (enabled) {
      if (channel.terminated_at !== null) return { channel, events: [] }
      channel.terminated_at = endOfUtcMonth(now)
      this.touch(channel)
      return { channel, events: [{ event: 'cancellation_request', data: channel }] }
    }
    if (channel.terminated_at === null) throw wrongPayload('no pending cancellation to revoke')
    channel.terminated_at = null
    this.touch(channel)
    return { channel, events: [{ event: 'cancellation_revoke', data: channel }] }
  }

  /**
   * One lifecycle step: a due cancellation terminates the channel (cancellation_processed); otherwise
   * created → submitted → ready → running (app id set) → live. Live and terminated channels stay put.
   */
  advance(id: string): ChannelChange {
    const channel = this.getChannel(id)
    const now = this.now()
    if (channel.status === 'terminated') return { channel, events: [] }
    if (isTerminated(channel, now)) return this.terminate(channel)
    const next = NEXT_STATUS[channel.status]
    if (next === undefined) return { channel, events: [] }
    channel.status = next
    if (next === 'running') {
      channel.integration = {
        enabled: true,
        app_id: channel.integration.app_id ?? this.nextAppId(),
        state: 'running',
      }
      channel.availability_status = 'setting_up'
    } else if (next === 'live') {
      if (channel.integration.app_id === null) {
        channel.integration = { enabled: true, app_id: this.nextAppId(), state: 'running' }
      }
      channel.account_mode = 'live'
      channel.availability_status = 'ready'
      channel.current_limit = channel.current_limit ?? 'TIER_250'
      channel.current_quality_rating = channel.current_quality_rating ?? 'GREEN'
      channel.setup_info = { ...channel.setup_info, error: null }
    } else {
      channel.availability_status = 'setting_up'
    }
    this.touch(channel)
    if (next === 'live') channel.billing_started_at = isoSeconds(Date.parse(channel.modified_at))
    return { channel, events: [{ event: `channel_${next}`, data: channel }] }
  }

  private terminate(channel: UpstreamChannelJson): ChannelChange {
    channel.status = 'terminated'
    channel.availability_status = 'error'
    channel.integration = { ...channel.integration, enabled: false, state: 'terminated' }
    this.touch(channel)
    return { channel, events: [{ event: 'cancellation_processed', data: channel }] }
  }

  /** Terminates every channel whose terminated_at has passed. */
  processDueCancellations(): SimEvent[] {
    const now = this.now()
    const due: UpstreamChannelJson[] = []
    for (const channel of this.channels.values()) {
      if (channel.status !== 'terminated' && isTerminated(channel, now)) due.push(channel)
    }
    return due.flatMap((channel) => this.terminate(channel).events)
  }

  /**
   * Demo-mode tick: processes due cancellations, then moves one random channel that is still
   * onboarding one step; when none is left, a new draft channel appears (at most 100 of them).
   */
  tick(random: () => number): SimEvent[] {
    const events = this.processDueCancellations()
    const candidates: string[] = []
    for (const channel of this.channels.values()) {
      if (NEXT_STATUS[channel.status] !== undefined && channel.terminated_at === null)
        candidates.push(channel.id)
    }
    const pick = candidates[Math.floor(random() * candidates.length)]
    if (pick !== undefined) return [...events, ...this.advance(pick).events]
    const clientIds = Array.from(this.clients.keys())
    const clientId = clientIds[Math.floor(random() * clientIds.length)]
    if (clientId !== undefined && this.counters.auto < MAX_AUTO_CREATED) {
      this.counters.auto++
      const channel = this.addChannel({ client_id: clientId })
      events.push({ event: 'channel_created', data: channel })
    }
    return events
  }

  /** A new client plus draft channels, as right after Integrated Onboarding; events client_created, channel_created… */
  onboard(opts: { partner_payload?: string; channels?: number; name?: string } = {}): {
    client: UpstreamClientJson
    channels: UpstreamChannelJson[]
    events: SimEvent[]
  } {
    const count = Math.max(0, Math.min(opts.channels ?? 1, 100))
    const partial: ClientPartial = {}
    if (opts.name !== undefined) {
      partial.name = opts.name
      partial.organisation = opts.name
    }
    if (opts.partner_payload !== undefined) partial.partner_payload = opts.partner_payload
    const client = this.addClient(partial)
    const channels: UpstreamChannelJson[] = []
    for (let i = 0; i < count; i++) channels.push(this.addChannel({ client_id: client.id }))
    const events: SimEvent[] = [
      { event: 'client_created', data: client },
      ...channels.map((data) => ({ event: 'channel_created', data })),
    ]
    return { client, channels, events }
  }

  /**
   * Bulk generation with deterministic ids (`Gc…CL`, `Gh…CH`) and a fixed mix of lifecycles. Builds
   * plain objects in one pass; 100,000 channels take a fraction of a second.
   */
  generate(opts: GenerateOptions): void {
    const clientCount = Math.max(0, Math.floor(opts.clients))
    if (clientCount === 0) return
    const perClient = opts.channelsPerClient
    const total = perClient !== undefined ? perClient * clientCount : (opts.channels ?? clientCount)
    const now = this.now()
    const nowMs = now.getTime()
    const pendingAt = endOfUtcMonth(now)
    const baseMs = Date.UTC(2024, 0, 1)
    const newClients: UpstreamClientJson[] = []
    for (let i = 0; i < clientCount; i++) {
      const n = ++this.counters.generated
      const created = isoSeconds(baseMs + n * 60_000)
      const client = makeClient(`Gc${pad(n, 6, 36)}CL`, `Generated Client ${n}`, created, `gen:${n}`, n)
      this.clients.set(client.id, client)
      this.shortClients.set(client.id, toShortClient(client))
      newClients.push(client)
    }
    for (let j = 0; j < total; j++) {
      const client = newClients[j % clientCount] as UpstreamClientJson
      const n = ++this.counters.generatedChannels
      const kind = GENERATED_MIX[n % GENERATED_MIX.length] as GeneratedKind
      const createdMs = Math.min(baseMs + n * 1000, nowMs)
      const channel = makeChannel({
        id: `Gh${pad(n, 7, 36)}CH`,
        client,
        short: this.shortClients.get(client.id) as ChannelClientJson,
        waba: this.wabaFor(client),
        phone: `4917${pad(n, 9)}`,
        status:
          kind === 'created' || kind === 'ready'
            ? kind
            : kind === 'running' || kind === 'error'
              ? 'running'
              : 'live',
        createdAt: isoSeconds(createdMs),
        appId: kind === 'created' || kind === 'ready' ? null : String(500000 + n),
        now,
      })
      if (kind === 'pending') channel.terminated_at = pendingAt
      if (kind === 'terminated') terminateInPlace(channel, isoSeconds(Date.UTC(2024, 11, 31, 23, 59, 59)))
      if (kind === 'error') {
        channel.availability_status = 'error'
        channel.setup_info.error = 'number registration failed'
      }
      this.channels.set(channel.id, channel)
    }
    this.invalidate()
  }
}

type GeneratedKind = 'live' | 'running' | 'created' | 'ready' | 'pending' | 'terminated' | 'error'
const GENERATED_MIX: readonly GeneratedKind[] = [
  'live',
  'live',
  'running',
  'live',
  'created',
  'live',
  'pending',
  'live',
  'ready',
  'live',
  'terminated',
  'live',
  'error',
  'live',
  'running',
  'live',
  'live',
  'created',
  'live',
  'live',
]

function isTerminated(channel: UpstreamChannelJson, now: Date): boolean {
  if (channel.status === 'terminated') return true
  if (channel.terminated_at === null) return false
  const ms = Date.parse(channel.terminated_at)
  return !Number.isNaN(ms) && ms <= now.getTime()
}

function checkUrl(field: string, value: unknown): void {
  if (value === null) return
  if (typeof value !== 'string') throw wrongPayload(`${field}: must be a URL string or null`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw wrongPayload(`${field}: not a valid URL`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw wrongPayload(`${field}: must be http(s)`)
}

/** The channel-embedded short client. */
export function toShortClient(client: UpstreamClientJson): ChannelClientJson {
  return {
    id: client.id,
    name: client.name,
    partner_payload: client.partner_payload,
    contact_info: { ...client.contact_info },
  }
}

/** A complete client with plausible defaults. */
export function makeClient(
  id: string,
  name: string,
  createdAt: string,
  partnerPayload: string | null,
  n: number,
): UpstreamClientJson {
  const slug = id.toLowerCase()
  return {
    id,
    name,
    status: 'active',
    organisation: `${name} Ltd`,
    max_channels: 10,
    partner_payload: partnerPayload,
    meta_info: {
      business_vertical: 'OTHER',
      timezone: 'Europe/Berlin',
      about: null,
      business_description: null,
      use_case: null,
    },
    contact_info: {
      webpage_url: `https://${slug}.example.test`,
      phone: `+4930${pad(n % 10_000_000, 7)}`,
      language: 'en',
      country: 'DE',
      street_name: `Teststr. ${(n % 200) + 1}`,
      city: 'Berlin',
      email: `ops@${slug}.example.test`,
      full_name: `Contact ${n}`,
      zip_code: '10115',
    },
    contact_user: { phone: null, email: `owner@${slug}.example.test`, name: `Owner ${n}` },
    created_at: createdAt,
    created_by: { user_id: 'system', user_name: 'system' },
    modified_at: createdAt,
    modified_by: { user_id: 'system', user_name: 'system' },
    suspicious: false,
  }
}

/** A WABA account for a client (shared by its channels). */
export function makeWaba(clientId: string, createdAt: string, n: number): WabaAccountJson {
  const id = `W${pad(n, 6, 36)}WA`
  return {
    id,
    external_id: String(105000000000000 + n),
    name: `WABA ${id}`,
    namespace: `5e1a7c00_${pad(n, 8, 36)}_${id.toLowerCase()}`,
    client_id: clientId,
    consents: {},
    created_at: createdAt,
    created_by: { user_id: 'system', user_name: 'system' },
    fb_account_status: 'verified',
    on_behalf_of_business_info: {
      id: String(905000000000000 + n),
      name: `OBO ${id}`,
      status: 'approved',
      type: 'OWNER',
    },
  }
}

/** A complete channel in the given onboarding status (`live` also sets account mode and billing). */
export function makeChannel(o: {
  id: string
  client: UpstreamClientJson
  short?: ChannelClientJson
  waba: WabaAccountJson
  phone: string
  status: string
  createdAt: string
  appId: string | null
  now: Date
}): UpstreamChannelJson {
  const live = o.status === 'live'
  return {
    id: o.id,
    client_id: o.client.id,
    client: o.short ?? toShortClient(o.client),
    status: o.status,
    account_mode: live ? 'live' : 'sandbox',
    created_at: o.createdAt,
    modified_at: o.createdAt,
    billing_started_at: live ? o.createdAt : null,
    terminated_at: null,
    current_limit: live ? 'TIER_1K' : null,
    current_quality_rating: live ? 'GREEN' : null,
    availability_status: live ? 'ready' : 'setting_up',
    setup_info: {
      phone_number: o.phone,
      phone_name: o.client.name,
      was_in_use: false,
      ivr: false,
      verification_method: 'sms',
      default_language: 'en',
      certificate: null,
      new_name_status: null,
      has_integration_layer: false,
      error: null,
      configuration_type: 'cloud',
      region: 'EU',
      shards_number: 1,
    },
    waba_account: o.waba,
    integration:
      o.appId === null
        ? { enabled: false, app_id: null, state: 'pending' }
        : { enabled: true, app_id: o.appId, state: 'running' },
    has_inbox: false,
    is_oba: false,
  }
}

/** Marks a channel terminated at the given time (seeds). */
export function terminateInPlace(channel: UpstreamChannelJson, terminatedAt: string): void {
  channel.status = 'terminated'
  channel.account_mode = 'live'
  channel.terminated_at = terminatedAt
  channel.availability_status = 'error'
  channel.integration = {
    enabled: false,
    app_id: channel.integration.app_id ?? '499999',
    state: 'terminated',
  }
  channel.billing_started_at ??= channel.created_at
}

/** A plausible balance body (partner-api.md §3.5), deterministic per client. */
export function balanceFor(clientId: string, granularity: string, now: Date): Record<string, unknown> {
  let h = 0
  for (const ch of clientId) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  const quantity = h % 5000
  const free = Math.min(quantity, 1000)
  const period = isoSeconds(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
  return {
    balance: (h % 10_000) / 100,
    currency: 'USD',
    last_renewal: { date: period, amount: 50 },
    estimated_template_cost: (quantity - free) * 0.01,
    granularity,
    bi_price_for_currency_and_client_country: 0.0147,
    ui_price_for_currency_and_client_country: 0.0048,
    usage: [
      {
        period_date: period,
        quantity,
        free_quantity: free,
        paid_quantity: quantity - free,
        total_price: Math.round((quantity - free) * 1.47) / 100,
        marketing_quantity: Math.floor(quantity / 3),
        utility_quantity: Math.floor(quantity / 3),
        authentication_quantity: Math.floor(quantity / 10),
        service_quantity: quantity - 2 * Math.floor(quantity / 3) - Math.floor(quantity / 10),
      },
    ],
  }
}

import { conflict, notFound, wrongPayload } from './errors'
import {
  defaultPartner,
  GENERATED_MIX,
  type GeneratedKind,
  makeChannel,
  makeClient,
  makeWaba,
  terminateInPlace,
  toShortClient,
} from './factories'
import { type ListPage, OrderCache, pageOf } from './listing'
import type { ListQuery } from './query'
import type {
  ChannelClientJson,
  ChannelPartial,
  ClientPartial,
  PartnerJson,
  UpstreamChannelJson,
  UpstreamClientJson,
  WabaAccountJson,
} from './types'
import { deepMerge, endOfUtcMonth, isoSeconds, isPlainObject, pad } from './util'

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
  /** Initial `partner_redirect_url`; default null. */
  redirectUrl?: string | null
  /** Whether a channel added with this id is a version 1 (Classic Signup) channel; default never. */
  isV1Channel?: (channelId: string) => boolean
}

/** Options of bulk generation (see {@link SimState.generate}). */
export interface GenerateOptions {
  clients: number
  channelsPerClient?: number
  channels?: number
}

/** What Integrated Onboarding creates: a client (with the link's payload, if any) and draft channels. */
export interface OnboardOptions {
  partner_payload?: string
  channels?: number
  name?: string
}

/** Lifecycle steps of a (version 2) channel while it is onboarding. */
export const NEXT_STATUS: Readonly<Record<string, string>> = {
  created: 'submitted',
  submitted: 'ready',
  ready: 'running',
  running: 'live',
}

/**
 * Lifecycle steps of a version 1 (Classic Signup) channel: its `status` alone says where it is, and
 * `ready` means registered and live.
 */
export const NEXT_STATUS_V1: Readonly<Record<string, string>> = {
  created: 'verified',
  verified: 'ready',
}

/** The status a channel's next lifecycle step leads to, if any. */
export function nextStatus(channel: UpstreamChannelJson): string | undefined {
  return (channel.version === 1 ? NEXT_STATUS_V1 : NEXT_STATUS)[channel.status]
}

/** Most channels one onboarding may create. */
export const MAX_ONBOARD_CHANNELS = 100

/**
 * The simulator's in-memory Partner API state: clients, channels, partner settings, lifecycle steps
 * and cancellation rules. Pure: no I/O, time from the injected clock. Errors are `SimApiError`s
 * (360dialog's `meta` bodies).
 */
export class SimState {
  partner: PartnerJson
  private readonly clients = new Map<string, UpstreamClientJson>()
  private readonly channels = new Map<string, UpstreamChannelJson>()
  /** One short client object per client, shared by its channels so that client patches show everywhere. */
  private readonly shortClients = new Map<string, ChannelClientJson>()
  private readonly wabas = new Map<string, WabaAccountJson>()
  private readonly clientOrder = new OrderCache(this.clients)
  private readonly channelOrder = new OrderCache(this.channels)
  private lastStampMs = 0
  private counters = { client: 0, channel: 0, generated: 0, generatedChannels: 0, app: 0, phone: 0 }

  constructor(private readonly opts: SimStateOptions) {
    this.partner = defaultPartner(opts.partnerId, opts.webhookUrl, opts.redirectUrl ?? null)
  }

  /** Drops everything (seed data is loaded again by the caller). */
  clear(): void {
    this.partner = defaultPartner(this.opts.partnerId, this.opts.webhookUrl, this.opts.redirectUrl ?? null)
    this.clients.clear()
    this.channels.clear()
    this.shortClients.clear()
    this.wabas.clear()
    this.invalidate()
    this.counters = { client: 0, channel: 0, generated: 0, generatedChannels: 0, app: 0, phone: 0 }
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

  private invalidate(kind?: 'clients' | 'channels'): void {
    if (kind === undefined || kind === 'clients') this.clientOrder.clear()
    this.channelOrder.clear()
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
    if (!short) throw notFound(`Client not found: ${channel.client_id}`)
    channel.client = short
    this.channels.set(channel.id, channel)
    this.invalidate('channels')
    return channel
  }

  // ---- reads ----------------------------------------------------------------------------------

  getClient(id: string): UpstreamClientJson {
    const client = this.clients.get(id)
    if (!client) throw notFound('Client not found')
    return client
  }

  getChannel(id: string): UpstreamChannelJson {
    const channel = this.channels.get(id)
    if (!channel) throw notFound('Channel not found')
    return channel
  }

  hasChannel(id: string): boolean {
    return this.channels.has(id)
  }

  allChannels(): IterableIterator<UpstreamChannelJson> {
    return this.channels.values()
  }

  listClients(query: ListQuery): ListPage<UpstreamClientJson> {
    return pageOf(query, this.clientOrder.ordered(query))
  }

  listChannels(query: ListQuery): ListPage<UpstreamChannelJson> {
    return pageOf(query, this.channelOrder.ordered(query))
  }

  /** Ids of every client, in insertion order. */
  clientIds(): string[] {
    return Array.from(this.clients.keys())
  }

  /** Ids of channels still onboarding (a next lifecycle step exists) and not being cancelled. */
  onboardingChannelIds(): string[] {
    const ids: string[] = []
    for (const channel of this.channels.values()) {
      if (nextStatus(channel) !== undefined && channel.terminated_at === null) ids.push(channel.id)
    }
    return ids
  }

  /** Ids of live channels (live upstream, not being cancelled), in insertion order. */
  liveChannelIds(): string[] {
    const ids: string[] = []
    for (const channel of this.channels.values()) {
      if (channel.status === 'live' && channel.account_mode === 'live' && channel.terminated_at === null)
        ids.push(channel.id)
    }
    return ids
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

  /**
   * Adds a client from a partial object; the rest gets defaults (ids and phone numbers are
   * deterministic). A client created without a `partner_payload` has none (null), as upstream.
   */
  addClient(partial: ClientPartial = {}): UpstreamClientJson {
    const n = ++this.counters.client
    const id = typeof partial.id === 'string' ? partial.id : `Nc${pad(n, 6, 36)}CL`
    if (this.clients.has(id)) throw conflict(`Client already exists: ${id}`)
    const stamp = this.nextStamp()
    const base = makeClient(id, `Sim Client ${n}`, stamp, null, n)
    const client = deepMerge(base, partial)
    client.id = id
    return this.loadClient(client)
  }

  /** Adds a channel from a partial object with `client_id`; defaults to a fresh draft (status created). */
  addChannel(partial: ChannelPartial): UpstreamChannelJson {
    const client = this.clients.get(partial.client_id)
    if (!client) throw notFound(`Client not found: ${partial.client_id}`)
    const n = ++this.counters.channel
    const id = typeof partial.id === 'string' ? partial.id : `Nh${pad(n, 6, 36)}CH`
    if (this.channels.has(id)) throw conflict(`Channel already exists: ${id}`)
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
    if (partial.version === undefined && this.opts.isV1Channel?.(id)) {
      // A Classic Signup channel: version 1, read by its status; account_mode belongs to version 2.
      base.version = 1
      delete base.account_mode
    }
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
    if (!short) throw notFound(`Client not found: ${next.client_id}`)
    next.client = short
    next.modified_at = this.nextStamp(current.modified_at)
    this.channels.set(id, next)
    this.invalidate('channels')
    return next
  }

  /** Deep-merges a patch into a client (not its id) and bumps modified_at; its channels' short client follows. */
  mutateClient(id: string, patch: object): UpstreamClientJson {
    const current = this.getClient(id)
    const { id: _id, ...rest } = patch as Partial<UpstreamClientJson>
    const next = deepMerge(current, rest)
    next.modified_at = this.nextStamp(current.modified_at)
    this.clients.set(id, next)
    this.syncShort(next)
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
    if (!channel || channel.client_id !== clientId) throw notFound('Channel not found')
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
   * created → submitted → ready → running (app id set) → live, or for a version 1 channel
   * created → verified → ready (live). Live and terminated channels stay put.
   */
  advance(id: string): ChannelChange {
    const channel = this.getChannel(id)
    const now = this.now()
    if (channel.status === 'terminated') return { channel, events: [] }
    if (isTerminated(channel, now)) return this.terminate(channel)
    const next = nextStatus(channel)
    if (next === undefined) return { channel, events: [] }
    if (channel.version === 1) return this.advanceV1(channel, next)
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

  /**
   * A version 1 step. `ready` is live: registered, app id set, billing started; it is announced with
   * `channel_ready`. No webhook is documented for `verified` (the Commerce Policy review), so that
   * step sends none: a consumer learns of it from the next list read.
   */
  private advanceV1(channel: UpstreamChannelJson, next: string): ChannelChange {
    channel.status = next
    if (next !== 'ready') {
      this.touch(channel)
      return { channel, events: [] }
    }
    channel.integration = {
      enabled: true,
      app_id: channel.integration.app_id ?? this.nextAppId(),
      state: 'running',
    }
    channel.availability_status = 'ready'
    channel.current_limit = channel.current_limit ?? 'TIER_250'
    channel.current_quality_rating = channel.current_quality_rating ?? 'GREEN'
    this.touch(channel)
    channel.billing_started_at = isoSeconds(Date.parse(channel.modified_at))
    return { channel, events: [{ event: 'channel_ready', data: channel }] }
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

  /** A new client plus draft channels, as right after Integrated Onboarding; events client_created, channel_created… */
  onboard(opts: OnboardOptions = {}): {
    client: UpstreamClientJson
    channels: UpstreamChannelJson[]
    events: SimEvent[]
  } {
    const count = Math.max(0, Math.min(opts.channels ?? 1, MAX_ONBOARD_CHANNELS))
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

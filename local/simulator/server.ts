import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SimAuth, type SimUser } from './auth'
import { CONTROL_ROUTES, controlRoute } from './controls'
import { DemoMode } from './demo'
import { SimApiError, wrongPayload } from './errors'
import { balanceFor } from './factories'
import { FaultInjector } from './faults'
import {
  BodyTooLargeError,
  metaReply,
  parseBody,
  queryObject,
  type Reply,
  readBody,
  segmentsOf,
  writeReply,
} from './http'
import { controlsPage, htmlReply, permissionRoute } from './hub'
import { apiKeysRoute, KeyRegistry, type PaymentMode } from './keys'
import { SimMessaging } from './messaging'
import { parseListQuery } from './query'
import { BALANCE_CALLS_PER_WINDOW, BALANCE_WINDOW_MS, SlidingWindowLimiter } from './rate-limits'
import { loadSeed, type SeedKind } from './seed'
import { type GenerateOptions, type OnboardOptions, type SimEvent, SimState } from './state'
import type {
  ChannelPartial,
  ClientPartial,
  DeliveryLogEntry,
  Faults,
  ListKind,
  PartnerJson,
  RequestLogEntry,
  UpstreamChannelJson,
  UpstreamClientJson,
} from './types'
import { isPlainObject, seededRandom } from './util'
import { DEFAULT_VARIANTS, Variance, type VarianceSetting } from './variance'
import { WebhookDispatcher } from './webhooks'

export type { ApiKeyJson, KeyLookup, KeyRegistry, PaymentMode } from './keys'
export type { GenerateOptions, OnboardOptions } from './state'
export type {
  DeliveryLogEntry,
  Faults,
  RequestLogEntry,
  UpstreamChannelJson,
  UpstreamClientJson,
} from './types'
export { VARIANT_NAMES, type VarianceSetting, type VariantName } from './variance'

/** Options of {@link startSimulator}; every field has a local default. */
export interface SimulatorOptions {
  /** 0 = ephemeral (default). */
  port?: number
  /** Default '127.0.0.1'. */
  host?: string
  /** Default 'demoPA'. */
  partnerId?: string
  /** Accepted X-API-Key values; default ['local-partner-api-key']. */
  apiKeys?: string[]
  /** Users for POST /api/v2/token; default demo@partnerops.local / local-password. */
  users?: SimUser[]
  /** Bearer token lifetime; default 86400. */
  tokenTtlSeconds?: number
  /** HMAC key of x-360dialog-signature; default 'local-platform-secret'. */
  platformSecret?: string
  /** Initial partner webhook_url (also settable through the API). */
  webhookUrl?: string | null
  /** Initial partner `partner_redirect_url` (also settable through the API); default null. */
  redirectUrl?: string | null
  /** Extra headers sent with every webhook (e.g. x-webhook-token). */
  webhookHeaders?: Record<string, string>
  /** Default true. */
  deliverWebhooks?: boolean
  /** First webhook retry delay in ms (doubles per attempt); default 200. */
  webhookRetryBaseMs?: number
  /** Delivery attempts per event; default 5. */
  webhookMaxAttempts?: number
  /** Demo mode: every N ms one channel moves one lifecycle step; default null (off). */
  autoAdvanceMs?: number | null
  /** Server-side clamp of `limit`; default 1000. */
  maxPageSize?: number
  /** `limit` when the request has none; default 100 (clamped to maxPageSize). */
  defaultPageSize?: number
  /** Default 'demo'. */
  seed?: SeedKind
  clock?: () => Date
  /**
   * Real-world variants of bodies to emit (README "Variance"): 'on' (all), 'off', or a set of
   * variant names. Default: `DEFAULT_VARIANTS`, as `SIMULATOR_VARIANCE` unset.
   */
  variance?: VarianceSetting
  /** Seed of the deterministic choice of which objects and deliveries vary; default 11. */
  varianceSeed?: number
  /** Share (0–1) of objects and deliveries each enabled variant applies to; default 0.3 (1 = all). */
  varianceRate?: number
  /** The `address` of issued channel API keys (the messaging base); default `${url}/messaging`. */
  messagingUrl?: string
}

/** What a list hook may do between pages (insert/delete items to simulate pagination drift). */
export type ListHook = (kind: ListKind, offset: number) => void | Promise<void>

/** A running simulator and its test controls. */
export interface Simulator {
  /** e.g. http://127.0.0.1:4010 */
  url: string
  /** `${url}/api/v2` */
  baseUrl: string
  partnerId: string
  close(): Promise<void>
  reset(): void
  faults(): Faults
  setFaults(f: Faults): void
  requests(): RequestLogEntry[]
  clearRequests(): void
  addClient(partial?: ClientPartial): UpstreamClientJson
  addChannel(partial: ChannelPartial): UpstreamChannelJson
  /** Bulk data; answers the totals afterwards. */
  generate(opts: GenerateOptions): { clients: number; channels: number }
  advance(channelId: string): Promise<UpstreamChannelJson>
  removeChannel(id: string): void
  mutateChannel(id: string, patch: object): UpstreamChannelJson
  /** Deep-merges a patch into a client (its channels' short client follows), bumps modified_at; no webhook. */
  mutateClient(id: string, patch: object): UpstreamClientJson
  onList?: ListHook | undefined
  onboard(opts?: OnboardOptions): Promise<{
    client: UpstreamClientJson
    channels: UpstreamChannelJson[]
  }>
  deliveries(): DeliveryLogEntry[]
  /** Current partner object (webhook_url etc.). */
  partner(): PartnerJson
  /** One demo-mode step now (due cancellations, then one channel forward); resolves after first delivery attempts. */
  tick(): Promise<void>
  /** Issued channel API keys, revocations and permissions (the messaging endpoints check keys here). */
  readonly keys: KeyRegistry
  /** The Messaging API endpoints (health per channel key): health controls, latency and the request log. */
  readonly messaging: SimMessaging
  /**
   * The client grants (or withdraws) the partner's permission for one channel: delivers
   * `channel_permission_granted` (or `channel_permission_revoked`, which also revokes its keys).
   */
  setPermission(channelId: string, granted: boolean): Promise<UpstreamChannelJson>
  /** Switches a client between Partner Payment (keys allowed by default) and Direct Payment. */
  setPaymentMode(clientId: string, mode: PaymentMode): void
}

const MAX_REQUEST_LOG = 50_000

function errorReply(err: unknown): Reply {
  if (err instanceof SimApiError) return { status: err.status, body: err.body() }
  if (err instanceof BodyTooLargeError) return metaReply(413, 'Request body too large')
  return metaReply(500, 'Internal server error')
}

function clone<T>(value: T): T {
  return structuredClone(value)
}

/**
 * In-process 360dialog Partner API v2 simulator on node:http: the documented routes, auth, list
 * envelopes and error bodies, lifecycle steps with signed webhooks, fault injection and `/_sim`
 * test controls.
 */
class PartnerApiSimulator implements Simulator {
  url = ''
  baseUrl = ''
  readonly partnerId: string
  onList: ListHook | undefined = undefined
  readonly keys: KeyRegistry
  readonly messaging: SimMessaging

  private readonly state: SimState
  private readonly variance: Variance
  private readonly demo: DemoMode
  private readonly dispatcher: WebhookDispatcher
  private readonly server: Server
  private readonly auth: SimAuth
  private readonly clock: () => Date
  private readonly seedKind: SeedKind
  private readonly maxPageSize: number
  private readonly defaultPageSize: number
  private readonly injector = new FaultInjector()
  private readonly balanceLimit = new SlidingWindowLimiter(BALANCE_CALLS_PER_WINDOW, BALANCE_WINDOW_MS)
  private log: RequestLogEntry[] = []
  private readonly latencyTimers = new Set<NodeJS.Timeout>()
  private closed = false
  private ticks = 0
  private readonly healthRandom = seededRandom(5)

  constructor(private readonly opts: SimulatorOptions) {
    this.clock = opts.clock ?? (() => new Date())
    this.partnerId = opts.partnerId ?? 'demoPA'
    this.auth = new SimAuth(
      new Set(opts.apiKeys ?? ['local-partner-api-key']),
      opts.users ?? [{ username: 'demo@partnerops.local', password: 'local-password' }],
      opts.tokenTtlSeconds ?? 86400,
      this.clock,
    )
    this.seedKind = opts.seed ?? 'demo'
    this.maxPageSize = Math.max(1, opts.maxPageSize ?? 1000)
    this.defaultPageSize = Math.min(Math.max(1, opts.defaultPageSize ?? 100), this.maxPageSize)
    this.variance = new Variance(opts.variance ?? DEFAULT_VARIANTS, opts.varianceSeed, opts.varianceRate)
    const variance = this.variance
    this.state = new SimState({
      partnerId: this.partnerId,
      clock: this.clock,
      webhookUrl: opts.webhookUrl ?? null,
      redirectUrl: opts.redirectUrl ?? null,
      isV1Channel: (id) => variance.isV1Channel(id),
    })
    loadSeed(this.state, this.seedKind)
    this.demo = new DemoMode(this.state)
    // A key's address is its channel's Messaging API on this simulator: Cloud, or on-premise for a
    // version 1 channel (local/simulator/messaging.ts).
    this.keys = new KeyRegistry({
      address: (channel) => opts.messagingUrl ?? this.messaging.addressFor(this.url, channel),
    })
    const keys = this.keys
    const state = this.state
    this.messaging = new SimMessaging(
      {
        channelFor: (apiKey) => {
          const found = keys.lookup(apiKey)
          return found?.active ? found.channelId : null
        },
      },
      {
        channel: (id) => {
          try {
            return state.getChannel(id)
          } catch {
            return null
          }
        },
      },
      this.clock,
    )
    this.dispatcher = new WebhookDispatcher({
      platformSecret: opts.platformSecret ?? 'local-platform-secret',
      url: () => this.state.partner.webhook_url,
      headers: opts.webhookHeaders ?? {},
      enabled: opts.deliverWebhooks ?? true,
      clock: this.clock,
      baseDelayMs: opts.webhookRetryBaseMs ?? 200,
      maxAttempts: opts.webhookMaxAttempts ?? 5,
      shape: (envelope) => variance.envelope(envelope),
    })
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) writeReply(res, metaReply(500, 'Internal server error'))
      })
    })
    this.server.keepAliveTimeout = 5000
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1'
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.server.once('error', onError)
      this.server.listen(this.opts.port ?? 0, host, () => {
        this.server.off('error', onError)
        resolve()
      })
    })
    const address = this.server.address() as AddressInfo
    const shownHost = host.includes(':') ? `[${host}]` : host
    this.url = `http://${shownHost}:${address.port}`
    this.baseUrl = `${this.url}/api/v2`
    const every = this.opts.autoAdvanceMs
    if (every !== undefined && every !== null && every > 0) this.demo.start(every, () => void this.tick())
  }

  // ---- public controls ---------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.demo.stop()
    for (const timer of this.latencyTimers) clearTimeout(timer)
    this.latencyTimers.clear()
    this.dispatcher.close()
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve())
      this.server.closeAllConnections()
    })
  }

  reset(): void {
    this.state.clear()
    loadSeed(this.state, this.seedKind)
    this.demo.reset()
    this.keys.clear()
    this.messaging.clear()
    this.injector.set({})
    this.balanceLimit.clear()
    this.log = []
    this.dispatcher.clear()
  }

  faults(): Faults {
    return this.injector.current
  }

  setFaults(f: Faults): void {
    this.injector.set(f)
  }

  requests(): RequestLogEntry[] {
    return this.log.map((e) => ({ ...e, query: { ...e.query } }))
  }

  clearRequests(): void {
    this.log = []
  }

  addClient(partial: ClientPartial = {}): UpstreamClientJson {
    return clone(this.state.addClient(partial))
  }

  addChannel(partial: ChannelPartial): UpstreamChannelJson {
    return clone(this.state.addChannel(partial))
  }

  generate(opts: GenerateOptions): { clients: number; channels: number } {
    this.state.generate(opts)
    return { clients: this.state.clientCount, channels: this.state.channelCount }
  }

  async advance(channelId: string): Promise<UpstreamChannelJson> {
    const change = this.state.advance(channelId)
    const result = clone(change.channel)
    await this.emit(change.events)
    return result
  }

  removeChannel(id: string): void {
    this.state.removeChannel(id)
  }

  mutateChannel(id: string, patch: object): UpstreamChannelJson {
    return clone(this.state.mutateChannel(id, patch))
  }

  mutateClient(id: string, patch: object): UpstreamClientJson {
    return clone(this.state.mutateClient(id, patch))
  }

  async onboard(
    opts: OnboardOptions = {},
  ): Promise<{ client: UpstreamClientJson; channels: UpstreamChannelJson[] }> {
    const result = this.state.onboard(opts)
    const out = { client: clone(result.client), channels: clone(result.channels) }
    await this.emit(result.events)
    return out
  }

  deliveries(): DeliveryLogEntry[] {
    return this.dispatcher.deliveries()
  }

  partner(): PartnerJson {
    return clone(this.state.partner)
  }

  async tick(): Promise<void> {
    if (this.closed) return
    await this.emit(this.demo.step())
    // Now and then a live channel's messaging health moves too (seen by the next health sweep).
    this.ticks += 1
    if (this.ticks % 3 === 0) this.messaging.demoStep(this.state.liveChannelIds(), this.healthRandom)
  }

  async setPermission(channelId: string, granted: boolean): Promise<UpstreamChannelJson> {
    const channel = this.state.getChannel(channelId)
    this.keys.setPermission(channelId, granted)
    const data = clone(channel)
    // Sent as is: this event is the moment integrations act on, its body must name the channel.
    await this.dispatcher.send(granted ? 'channel_permission_granted' : 'channel_permission_revoked', data)
    return data
  }

  setPaymentMode(clientId: string, mode: PaymentMode): void {
    this.state.getClient(clientId)
    this.keys.setPaymentMode(clientId, mode)
  }

  /** Sends events in order; each one's first attempt completes before the next starts. */
  private async emit(events: SimEvent[]): Promise<void> {
    for (const e of this.variance.expand(events)) await this.dispatcher.send(e.event, e.data)
  }

  /** Fire-and-forget delivery: an API answer never waits for a webhook. */
  private emitInBackground(events: SimEvent[]): void {
    const serialized = this.variance.expand(events).map((e) => this.dispatcher.send(e.event, e.data))
    void Promise.all(serialized)
  }

  // ---- HTTP --------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.local')
    const method = (req.method ?? 'GET').toUpperCase()
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      writeReply(res, await this.handleSim(req, method, url))
      return
    }
    if (SimMessaging.handles(url.pathname)) {
      writeReply(res, await this.messaging.handle(req, method, url.pathname, (ms) => this.sleep(ms)))
      return
    }
    if (url.pathname.startsWith('/dashboard/')) {
      writeReply(res, await this.handleHub(req, method, url))
      return
    }
    if (url.pathname !== '/api/v2' && !url.pathname.startsWith('/api/v2/')) {
      writeReply(res, metaReply(404, 'Not found'))
      return
    }
    const entry: RequestLogEntry = {
      method,
      path: url.pathname,
      query: queryObject(url.searchParams),
      time: this.clock().toISOString(),
      status: 0,
    }
    this.log.push(entry)
    if (this.log.length > MAX_REQUEST_LOG) this.log.splice(0, this.log.length - MAX_REQUEST_LOG)

    const latency = this.injector.current.latencyMs
    if (latency && latency > 0) await this.sleep(latency)
    if (this.closed) return
    const limited = this.injector.rateLimited()
    if (limited !== null) {
      const reply = metaReply(429, 'Too many requests')
      reply.headers = { 'retry-after': String(limited) }
      entry.status = 429
      writeReply(res, reply)
      return
    }
    if (this.injector.fails()) {
      entry.status = 503
      writeReply(res, metaReply(503, 'Service temporarily unavailable'))
      return
    }

    let reply: Reply
    try {
      const raw = await readBody(req)
      const body = parseBody(raw, req.headers['content-type'])
      reply = await this.handleApi(req, method, url, body)
    } catch (err) {
      reply = errorReply(err)
    }
    const mutating = method !== 'GET' && method !== 'HEAD'
    if (mutating && this.injector.dropsAfterCommit()) {
      entry.status = 0
      req.socket.destroy()
      return
    }
    entry.status = reply.status
    writeReply(res, reply)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.latencyTimers.delete(timer)
        resolve()
      }, ms)
      this.latencyTimers.add(timer)
    })
  }

  private async handleApi(req: IncomingMessage, method: string, url: URL, body: unknown): Promise<Reply> {
    const seg = segmentsOf(url.pathname.slice('/api/v2'.length))
    if (seg === null) return metaReply(404, 'Not found')
    if (seg.length === 1 && seg[0] === 'token') {
      return method === 'POST' ? this.auth.issueToken(body) : metaReply(405, 'Method not allowed')
    }
    const denied = this.auth.deny(req)
    if (denied) return denied
    if (seg[0] !== 'partners' || seg[1] === undefined) return metaReply(404, 'Not found')
    if (seg[1] !== this.partnerId) return metaReply(404, 'Partner not found')
    const rest = seg.slice(2)
    const [a, b, c, d, e, f] = rest
    const state = this.state
    const only = (allowed: string, run: () => Reply | Promise<Reply>): Reply | Promise<Reply> =>
      method === allowed ? run() : metaReply(405, 'Method not allowed')

    if (rest.length === 0) {
      if (method === 'GET') return { status: 200, body: state.partner }
      if (method === 'PATCH') return { status: 200, body: state.patchPartner(body) }
      return metaReply(405, 'Method not allowed')
    }
    if (a === 'webhook_url' && rest.length === 1) {
      if (method === 'GET') return { status: 200, body: { webhook_url: state.partner.webhook_url } }
      if (method === 'POST') return { status: 200, body: state.setWebhookUrl(body) }
      return metaReply(405, 'Method not allowed')
    }
    if (a === 'clients') {
      if (rest.length === 1) return only('GET', () => this.list('clients', url))
      if (b === undefined) return metaReply(404, 'Not found')
      if (rest.length === 2) {
        if (method === 'GET') return { status: 200, body: this.variance.client(state.getClient(b)) }
        if (method === 'PATCH') return { status: 200, body: this.variance.client(state.patchClient(b, body)) }
        return metaReply(405, 'Method not allowed')
      }
      if (rest.length === 4 && c === 'info' && d === 'balance') {
        const wait = method === 'GET' ? this.balanceLimit.take(b, this.clock().getTime()) : null
        if (wait !== null) {
          const reply = metaReply(429, 'Too many requests')
          reply.headers = { 'retry-after': String(wait) }
          return reply
        }
        return only('GET', () => {
          state.getClient(b)
          const granularity = url.searchParams.get('granularity') ?? 'MONTH'
          if (granularity !== 'DAY' && granularity !== 'MONTH')
            throw wrongPayload('granularity: DAY or MONTH')
          return { status: 200, body: balanceFor(b, granularity, this.clock()) }
        })
      }
      if (rest.length === 6 && c === 'channels' && d !== undefined && e === 'control') {
        if (f === 'cancellation_request' || f === 'reactivate') {
          return only('POST', () => {
            const enabled = f === 'reactivate' ? false : enabledFlag(body)
            const change = state.cancellation(b, d, enabled)
            this.emitInBackground(change.events)
            return { status: 200, body: this.variance.channel(change.channel) }
          })
        }
      }
      return metaReply(404, 'Not found')
    }
    if (a === 'channels') {
      if (rest.length === 1) return only('GET', () => this.list('channels', url))
      if (rest.length === 2 && b !== undefined)
        return only('GET', () => ({ status: 200, body: state.getChannel(b) }))
      if (rest.length === 3 && b !== undefined && c === 'api_keys') {
        return (
          apiKeysRoute(this.keys, method, () => state.getChannel(b)) ?? metaReply(405, 'Method not allowed')
        )
      }
    }
    return metaReply(404, 'Not found')
  }

  private async list(kind: ListKind, url: URL): Promise<Reply> {
    const query = parseListQuery(url.searchParams, this.maxPageSize, this.defaultPageSize)
    if (this.onList) await this.onList(kind, query.offset)
    // The envelope is always the documented one; only its items may show variants.
    if (kind === 'clients') {
      const { items, ...envelope } = this.state.listClients(query)
      return { status: 200, body: { ...envelope, clients: items.map((c) => this.variance.client(c)) } }
    }
    const { items, ...envelope } = this.state.listChannels(query)
    return {
      status: 200,
      body: { ...envelope, partner_channels: items.map((c) => this.variance.channel(c)) },
    }
  }

  // ---- /_sim -------------------------------------------------------------------------------------

  private async handleSim(req: IncomingMessage, method: string, url: URL): Promise<Reply> {
    try {
      const seg = (segmentsOf(url.pathname) ?? []).slice(1)
      if (seg.length === 0 && method === 'GET') {
        const wantsHtml = (req.headers.accept ?? '').includes('text/html')
        return wantsHtml
          ? { status: 200, html: controlsPage(CONTROL_ROUTES, this.baseUrl, this.partnerId) }
          : {
              status: 200,
              body: { baseUrl: this.baseUrl, partnerId: this.partnerId, controls: CONTROL_ROUTES },
            }
      }
      const raw = await readBody(req)
      const body = parseBody(raw, req.headers['content-type'])
      return await controlRoute(this, method, seg, body)
    } catch (err) {
      return errorReply(err)
    }
  }

  // ---- Hub pages ---------------------------------------------------------------------------------

  private async handleHub(req: IncomingMessage, method: string, url: URL): Promise<Reply> {
    const seg = segmentsOf(url.pathname)
    if (
      seg === null ||
      seg.length !== 4 ||
      seg[1] !== 'app' ||
      seg[3] !== 'permissions' ||
      seg[2] === undefined
    ) {
      return htmlReply(404, 'Not found', 'The simulator serves only the permission page of the Hub.')
    }
    try {
      const form = method === 'POST' ? parseBody(await readBody(req), req.headers['content-type']) : undefined
      return await permissionRoute(this, method, seg[2], url, form)
    } catch (err) {
      const reply = errorReply(err)
      return htmlReply(reply.status, 'Request refused', 'The form could not be read.')
    }
  }
}

/** The cancellation body: none or `{"enabled": true}` requests, `{"enabled": false}` revokes. */
function enabledFlag(body: unknown): boolean {
  if (body === undefined || body === null) return true
  if (!isPlainObject(body)) throw wrongPayload('body: must be a JSON object')
  const enabled = body['enabled']
  if (enabled === undefined) return true
  if (typeof enabled !== 'boolean') throw wrongPayload('enabled: must be a boolean')
  return enabled
}

/** Starts the Partner API simulator (port 0 = ephemeral) and resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new PartnerApiSimulator(opts)
  await sim.listen()
  return sim
}

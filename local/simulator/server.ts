import { createHmac, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { NotFoundError, PartnerOpsError, ValidationError } from '../../shared/domain/errors'
import { loadSeed, type SeedKind } from './seed'
import {
  balanceFor,
  type GenerateOptions,
  parseListQuery,
  type SimEvent,
  SimState,
  seededRandom,
  wrongPayload,
} from './state'
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
import { WebhookDispatcher } from './webhooks'

export type {
  DeliveryLogEntry,
  Faults,
  RequestLogEntry,
  UpstreamChannelJson,
  UpstreamClientJson,
} from './types'

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
  users?: { username: string; password: string }[]
  /** Bearer token lifetime; default 86400. */
  tokenTtlSeconds?: number
  /** HMAC key of x-360dialog-signature; default 'local-platform-secret'. */
  platformSecret?: string
  /** Initial partner webhook_url (also settable through the API). */
  webhookUrl?: string | null
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
  setFaults(f: Faults): void
  requests(): RequestLogEntry[]
  clearRequests(): void
  addClient(partial?: ClientPartial): UpstreamClientJson
  addChannel(partial: ChannelPartial): UpstreamChannelJson
  generate(opts: GenerateOptions): void
  advance(channelId: string): Promise<UpstreamChannelJson>
  removeChannel(id: string): void
  mutateChannel(id: string, patch: object): UpstreamChannelJson
  onList?: ListHook | undefined
  onboard(opts?: { partner_payload?: string; channels?: number; name?: string }): Promise<{
    client: UpstreamClientJson
    channels: UpstreamChannelJson[]
  }>
  deliveries(): DeliveryLogEntry[]
  /** Current partner object (webhook_url etc.). */
  partner(): PartnerJson
  /** One demo-mode step now (due cancellations, then one channel forward); resolves after first delivery attempts. */
  tick(): Promise<void>
}

interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}

const MAX_BODY = 1024 * 1024
const MAX_REQUEST_LOG = 50_000

function meta(status: number, message: string, details?: string[]): Reply {
  const body: Record<string, unknown> = { success: false, http_code: status, developer_message: message }
  if (details && details.length > 0) body['details'] = details
  return { status, body: { meta: body } }
}

function errorReply(err: unknown): Reply {
  if (err instanceof PartnerOpsError) {
    const raw = err.details?.['details']
    const details = Array.isArray(raw) ? raw.filter((d): d is string => typeof d === 'string') : undefined
    return meta(err.status, err.message, details)
  }
  return meta(500, 'Internal server error')
}

function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [key, value] of params) {
    const prev = out[key]
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return out
}

function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined
  const text = raw.toString('utf8')
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  try {
    return JSON.parse(text)
  } catch {
    throw wrongPayload('body: invalid JSON')
  }
}

class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError'
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        reject(new BodyTooLargeError('body too large'))
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function segmentsOf(path: string): string[] | null {
  try {
    return path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s))
  } catch {
    return null
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function clone<T>(value: T): T {
  return structuredClone(value)
}

/**
 * In-process 360dialog Partner API v2 simulator on node:http: the documented routes, auth, list
 * envelopes and error bodies, lifecycle steps with signed webhooks, fault injection and `/_sim`
 * test controls (contract §6).
 */
class PartnerApiSimulator implements Simulator {
  url = ''
  baseUrl = ''
  readonly partnerId: string
  onList: ListHook | undefined = undefined

  private readonly state: SimState
  private readonly dispatcher: WebhookDispatcher
  private readonly server: Server
  private readonly apiKeys: Set<string>
  private readonly users: { username: string; password: string }[]
  private readonly tokens = new Map<string, number>()
  private readonly tokenSecret = randomBytes(32)
  private readonly clock: () => Date
  private readonly random = seededRandom(360)
  private readonly seedKind: SeedKind
  private faults: Faults = {}
  private rateWindow: number[] = []
  private log: RequestLogEntry[] = []
  private readonly latencyTimers = new Set<NodeJS.Timeout>()
  private autoTimer: NodeJS.Timeout | null = null
  private closed = false

  constructor(private readonly opts: SimulatorOptions) {
    this.clock = opts.clock ?? (() => new Date())
    this.partnerId = opts.partnerId ?? 'demoPA'
    this.apiKeys = new Set(opts.apiKeys ?? ['local-partner-api-key'])
    this.users = opts.users ?? [{ username: 'demo@partnerops.local', password: 'local-password' }]
    this.seedKind = opts.seed ?? 'demo'
    const maxPageSize = Math.max(1, opts.maxPageSize ?? 1000)
    this.state = new SimState({
      partnerId: this.partnerId,
      clock: this.clock,
      webhookUrl: opts.webhookUrl ?? null,
      maxPageSize,
      defaultPageSize: Math.min(Math.max(1, opts.defaultPageSize ?? 100), maxPageSize),
    })
    loadSeed(this.state, this.seedKind)
    this.dispatcher = new WebhookDispatcher({
      platformSecret: opts.platformSecret ?? 'local-platform-secret',
      url: () => this.state.partner.webhook_url,
      headers: opts.webhookHeaders ?? {},
      enabled: opts.deliverWebhooks ?? true,
      clock: this.clock,
      baseDelayMs: opts.webhookRetryBaseMs ?? 200,
      maxAttempts: opts.webhookMaxAttempts ?? 5,
    })
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) this.write(res, meta(500, 'Internal server error'))
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
    if (every !== undefined && every !== null && every > 0) {
      this.autoTimer = setInterval(() => void this.tick(), every)
      this.autoTimer.unref()
    }
  }

  // ---- public controls ---------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.autoTimer) clearInterval(this.autoTimer)
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
    this.faults = {}
    this.rateWindow = []
    this.log = []
    this.dispatcher.clear()
  }

  setFaults(f: Faults): void {
    const faults: Faults = {}
    for (const key of ['latencyMs', 'errorRate', 'rateLimitPerMinute', 'dropAfterCommitRate'] as const) {
      const value = f[key]
      if (value === undefined || value === null) continue
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw wrongPayload(`${key}: must be a non-negative number`)
      }
      if ((key === 'errorRate' || key === 'dropAfterCommitRate') && value > 1) {
        throw wrongPayload(`${key}: must be between 0 and 1`)
      }
      faults[key] = value
    }
    this.faults = faults
    this.rateWindow = []
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

  generate(opts: GenerateOptions): void {
    this.state.generate(opts)
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

  async onboard(
    opts: { partner_payload?: string; channels?: number; name?: string } = {},
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
    await this.emit(this.state.tick(this.random))
  }

  /** Sends events in order; each one's first attempt completes before the next starts. */
  private async emit(events: SimEvent[]): Promise<void> {
    for (const e of events) await this.dispatcher.send(e.event, e.data)
  }

  /** Fire-and-forget delivery: an API answer never waits for a webhook. */
  private emitInBackground(events: SimEvent[]): void {
    const serialized = events.map((e) => this.dispatcher.send(e.event, e.data))
    void Promise.all(serialized)
  }

  // ---- HTTP --------------------------------------------------------------------------------------

  private write(res: ServerResponse, reply: Reply): void {
    if (res.headersSent || res.destroyed) return
    const headers: Record<string, string> = { ...reply.headers }
    if (reply.body === undefined) {
      res.writeHead(reply.status, headers)
      res.end()
      return
    }
    const payload = JSON.stringify(reply.body)
    headers['content-type'] = 'application/json'
    headers['content-length'] = String(Buffer.byteLength(payload))
    res.writeHead(reply.status, headers)
    res.end(payload)
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator.local')
    const method = (req.method ?? 'GET').toUpperCase()
    if (url.pathname === '/_sim' || url.pathname.startsWith('/_sim/')) {
      this.write(res, await this.handleSim(req, method, url))
      return
    }
    if (url.pathname !== '/api/v2' && !url.pathname.startsWith('/api/v2/')) {
      this.write(res, meta(404, 'Not found'))
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

    const faults = this.faults
    if (faults.latencyMs && faults.latencyMs > 0) await this.sleep(faults.latencyMs)
    if (this.closed) return
    const limited = this.rateLimited()
    if (limited !== null) {
      const reply = meta(429, 'Too many requests')
      reply.headers = { 'retry-after': String(limited) }
      entry.status = 429
      this.write(res, reply)
      return
    }
    if (faults.errorRate && Math.random() < faults.errorRate) {
      entry.status = 503
      this.write(res, meta(503, 'Service temporarily unavailable'))
      return
    }

    let reply: Reply
    try {
      const raw = await readBody(req)
      const body = parseBody(raw, req.headers['content-type'])
      reply = await this.handleApi(req, method, url, body)
    } catch (err) {
      reply = err instanceof BodyTooLargeError ? meta(413, 'Request body too large') : errorReply(err)
    }
    const mutating = method !== 'GET' && method !== 'HEAD'
    if (mutating && faults.dropAfterCommitRate && Math.random() < faults.dropAfterCommitRate) {
      entry.status = 0
      req.socket.destroy()
      return
    }
    entry.status = reply.status
    this.write(res, reply)
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

  /** Seconds to wait when over the per-minute budget, else null (and the request is counted). */
  private rateLimited(): number | null {
    const limit = this.faults.rateLimitPerMinute
    if (limit === undefined) return null
    const now = performance.now()
    this.rateWindow = this.rateWindow.filter((t) => t > now - 60_000)
    if (this.rateWindow.length >= limit) {
      const oldest = this.rateWindow[0] ?? now
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000))
    }
    this.rateWindow.push(now)
    return null
  }

  private issueToken(body: unknown): Reply {
    const creds = isPlainObject(body) ? body : {}
    const user = this.users.find((u) => u.username === creds['username'] && u.password === creds['password'])
    if (!user) {
      return { status: 401, body: { error: 'invalid_grant', error_description: 'Wrong email or password.' } }
    }
    const ttl = this.opts.tokenTtlSeconds ?? 86400
    const nowMs = this.clock().getTime()
    const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url')
    const header = b64({ alg: 'HS256', typ: 'JWT' })
    const payload = b64({
      sub: user.username,
      iat: Math.floor(nowMs / 1000),
      exp: Math.floor(nowMs / 1000) + ttl,
      jti: randomBytes(8).toString('hex'),
    })
    const signature = createHmac('sha256', this.tokenSecret)
      .update(`${header}.${payload}`)
      .digest('base64url')
    const token = `${header}.${payload}.${signature}`
    this.tokens.set(token, nowMs + ttl * 1000)
    return {
      status: 200,
      body: {
        access_token: token,
        token_type: 'bearer',
        expires_in: ttl,
        refresh_token: `rt_${randomBytes(16).toString('hex')}`,
      },
    }
  }

  private authError(req: IncomingMessage): Reply | null {
    const key = req.headers['x-api-key']
    const auth = req.headers.authorization
    if (typeof key === 'string' && key !== '') {
      return this.apiKeys.has(key) ? null : meta(401, 'Invalid API key')
    }
    if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) {
      const token = auth.replace(/^bearer\s+/i, '').trim()
      const expiresAt = this.tokens.get(token)
      if (expiresAt === undefined) return meta(401, 'Invalid token')
      if (expiresAt <= this.clock().getTime()) {
        this.tokens.delete(token)
        return meta(401, 'Token expired')
      }
      return null
    }
    return meta(401, 'Missing authentication: send X-API-Key or Authorization: Bearer')
  }

  private async handleApi(req: IncomingMessage, method: string, url: URL, body: unknown): Promise<Reply> {
    const seg = segmentsOf(url.pathname.slice('/api/v2'.length))
    if (seg === null) return meta(404, 'Not found')
    if (seg.length === 1 && seg[0] === 'token') {
      return method === 'POST' ? this.issueToken(body) : meta(405, 'Method not allowed')
    }
    const denied = this.authError(req)
    if (denied) return denied
    if (seg[0] !== 'partners' || seg[1] === undefined) return meta(404, 'Not found')
    if (seg[1] !== this.partnerId) return meta(404, 'Partner not found')
    const rest = seg.slice(2)
    const [a, b, c, d, e, f] = rest
    const state = this.state
    const only = (allowed: string, run: () => Reply | Promise<Reply>): Reply | Promise<Reply> =>
      method === allowed ? run() : meta(405, 'Method not allowed')

    if (rest.length === 0) {
      if (method === 'GET') return { status: 200, body: state.partner }
      if (method === 'PATCH') return { status: 200, body: state.patchPartner(body) }
      return meta(405, 'Method not allowed')
    }
    if (a === 'webhook_url' && rest.length === 1) {
      if (method === 'GET') return { status: 200, body: { webhook_url: state.partner.webhook_url } }
      if (method === 'POST') return { status: 200, body: state.setWebhookUrl(body) }
      return meta(405, 'Method not allowed')
    }
    if (a === 'clients') {
      if (rest.length === 1) return only('GET', () => this.list('clients', url))
      if (b === undefined) return meta(404, 'Not found')
      if (rest.length === 2) {
        if (method === 'GET') return { status: 200, body: state.getClient(b) }
        if (method === 'PATCH') return { status: 200, body: state.patchClient(b, body) }
        return meta(405, 'Method not allowed')
      }
      if (rest.length === 4 && c === 'info' && d === 'balance') {
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
            const enabled = f === 'reactivate' ? false : this.enabledFlag(body)
            const change = state.cancellation(b, d, enabled)
            this.emitInBackground(change.events)
            return { status: 200, body: change.channel }
          })
        }
      }
      return meta(404, 'Not found')
    }
    if (a === 'channels') {
      if (rest.length === 1) return only('GET', () => this.list('channels', url))
      if (rest.length === 2 && b !== undefined)
        return only('GET', () => ({ status: 200, body: state.getChannel(b) }))
    }
    return meta(404, 'Not found')
  }

  private enabledFlag(body: unknown): boolean {
    if (body === undefined || body === null) return true
    if (!isPlainObject(body)) throw wrongPayload('body: must be a JSON object')
    const enabled = body['enabled']
    if (enabled === undefined) return true
    if (typeof enabled !== 'boolean') throw wrongPayload('enabled: must be a boolean')
    return enabled
  }

  private async list(kind: ListKind, url: URL): Promise<Reply> {
    const { maxPageSize, defaultPageSize } = this.pageSizes()
    const query = parseListQuery(url.searchParams, maxPageSize, defaultPageSize)
    if (this.onList) await this.onList(kind, query.offset)
    const page = kind === 'clients' ? this.state.listClients(query) : this.state.listChannels(query)
    const { items, ...envelope } = page
    return {
      status: 200,
      body: { ...envelope, [kind === 'clients' ? 'clients' : 'partner_channels']: items },
    }
  }

  private pageSizes(): { maxPageSize: number; defaultPageSize: number } {
    const maxPageSize = Math.max(1, this.opts.maxPageSize ?? 1000)
    return {
      maxPageSize,
      defaultPageSize: Math.min(Math.max(1, this.opts.defaultPageSize ?? 100), maxPageSize),
    }
  }

  // ---- /_sim -------------------------------------------------------------------------------------

  private async handleSim(req: IncomingMessage, method: string, url: URL): Promise<Reply> {
    try {
      const raw = await readBody(req)
      const body = parseBody(raw, req.headers['content-type'])
      const seg = segmentsOf(url.pathname) ?? []
      const [, a, b, c] = seg
      const obj = (): Record<string, unknown> => {
        if (body === undefined) return {}
        if (!isPlainObject(body)) throw wrongPayload('body: must be a JSON object')
        return body
      }
      if (a === 'clients' && seg.length === 2 && method === 'POST') {
        return { status: 201, body: this.addClient(obj() as ClientPartial) }
      }
      if (a === 'channels' && seg.length === 2 && method === 'POST') {
        const partial = obj()
        if (typeof partial['client_id'] !== 'string') throw new ValidationError('client_id: required')
        return { status: 201, body: this.addChannel(partial as ChannelPartial) }
      }
      if (a === 'channels' && b !== undefined && seg.length === 4 && c === 'advance' && method === 'POST') {
        return { status: 200, body: await this.advance(b) }
      }
      if (a === 'channels' && b !== undefined && seg.length === 3) {
        if (method === 'PATCH') return { status: 200, body: this.mutateChannel(b, obj()) }
        if (method === 'DELETE') {
          this.removeChannel(b)
          return { status: 204 }
        }
      }
      if (a === 'faults' && seg.length === 2) {
        if (method === 'GET') return { status: 200, body: this.faults }
        if (method === 'POST') {
          this.setFaults(obj() as Faults)
          return { status: 200, body: this.faults }
        }
      }
      if (a === 'requests' && seg.length === 2) {
        if (method === 'GET') return { status: 200, body: this.requests() }
        if (method === 'DELETE') {
          this.clearRequests()
          return { status: 204 }
        }
      }
      if (a === 'deliveries' && seg.length === 2 && method === 'GET')
        return { status: 200, body: this.deliveries() }
      if (a === 'reset' && seg.length === 2 && method === 'POST') {
        this.reset()
        return { status: 200, body: { status: 'reset' } }
      }
      if (a === 'onboard' && seg.length === 2 && method === 'POST') {
        const o = obj()
        const opts: { partner_payload?: string; channels?: number; name?: string } = {}
        if (typeof o['partner_payload'] === 'string') opts.partner_payload = o['partner_payload']
        if (typeof o['name'] === 'string') opts.name = o['name']
        if (typeof o['channels'] === 'number') opts.channels = o['channels']
        return { status: 201, body: await this.onboard(opts) }
      }
      if (a === 'generate' && seg.length === 2 && method === 'POST') {
        const o = obj()
        const clients = Number(o['clients'] ?? 0)
        const gen: GenerateOptions = { clients }
        if (o['channelsPerClient'] !== undefined) gen.channelsPerClient = Number(o['channelsPerClient'])
        if (o['channels'] !== undefined) gen.channels = Number(o['channels'])
        if (
          ![clients, gen.channelsPerClient ?? 0, gen.channels ?? 0].every(
            (n) => Number.isInteger(n) && n >= 0,
          )
        ) {
          throw wrongPayload('clients, channelsPerClient, channels: non-negative integers')
        }
        this.generate(gen)
        return { status: 200, body: { clients: this.state.clientCount, channels: this.state.channelCount } }
      }
      if (a === 'tick' && seg.length === 2 && method === 'POST') {
        await this.tick()
        return { status: 200, body: { status: 'ticked' } }
      }
      throw new NotFoundError('Not found')
    } catch (err) {
      return err instanceof BodyTooLargeError ? meta(413, 'Request body too large') : errorReply(err)
    }
  }
}

/** Starts the Partner API simulator (port 0 = ephemeral) and resolves once it listens. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const sim = new PartnerApiSimulator(opts)
  await sim.listen()
  return sim
}

import type { UpstreamApiKey } from '../../shared/domain/channel-key'
import { UpstreamError } from '../../shared/domain/errors'
import type {
  UpstreamBalance,
  UpstreamChannel,
  UpstreamClient,
  UpstreamPartner,
} from '../../shared/domain/upstream'
import type { IterateOptions, ListPage, ListQuery, PartnerApi, PartnerApiStats } from '../../shared/ports'

type Failure = () => Error

/** The balance endpoint's documented limit (docs/partner-api-notes.md §2a): 5 calls per 30 s. */
const BALANCE_CALLS_PER_WINDOW = 5
const BALANCE_WINDOW_MS = 30_000

/** Where the fake stands in time unless told otherwise: the unit-test clocks' month (January 2026). */
const DEFAULT_NOW = '2026-01-15T00:00:00.000Z'

function refused(status: number, message: string): UpstreamError {
  // What the real client throws for a 4xx: not retryable, the upstream developer_message kept.
  return new UpstreamError(`Upstream refused the request: ${message}`, {
    upstreamStatus: status,
    retryable: false,
    upstreamMessage: message,
  })
}

function endOfUtcMonth(now: Date): string {
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0, 23, 59, 59)
  return new Date(end).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function getPath(value: unknown, path: string): unknown {
  let current: unknown = value
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined
    current = (current as Record<string, unknown>)[part]
  }
  return current
}

function matches(item: object, filters: Record<string, unknown>): boolean {
  return Object.entries(filters).every(([path, expected]) => {
    const actual = getPath(item, path)
    return expected === null ? actual === null || actual === undefined : actual === expected
  })
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0
  if (a === null || a === undefined) return -1
  if (b === null || b === undefined) return 1
  return String(a) < String(b) ? -1 : 1
}

/**
 * In-memory PartnerApi for service unit tests. It keeps to the same expectations as the simulator
 * behind the real client (test/integration/partner-api/partner-api-contract.ts): list filters are
 * equality on dotted paths, `sort` keys (`-` descends) with ties and the default order by id;
 * cancellation ends at the end of the fake's current month and a repeat changes nothing; refusals
 * are the client's non-retryable UpstreamErrors with upstream's message. `failNext` queues errors for
 * named methods; `calls` records every call by method name.
 */
export class FakePartnerApi implements PartnerApi {
  readonly clients = new Map<string, UpstreamClient>()
  readonly channels = new Map<string, UpstreamChannel>()
  partner: UpstreamPartner = {
    id: 'testPA',
    brand_name: 'Test',
    webhook_url: null,
    partner_redirect_url: null,
  }
  readonly calls: { method: string; args: unknown[] }[] = []
  /** The current Messaging API key per channel (creating one replaces, i.e. revokes, the earlier). */
  readonly apiKeys = new Map<string, UpstreamApiKey>()
  /** Channels whose client has not granted API-key permission (Direct Payment): creation answers 403. */
  readonly keyPermissionMissing = new Set<string>()
  /** Every key value ever issued, and whether it is still the channel's current one. */
  readonly issuedKeys = new Map<string, { channelId: string; active: boolean }>()
  /** Balance bodies by client id (a default one otherwise). */
  readonly balances = new Map<string, UpstreamBalance>()
  private readonly balanceCalls = new Map<string, number[]>()
  pageSize = 100
  private keySequence = 0
  private readonly failures = new Map<string, Failure[]>()
  private readonly counters: PartnerApiStats = { calls: 0, retries: 0 }
  private readonly now: () => Date

  constructor(opts: { now?: () => Date } = {}) {
    this.now = opts.now ?? (() => new Date(DEFAULT_NOW))
  }

  /** Makes the next call(s) of `method` throw. */
  failNext(method: keyof PartnerApi, ...errors: Failure[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...errors])
  }

  /** Count of recorded calls of one method. */
  callCount(method: keyof PartnerApi): number {
    return this.calls.filter((c) => c.method === method).length
  }

  /** Puts a client upstream, with defaults for what is not given (no partner payload unless given). */
  addClient(partial: Partial<UpstreamClient> & { id: string }): UpstreamClient {
    const at = this.now().toISOString()
    const client: UpstreamClient = {
      name: `Client ${partial.id}`,
      status: 'active',
      partner_payload: null,
      max_channels: 10,
      created_at: at,
      modified_at: at,
      ...partial,
    }
    this.clients.set(client.id, client)
    return structuredClone(client)
  }

  /** Puts a draft channel upstream (sandbox, no app id, not terminated) unless told otherwise. */
  addChannel(partial: Partial<UpstreamChannel> & { id: string; client_id: string }): UpstreamChannel {
    const at = this.now().toISOString()
    const channel: UpstreamChannel = {
      status: 'created',
      account_mode: 'sandbox',
      created_at: at,
      modified_at: at,
      billing_started_at: null,
      terminated_at: null,
      integration: { enabled: false, app_id: null, state: 'pending' },
      ...partial,
    }
    this.channels.set(channel.id, channel)
    return structuredClone(channel)
  }

  /**
   * Changes a channel upstream behind PartnerOps' back, like the simulator's mutateChannel: merges the
   * patch and stamps `modified_at` later than the fake's now and than the channel's previous stamp.
   */
  mutateChannel(id: string, patch: Partial<UpstreamChannel>): UpstreamChannel {
    const c = this.channels.get(id)
    if (!c) throw new Error(`no channel ${id}`)
    const previous = Date.parse(c.modified_at ?? '') || 0
    const stamp = new Date(Math.max(this.now().getTime(), previous + 1)).toISOString()
    const next = { ...c, ...patch, modified_at: stamp }
    this.channels.set(id, next)
    return structuredClone(next)
  }

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args })
    this.counters.calls++
    const queue = this.failures.get(method)
    const next = queue?.shift()
    if (next) throw next()
  }

  private page<T extends { id: string }>(all: T[], q: ListQuery = {}): ListPage<T> {
    const keys = (q.sort ?? []).map((k) => ({ desc: k.startsWith('-'), path: k.replace(/^[-+]/, '') }))
    const filtered = all
      .filter((item) => matches(item, q.filters ?? {}))
      .sort((a, b) => {
        for (const k of keys) {
          const c = compare(getPath(a, k.path), getPath(b, k.path))
          if (c !== 0) return k.desc ? -c : c
        }
        return compare(a.id, b.id)
      })
    const offset = q.offset ?? 0
    const limit = Math.min(q.limit ?? this.pageSize, this.pageSize)
    return {
      items: structuredClone(filtered.slice(offset, offset + limit)),
      total: filtered.length,
      offset,
      limit,
      sort: q.sort ?? [],
    }
  }

  private async *walk<T extends { id: string }>(
    all: () => T[],
    opts: IterateOptions = {},
  ): AsyncIterable<T[]> {
    const {
      concurrency: _c,
      budgetMs: _b,
      signal: _s,
      startOffset,
      onPage,
      onComplete,
      onQuarantined: _q,
      ...query
    } = opts
    let offset = startOffset ?? 0
    let walked = 0
    let total = 0
    for (;;) {
      const p = this.page(all(), { ...query, offset })
      total = p.total
      onPage?.({ offset, received: p.items.length, total: p.total })
      if (p.items.length === 0) break
      walked += p.items.length
      yield p.items
      offset += p.items.length
      if (offset >= p.total) break
    }
    onComplete?.({ total, walked })
  }

  async getPartner(): Promise<UpstreamPartner> {
    this.record('getPartner')
    return structuredClone(this.partner)
  }
  async patchPartner(patch: {
    webhook_url?: string
    partner_redirect_url?: string
  }): Promise<UpstreamPartner> {
    this.record('patchPartner', patch)
    this.partner = { ...this.partner, ...patch }
    return structuredClone(this.partner)
  }
  async getWebhookUrl(): Promise<string | null> {
    this.record('getWebhookUrl')
    return this.partner.webhook_url ?? null
  }
  async setWebhookUrl(url: string, headers?: Record<string, string>): Promise<void> {
    this.record('setWebhookUrl', url, headers)
    this.partner = { ...this.partner, webhook_url: url }
  }
  async listClients(query?: ListQuery): Promise<ListPage<UpstreamClient>> {
    this.record('listClients', query)
    return this.page([...this.clients.values()], query)
  }
  iterateClients(opts?: IterateOptions): AsyncIterable<UpstreamClient[]> {
    this.record('iterateClients', opts)
    return this.walk(() => [...this.clients.values()], opts)
  }
  async patchClient(
    clientId: string,
    patch: { max_channels?: number; partner_payload?: string },
  ): Promise<UpstreamClient> {
    this.record('patchClient', clientId, patch)
    const c = this.clients.get(clientId)
    if (!c) throw refused(404, 'Client not found')
    const next = { ...c, ...patch, modified_at: bump(c.modified_at) }
    this.clients.set(clientId, next)
    return structuredClone(next)
  }
  /**
   * The balance endpoint with its documented limit: 5 calls per client in 30 s, then a 429 with
   * `Retry-After` until the oldest of them leaves the window (as the client throws it: one attempt).
   */
  async getClientBalance(clientId: string): Promise<UpstreamBalance> {
    this.record('getClientBalance', clientId)
    const now = this.now().getTime()
    const recent = (this.balanceCalls.get(clientId) ?? []).filter((t) => t > now - BALANCE_WINDOW_MS)
    if (recent.length >= BALANCE_CALLS_PER_WINDOW) {
      const retryAfterSeconds = Math.max(1, Math.ceil(((recent[0] ?? now) + BALANCE_WINDOW_MS - now) / 1000))
      throw new UpstreamError('partner API balance rate limited', {
        upstreamStatus: 429,
        retryable: true,
        code: 'upstream_rate_limited',
        upstreamMessage: 'Too many requests',
        retryAfterSeconds,
      })
    }
    this.balanceCalls.set(clientId, [...recent, now])
    if (!this.clients.has(clientId)) throw refused(404, 'Client not found')
    return structuredClone(
      this.balances.get(clientId) ?? {
        balance: 12.5,
        currency: 'USD',
        last_renewal: { date: '2026-01-01T00:00:00Z', amount: 50 },
      },
    )
  }
  async listChannels(query?: ListQuery): Promise<ListPage<UpstreamChannel>> {
    this.record('listChannels', query)
    return this.page([...this.channels.values()], query)
  }
  iterateChannels(opts?: IterateOptions): AsyncIterable<UpstreamChannel[]> {
    this.record('iterateChannels', opts)
    return this.walk(() => [...this.channels.values()], opts)
  }
  async findChannel(channelId: string): Promise<UpstreamChannel | null> {
    this.record('findChannel', channelId)
    const c = this.channels.get(channelId)
    return c ? structuredClone(c) : null
  }
  async findClient(clientId: string): Promise<UpstreamClient | null> {
    this.record('findClient', clientId)
    const c = this.clients.get(clientId)
    return c ? structuredClone(c) : null
  }
  /** The client's channel, or the 404 upstream answers for another client's or an unknown one. */
  private ownChannel(clientId: string, channelId: string): UpstreamChannel {
    const c = this.channels.get(channelId)
    if (!c || c.client_id !== clientId) throw refused(404, 'Channel not found')
    return c
  }
  private terminated(c: UpstreamChannel): boolean {
    if (c.status === 'terminated') return true
    const at = c.terminated_at ? Date.parse(c.terminated_at) : Number.NaN
    return !Number.isNaN(at) && at <= this.now().getTime()
  }
  async requestCancellation(clientId: string, channelId: string): Promise<UpstreamChannel> {
    this.record('requestCancellation', clientId, channelId)
    const c = this.ownChannel(clientId, channelId)
    if (this.terminated(c)) throw refused(400, 'Wrong payload')
    if (c.terminated_at) return structuredClone(c)
    const next = { ...c, terminated_at: endOfUtcMonth(this.now()), modified_at: bump(c.modified_at) }
    this.channels.set(channelId, next)
    return structuredClone(next)
  }
  async revokeCancellation(clientId: string, channelId: string): Promise<UpstreamChannel> {
    this.record('revokeCancellation', clientId, channelId)
    const c = this.ownChannel(clientId, channelId)
    if (!c.terminated_at || this.terminated(c)) throw refused(400, 'Wrong payload')
    const next = { ...c, terminated_at: null, modified_at: bump(c.modified_at) }
    this.channels.set(channelId, next)
    return structuredClone(next)
  }
  async createChannelApiKey(channelId: string): Promise<UpstreamApiKey> {
    this.record('createChannelApiKey', channelId)
    const c = this.channels.get(channelId)
    if (!c) throw refused(404, 'Channel not found')
    if (this.keyPermissionMissing.has(channelId)) {
      throw refused(403, 'Partner has no permission to generate an API key for this channel')
    }
    this.revokeKey(channelId)
    this.keySequence += 1
    const key: UpstreamApiKey = {
      id: `key${this.keySequence}`,
      address: 'https://waba-v2.360dialog.io',
      api_key: `fake-channel-key-${channelId}-${this.keySequence}`,
      app_id: c.integration?.app_id ?? `app${channelId}`,
    }
    this.apiKeys.set(channelId, key)
    this.issuedKeys.set(key.api_key, { channelId, active: true })
    return structuredClone(key)
  }
  async listChannelApiKeys(channelId: string): Promise<UpstreamApiKey[]> {
    this.record('listChannelApiKeys', channelId)
    if (!this.channels.has(channelId)) throw refused(404, 'Channel not found')
    const key = this.apiKeys.get(channelId)
    return key ? [structuredClone(key)] : []
  }
  async deleteChannelApiKeys(channelId: string): Promise<void> {
    this.record('deleteChannelApiKeys', channelId)
    if (!this.channels.has(channelId)) throw refused(404, 'Channel not found')
    this.revokeKey(channelId)
  }
  private revokeKey(channelId: string): void {
    const key = this.apiKeys.get(channelId)
    if (!key) return
    this.apiKeys.delete(channelId)
    const issued = this.issuedKeys.get(key.api_key)
    if (issued) issued.active = false
  }
  stats(): PartnerApiStats {
    return { ...this.counters }
  }
}

function bump(iso: string | null | undefined): string {
  return new Date(Date.parse(iso ?? '2026-01-01T00:00:00Z') + 1000).toISOString()
}

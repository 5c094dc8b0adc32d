import { NotFoundError, UpstreamError } from '../../shared/domain/errors'
import type { UpstreamChannel, UpstreamClient, UpstreamPartner } from '../../shared/domain/upstream'
import type { IterateOptions, ListPage, ListQuery, PartnerApi, PartnerApiStats } from '../../shared/ports'

type Failure = () => Error

/**
 * In-memory PartnerApi for service unit tests. Items are served sorted by id; `failNext` queues
 * errors for named methods; `calls` records every call by method name.
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
  pageSize = 100
  private readonly failures = new Map<string, Failure[]>()
  private readonly counters: PartnerApiStats = { calls: 0, retries: 0 }

  /** Makes the next call(s) of `method` throw. */
  failNext(method: keyof PartnerApi, ...errors: Failure[]): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...errors])
  }

  /** Count of recorded calls of one method. */
  callCount(method: keyof PartnerApi): number {
    return this.calls.filter((c) => c.method === method).length
  }

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args })
    this.counters.calls++
    const queue = this.failures.get(method)
    const next = queue?.shift()
    if (next) throw next()
  }

  private page<T extends { id: string }>(all: T[], q: ListQuery = {}): ListPage<T> {
    const filtered = all
      .filter((item) =>
        Object.entries(q.filters ?? {}).every(([k, v]) => (item as Record<string, unknown>)[k] === v),
      )
      .sort((a, b) => (a.id < b.id ? -1 : 1))
    const offset = q.offset ?? 0
    const limit = Math.min(q.limit ?? this.pageSize, this.pageSize)
    return {
      items: structuredClone(filtered.slice(offset, offset + limit)),
      total: filtered.length,
      offset,
      limit,
    }
  }

  private async *walk<T extends { id: string }>(
    all: () => T[],
    opts: IterateOptions = {},
  ): AsyncIterable<T[]> {
    let offset = 0
    for (;;) {
      const p = this.page(all(), { ...opts, offset })
      if (p.items.length === 0) return
      yield p.items
      offset += p.items.length
      if (offset >= p.total) return
    }
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
    if (!c)
      throw new UpstreamError('Upstream refused the request: Client not found', {
        upstreamStatus: 404,
        retryable: false,
        upstreamMessage: 'Client not found',
      })
    const next = {
      ...c,
      ...patch,
      modified_at: new Date(Date.parse(c.modified_at ?? '2026-01-01T00:00:00Z') + 1000).toISOString(),
    }
    this.clients.set(clientId, next)
    return structuredClone(next)
  }
  async getClientBalance(clientId: string): Promise<Record<string, unknown>> {
    this.record('getClientBalance', clientId)
    if (!this.clients.has(clientId)) throw new NotFoundError('Client not found')
    return { balance: 0, currency: 'USD' }
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
  async requestCancellation(clientId: string, channelId: string): Promise<UpstreamChannel> {
    this.record('requestCancellation', clientId, channelId)
    const c = this.channels.get(channelId)
    if (!c || c.client_id !== clientId) {
      throw new UpstreamError('Upstream refused the request: Channel not found', {
        upstreamStatus: 404,
        retryable: false,
        upstreamMessage: 'Channel not found',
      })
    }
    const next = {
      ...c,
      terminated_at: c.terminated_at ?? '2026-01-31T23:59:59Z',
      modified_at: bump(c.modified_at),
    }
    this.channels.set(channelId, next)
    return structuredClone(next)
  }
  async revokeCancellation(clientId: string, channelId: string): Promise<UpstreamChannel> {
    this.record('revokeCancellation', clientId, channelId)
    const c = this.channels.get(channelId)
    if (!c || c.client_id !== clientId || !c.terminated_at) {
      throw new UpstreamError('Upstream refused the request: Nothing to revoke', {
        upstreamStatus: 400,
        retryable: false,
        upstreamMessage: 'Nothing to revoke',
      })
    }
    const next = { ...c, terminated_at: null, modified_at: bump(c.modified_at) }
    this.channels.set(channelId, next)
    return structuredClone(next)
  }
  stats(): PartnerApiStats {
    return { ...this.counters }
  }
}

function bump(iso: string | null | undefined): string {
  return new Date(Date.parse(iso ?? '2026-01-01T00:00:00Z') + 1000).toISOString()
}

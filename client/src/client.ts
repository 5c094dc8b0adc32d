import { Readable } from 'node:stream'
import { FilterNotAppliedError } from './errors'
import { Paginator } from './paginator'
import { type RawResponse, type RequestOptions, Transport, type TransportOptions } from './transport'
import type {
  Balance,
  Cancellation,
  CancellationRequest,
  Channel,
  ChannelFilters,
  Client,
  ClientFilters,
  ClientSettings,
  ClientWithChannels,
  OnboardingLink,
  OnboardingLinkRequest,
  Page,
  PartnerSettings,
  Status,
} from './types'

/** Options of one call. */
export interface CallOptions {
  signal?: AbortSignal
}

/** Options of a call that changes something: its Idempotency-Key (generated per call when absent). */
export interface WriteOptions extends CallOptions {
  idempotencyKey?: string
}

/** A streamed CSV export. */
export interface CsvExport {
  /** The CSV bytes as they arrive. */
  stream: Readable
  /** From Content-Length when the server sent one (the export streams, locally and in AWS: normally null). */
  contentLength: number | null
}

export type PartnerOpsClientOptions = Omit<TransportOptions, 'endpoint'> & {
  /** Default: `PARTNEROPS_ENDPOINT`, else the local runner, http://127.0.0.1:3000. */
  endpoint?: string | URL
}

/** The local runner's address (`npm start`). */
export const LOCAL_ENDPOINT = 'http://127.0.0.1:3000'

const seg = (id: string): string => encodeURIComponent(id)

/** Whether an item shows the match of one filter value. */
type Matches<T> = (item: T, value: string) => boolean
const same =
  <T>(field: (item: T) => unknown): Matches<T> =>
  (item, value) =>
    String(field(item)) === value
/** The quality bucket of a rating, as the API filters by it (GREEN, YELLOW, RED, else UNKNOWN). */
const qualityBucket = (rating: unknown): string | null => {
  if (typeof rating !== 'string' || rating.trim() === '') return null
  const r = rating.trim().toUpperCase()
  return r === 'GREEN' || r === 'YELLOW' || r === 'RED' ? r : 'UNKNOWN'
}
/** Filters whose match the client can see in each item, checked so an ignored filter is never silent. */
const CHANNEL_FILTER_FIELDS: Record<string, Matches<Channel>> = {
  clientId: same((c) => c.clientId),
  lifecycle: same((c) => c.lifecycle),
  accountMode: same((c) => c.accountMode),
  quality: (c, v) => qualityBucket(c.qualityRating) === v,
  messagingLimit: (c, v) => String(c.messagingLimit).toUpperCase() === v.toUpperCase(),
}
const CLIENT_FILTER_FIELDS: Record<string, Matches<Client>> = { status: same((c) => c.status) }

function checkFilters<T>(
  path: string,
  page: Page<T>,
  filters: Record<string, string | number | undefined>,
  fields: Record<string, Matches<T>>,
): Page<T> {
  for (const [name, value] of Object.entries(filters)) {
    const matches = fields[name]
    if (value === undefined || !matches) continue
    if (page.items.some((item) => !matches(item, String(value)))) {
      throw new FilterNotAppliedError(name, String(value), path)
    }
  }
  return page
}

/**
 * The PartnerOps management API, typed from docs/openapi.yaml and signed with SigV4. Lists are
 * async iterators; writes carry an Idempotency-Key that survives the client's own retries; errors
 * are {@link ApiError} subclasses with the API's `code` and HTTP `status`.
 */
export class PartnerOpsClient {
  readonly transport: Transport

  constructor(opts: PartnerOpsClientOptions = {}) {
    const endpoint = opts.endpoint ?? process.env.PARTNEROPS_ENDPOINT ?? LOCAL_ENDPOINT
    this.transport = new Transport({ ...opts, endpoint })
  }

  /** The endpoint calls go to. */
  get endpoint(): URL {
    return this.transport.endpoint
  }

  private async json<T>(req: RequestOptions): Promise<T> {
    const res = await this.transport.send(req)
    return (await res.response.json()) as T
  }

  private list<T>(
    path: string,
    filters: Record<string, string | number | undefined>,
    fields: Record<string, Matches<T>>,
  ): Paginator<T> {
    const { cursor, ...rest } = filters
    return new Paginator<T>(
      async (c) =>
        checkFilters(
          path,
          await this.json<Page<T>>({ method: 'GET', path, query: { ...rest, cursor: c } }),
          rest,
          fields,
        ),
      cursor === undefined ? undefined : String(cursor),
    )
  }

  readonly clients = {
    /** `GET /clients`: every client matching the filters, page by page. */
    list: (filters: ClientFilters = {}): Paginator<Client> =>
      this.list<Client>('/clients', filters, CLIENT_FILTER_FIELDS),
    /** `GET /clients/{clientId}`: one client with a summary of its channels. */
    get: (clientId: string, opts: CallOptions = {}): Promise<ClientWithChannels> =>
      this.json({ method: 'GET', path: `/clients/${seg(clientId)}`, ...opts }),
    /** `PATCH /clients/{clientId}`: change maxChannels and/or partnerPayload upstream, then in state. */
    update: (clientId: string, settings: ClientSettings, opts: WriteOptions = {}): Promise<Client> =>
      this.json({
        method: 'PATCH',
        path: `/clients/${seg(clientId)}`,
        body: settings,
        idempotencyKey: opts.idempotencyKey ?? true,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
  }

  readonly channels = {
    /** `GET /channels`: every channel matching the filters (AND), page by page. */
    list: (filters: ChannelFilters = {}): Paginator<Channel> =>
      this.list<Channel>('/channels', filters, CHANNEL_FILTER_FIELDS),
    /** `GET /channels/{channelId}`. */
    get: (channelId: string, opts: CallOptions = {}): Promise<Channel> =>
      this.json({ method: 'GET', path: `/channels/${seg(channelId)}`, ...opts }),
  }

  readonly cancellations = {
    /**
     * `POST …/cancellation`: requests the channel's cancellation upstream, at most once per
     * Idempotency-Key; answers the record (202).
     */
    request: (
      clientId: string,
      channelId: string,
      body: CancellationRequest = {},
      opts: WriteOptions = {},
    ): Promise<Cancellation> =>
      this.json({
        method: 'POST',
        path: `/clients/${seg(clientId)}/channels/${seg(channelId)}/cancellation`,
        body,
        idempotencyKey: opts.idempotencyKey ?? true,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    /** `GET …/cancellation`: the cancellation record. */
    get: (clientId: string, channelId: string, opts: CallOptions = {}): Promise<Cancellation> =>
      this.json({
        method: 'GET',
        path: `/clients/${seg(clientId)}/channels/${seg(channelId)}/cancellation`,
        ...opts,
      }),
    /** `DELETE …/cancellation`: revokes a pending cancellation upstream; answers the record. */
    revoke: (clientId: string, channelId: string, opts: WriteOptions = {}): Promise<Cancellation> =>
      this.json({
        method: 'DELETE',
        path: `/clients/${seg(clientId)}/channels/${seg(channelId)}/cancellation`,
        idempotencyKey: opts.idempotencyKey ?? true,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
  }

  readonly exports = {
    /** `GET /exports/channels.csv`, streamed: retried until the answer starts, never midway. */
    channelsCsv: async (opts: CallOptions = {}): Promise<CsvExport> => {
      const res: RawResponse = await this.transport.send({
        method: 'GET',
        path: '/exports/channels.csv',
        ...opts,
      })
      const length = res.headers.get('content-length')
      const body = res.response.body
      return {
        stream: body
          ? Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>)
          : Readable.from([]),
        contentLength: length === null ? null : Number(length),
      }
    },
  }

  readonly onboarding = {
    /** `POST /onboarding-links`: a link that sends a new client through 360dialog's permission page. */
    createLink: (request: OnboardingLinkRequest, opts: CallOptions = {}): Promise<OnboardingLink> =>
      this.json({ method: 'POST', path: '/onboarding-links', body: request, ...opts }),
  }

  /** `GET /status`: last reconciliation, channels by lifecycle, webhook counts. */
  status(opts: CallOptions = {}): Promise<Status> {
    return this.json({ method: 'GET', path: '/status', ...opts })
  }

  /** `GET /partner`: 360dialog's webhook and redirect URLs against this deployment's. */
  partner(opts: CallOptions = {}): Promise<PartnerSettings> {
    return this.json({ method: 'GET', path: '/partner', ...opts })
  }

  /** `GET /clients/{clientId}/balance`: the client's balance from the Partner API. */
  balance(clientId: string, opts: CallOptions = {}): Promise<Balance> {
    return this.json({ method: 'GET', path: `/clients/${seg(clientId)}/balance`, ...opts })
  }
}

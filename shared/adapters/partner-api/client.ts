import * as z from 'zod/mini'
import '../../domain/zod-locale'
import { upstreamApiKeyListSchema, upstreamApiKeySchema } from '../../domain/channel-key'
import { UpstreamError, ValidationError } from '../../domain/errors'
import {
  listEnvelopeSchema,
  type UpstreamChannel,
  type UpstreamClient,
  upstreamBalanceSchema,
  upstreamChannelSchema,
  upstreamClientSchema,
  upstreamPartnerSchema,
} from '../../domain/upstream'
import type {
  IterateOptions,
  ListPage,
  ListQuery,
  PartnerApi,
  PartnerApiStats,
  QuarantinedItem,
  SecretSource,
} from '../../ports'
import {
  credentialsRejected,
  DEFAULT_TOKEN_SECONDS,
  isCredentialsRejected,
  PartnerAuth,
  type PartnerAuthMode,
  tokenRejected,
  tokenResponseSchema,
} from './auth'
import { developerMessage, failedBeforeSending, isTimeout, listQueryString, plainQueryString } from './http'
import { walkPages } from './paginate'
import { backoffDelay, parseRetryAfter } from './retry'

/** Minimal structured logger (Powertools Logger fits). Never given credentials. */
export interface PartnerApiLogger {
  debug(message: string, context?: Record<string, unknown>): void
  info(message: string, context?: Record<string, unknown>): void
  warn(message: string, context?: Record<string, unknown>): void
}

/** Options of the Partner API client. */
export interface PartnerApiClientOptions {
  /** e.g. https://hub.360dialog.io/api/v2 */
  baseUrl: string
  partnerId: string
  auth: PartnerAuthMode
  secrets: SecretSource
  fetch?: typeof fetch
  /** Per-request timeout (default 10 000 ms). */
  timeoutMs?: number
  /** Attempts per call, the first included (default 4). */
  maxAttempts?: number
  /** Total time one call may take across its retries (default 30 000 ms). */
  budgetMs?: number
  baseDelayMs?: number
  maxDelayMs?: number
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  /** Wall-clock milliseconds (budgets, token expiry, Retry-After dates). */
  now?: () => number
  logger?: PartnerApiLogger
}

/**
 * How a call may be repeated: `safe` calls (reads, idempotent sets) retry on any transient failure;
 * `once` calls (cancellation request/revoke) retry only when the request certainly did not reach the
 * server (429, connection refused) and otherwise fail as 'upstream_ambiguous'.
 */
type RetryMode = 'safe' | 'once'

interface SendRequest<T> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  query?: string
  body?: unknown
  mode: RetryMode
  /** false for the token call itself. */
  authenticated: boolean
  schema: z.ZodMiniType<T>
  signal?: AbortSignal
  /** Absolute deadline (ms, `now()` scale) imposed by the caller, e.g. a list walk budget. */
  deadline?: number
  /** Attempts of this call when fewer than the client's (a rate-limited endpoint: 1). */
  attempts?: number
}

type Outcome =
  | { kind: 'response'; status: number; retryAfter: string | null; text: string }
  | { kind: 'network'; sent: boolean; timeout: boolean; cause: unknown }

const DEFAULT_PAGE_SIZE = 100
// Schemas are built on first parse (z.lazy), not at import: it keeps them out of every cold start.
const webhookUrlSchema = z.lazy(() => z.looseObject({ webhook_url: z.nullish(z.string()) }))
const anyJson = z.lazy(() => z.unknown())

const noopLogger: PartnerApiLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined }

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function requireId(value: string, what: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new ValidationError(`${what} is required`)
  return encodeURIComponent(value)
}

/** Longest raw item kept with a quarantined item, and longest reason. */
const QUARANTINE_RAW_CHARS = 2048
const QUARANTINE_REASON_CHARS = 500

/** How one list resource's pages look: its items key and item schema. */
interface ListKind<T> {
  kind: QuarantinedItem['kind']
  itemsKey: string
  item: z.ZodMiniType<T>
}

const CLIENTS: ListKind<UpstreamClient> = { kind: 'client', itemsKey: 'clients', item: upstreamClientSchema }
const CHANNELS: ListKind<UpstreamChannel> = {
  kind: 'channel',
  itemsKey: 'partner_channels',
  item: upstreamChannelSchema,
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The item's own id when it has a usable one (a non-empty string or a finite number). */
function rawId(item: unknown): string | null {
  if (!isPlainObject(item)) return null
  const id = item['id']
  if (typeof id === 'string' && id !== '') return id
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  return null
}

/**
 * One list page: the envelope must be an object holding the resource's items array (else the page is
 * refused with `items_key_missing`, never read as an empty page); each item is validated on its own,
 * and one that fails is kept aside with the reason (`quarantined`) while the rest of the page stands.
 */
function parseListPage<T>(list: ListKind<T>, json: unknown, status: number): ListPage<T> {
  const rawItems = isPlainObject(json) ? json[list.itemsKey] : undefined
  if (!isPlainObject(json) || !Array.isArray(rawItems)) {
    const keys = isPlainObject(json) ? Object.keys(json).slice(0, 20).join(',') : typeof json
    throw new UpstreamError(
      `partner API ${list.kind}s page has no '${list.itemsKey}' array (got: ${Array.isArray(json) ? 'array' : keys})`,
      { upstreamStatus: status, retryable: false, code: 'items_key_missing' },
    )
  }
  const env = listEnvelopeSchema.safeParse(json)
  if (!env.success) {
    throw new UpstreamError(
      `invalid upstream list envelope (${env.error.issues.map((i) => i.path.join('.')).join(', ')})`,
      { upstreamStatus: status, retryable: false, code: 'upstream_invalid_response' },
    )
  }
  const items: T[] = []
  let quarantined: QuarantinedItem[] | undefined
  for (const raw of rawItems) {
    const parsed = list.item.safeParse(raw)
    if (parsed.success) {
      items.push(parsed.data)
      continue
    }
    const reason = parsed.error.issues
      .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(item)'}: ${i.message}`)
      .join('; ')
    quarantined ??= []
    quarantined.push({
      kind: list.kind,
      id: rawId(raw),
      reason: reason.slice(0, QUARANTINE_REASON_CHARS),
      raw: (JSON.stringify(raw) ?? String(raw)).slice(0, QUARANTINE_RAW_CHARS),
    })
  }
  const { total, offset, limit, sort } = env.data
  return {
    items,
    total,
    offset: offset ?? 0,
    limit: limit ?? rawItems.length,
    ...(quarantined ? { quarantined } : {}),
    ...(sort === null || sort === undefined
      ? {}
      : { sort: typeof sort === 'string' ? sort.split(',') : sort }),
  }
}

/** The 360dialog Partner API v2 client: auth, timeouts, retries with backoff, pagination, validation. */
export function createPartnerApiClient(opts: PartnerApiClientOptions): PartnerApi {
  const doFetch = opts.fetch ?? globalThis.fetch
  const timeoutMs = opts.timeoutMs ?? 10_000
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4)
  const budgetMs = opts.budgetMs ?? 30_000
  const backoff = {
    baseDelayMs: opts.baseDelayMs ?? 200,
    maxDelayMs: opts.maxDelayMs ?? 5_000,
    random: opts.random ?? Math.random,
  }
  const sleep = opts.sleep ?? defaultSleep
  const now = opts.now ?? Date.now
  const log = opts.logger ?? noopLogger
  const base = opts.baseUrl.replace(/\/+$/, '')
  const partnerPath = `/partners/${requireId(opts.partnerId, 'partnerId')}`
  const stats: PartnerApiStats = { calls: 0, retries: 0 }

  const auth = new PartnerAuth(
    opts.auth,
    opts.secrets,
    async (username, password) => {
      try {
        const t = await send({
          method: 'POST',
          path: '/token',
          body: { username, password },
          mode: 'safe',
          authenticated: false,
          schema: tokenResponseSchema,
        })
        return { accessToken: t.access_token, expiresInSeconds: t.expires_in ?? DEFAULT_TOKEN_SECONDS }
      } catch (err: unknown) {
        if (err instanceof UpstreamError && [400, 401, 403].includes(err.upstreamStatus))
          throw tokenRejected(err)
        throw err
      }
    },
    now,
  )

  async function attempt(url: string, init: RequestInit, ms: number, signal?: AbortSignal): Promise<Outcome> {
    const controller = new AbortController()
    const timer = setTimeout(
      () => controller.abort(new DOMException('request timed out', 'TimeoutError')),
      ms,
    )
    const combined = signal ? AbortSignal.any([signal, controller.signal]) : controller.signal
    stats.calls += 1
    try {
      const res = await doFetch(url, { ...init, signal: combined, redirect: 'manual' })
      const text = await res.text()
      return { kind: 'response', status: res.status, retryAfter: res.headers.get('retry-after'), text }
    } catch (err: unknown) {
      if (signal?.aborted) throw signal.reason ?? err
      const timeout = controller.signal.aborted || isTimeout(err)
      return { kind: 'network', sent: timeout || !failedBeforeSending(err), timeout, cause: err }
    } finally {
      clearTimeout(timer)
    }
  }

  function parseBody<T>(req: SendRequest<T>, status: number, text: string): T {
    let json: unknown
    try {
      json = text === '' ? undefined : JSON.parse(text)
    } catch (err: unknown) {
      throw new UpstreamError('invalid upstream response', {
        upstreamStatus: status,
        retryable: false,
        code: 'upstream_invalid_response',
        cause: err,
      })
    }
    const parsed = req.schema.safeParse(json)
    if (!parsed.success) {
      log.warn('partner api response rejected', {
        method: req.method,
        path: req.path,
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code })),
      })
      throw new UpstreamError('invalid upstream response', {
        upstreamStatus: status,
        retryable: false,
        code: 'upstream_invalid_response',
      })
    }
    return parsed.data
  }

  async function send<T>(req: SendRequest<T>): Promise<T> {
    const { status, text } = await sendRaw(req)
    return parseBody(req, status, text)
  }

  /** One call with its retries, up to a 2xx answer's text (parsed by the caller). */
  async function sendRaw(
    req: Omit<SendRequest<unknown>, 'schema'>,
  ): Promise<{ status: number; text: string }> {
    const started = now()
    const deadline = Math.min(started + budgetMs, req.deadline ?? Number.POSITIVE_INFINITY)
    const url = `${base}${req.path}${req.query ? `?${req.query}` : ''}`
    const what = `${req.method} ${req.path}`
    let failures = 0
    let reauthed = false
    let lastError: UpstreamError | null = null
    for (let round = 0; ; round += 1) {
      if (round > 0) stats.retries += 1
      if (req.signal?.aborted) throw req.signal.reason
      const remaining = deadline - now()
      if (remaining <= 0) {
        throw (
          lastError ??
          new UpstreamError(`partner API ${what} not attempted: time budget exhausted`, {
            upstreamStatus: 0,
            retryable: true,
            code: 'upstream_budget_exhausted',
          })
        )
      }
      let generation: number | undefined
      const headers: Record<string, string> = { Accept: 'application/json' }
      if (req.body !== undefined) headers['Content-Type'] = 'application/json'
      if (req.authenticated) {
        try {
          const a = await auth.current()
          generation = a.generation
          Object.assign(headers, a.headers)
        } catch (err: unknown) {
          if (isCredentialsRejected(err) && !reauthed) {
            reauthed = true
            await auth.refresh()
            continue
          }
          throw err
        }
      }
      const init: RequestInit = { method: req.method, headers }
      if (req.body !== undefined) init.body = JSON.stringify(req.body)
      const outcome = await attempt(url, init, Math.min(timeoutMs, remaining), req.signal)

      let error: UpstreamError
      let delay: number | null = null
      if (outcome.kind === 'response') {
        const { status } = outcome
        if (status >= 200 && status < 300) return { status, text: outcome.text }
        const upstreamMessage = developerMessage(outcome.text)
        if (status === 401 && req.authenticated) {
          if (!reauthed) {
            reauthed = true
            log.info('partner api credentials refreshed after 401', { path: req.path })
            await auth.refresh(generation)
            continue
          }
          throw credentialsRejected()
        }
        if (status >= 300 && status < 400) {
          throw new UpstreamError(`partner API ${what} answered with a redirect (${status})`, {
            upstreamStatus: status,
            retryable: false,
            code: 'upstream_redirect',
          })
        }
        if (status === 429) {
          delay = parseRetryAfter(outcome.retryAfter, now())
          error = new UpstreamError(`partner API ${what} rate limited`, {
            upstreamStatus: status,
            retryable: true,
            code: 'upstream_rate_limited',
            ...(upstreamMessage ? { upstreamMessage } : {}),
            // Passed on to our caller (503 Retry-After): nothing happened upstream.
            ...(delay !== null ? { retryAfterSeconds: Math.max(1, Math.ceil(delay / 1000)) } : {}),
          })
        } else if (status >= 500) {
          if (req.mode === 'once') {
            throw new UpstreamError(`partner API ${what} failed with ${status}; outcome unknown`, {
              upstreamStatus: status,
              retryable: true,
              code: 'upstream_ambiguous',
              ...(upstreamMessage ? { upstreamMessage } : {}),
            })
          }
          error = new UpstreamError(`partner API ${what} failed with ${status}`, {
            upstreamStatus: status,
            retryable: true,
            ...(upstreamMessage ? { upstreamMessage } : {}),
          })
        } else {
          throw new UpstreamError(`partner API ${what} refused with ${status}`, {
            upstreamStatus: status,
            retryable: false,
            ...(upstreamMessage ? { upstreamMessage } : {}),
          })
        }
      } else {
        const reason = outcome.timeout ? 'timed out' : 'network error'
        if (req.mode === 'once' && outcome.sent) {
          throw new UpstreamError(`partner API ${what} ${reason}; outcome unknown`, {
            upstreamStatus: 0,
            retryable: true,
            code: 'upstream_ambiguous',
            cause: outcome.cause,
          })
        }
        error = new UpstreamError(`partner API ${what} ${reason}`, {
          upstreamStatus: 0,
          retryable: true,
          code: outcome.timeout ? 'upstream_timeout' : 'upstream_unreachable',
          cause: outcome.cause,
        })
      }

      lastError = error
      failures += 1
      if (failures >= Math.min(maxAttempts, req.attempts ?? maxAttempts)) throw error
      const wait = delay ?? backoffDelay(failures - 1, backoff)
      if (now() + wait >= deadline) throw error
      log.warn('partner api retry', {
        method: req.method,
        path: req.path,
        status: error.upstreamStatus,
        attempt: failures,
        delayMs: wait,
      })
      await sleep(wait)
    }
  }

  /**
   * Fetches one list page and answers a function that reads it (JSON, envelope, each item validated),
   * so that a walk can send its next request before spending CPU on this page (walkPages).
   */
  const fetchListPage = async <T>(
    list: ListKind<T>,
    path: string,
    query: ListQuery,
    signal?: AbortSignal,
    deadline?: number,
  ): Promise<() => ListPage<T>> => {
    const req = {
      method: 'GET' as const,
      path,
      query: listQueryString(query),
      mode: 'safe' as const,
      authenticated: true,
      ...(signal ? { signal } : {}),
      ...(deadline !== undefined ? { deadline } : {}),
    }
    const { status, text } = await sendRaw(req)
    return () => {
      const page = parseListPage(list, parseBody({ ...req, schema: anyJson }, status, text), status)
      if (page.quarantined) {
        log.warn('partner api list items quarantined', {
          path,
          offset: page.offset,
          items: page.quarantined.map((q) => ({ id: q.id, reason: q.reason })),
        })
      }
      return page
    }
  }
  const listPage = async <T>(
    list: ListKind<T>,
    path: string,
    query: ListQuery,
    signal?: AbortSignal,
    deadline?: number,
  ): Promise<ListPage<T>> => (await fetchListPage(list, path, query, signal, deadline))()
  const listClientsPage = (
    query: ListQuery,
    signal?: AbortSignal,
    deadline?: number,
  ): Promise<ListPage<UpstreamClient>> => listPage(CLIENTS, `${partnerPath}/clients`, query, signal, deadline)
  const listChannelsPage = (
    query: ListQuery,
    signal?: AbortSignal,
    deadline?: number,
  ): Promise<ListPage<UpstreamChannel>> =>
    listPage(CHANNELS, `${partnerPath}/channels`, query, signal, deadline)
  /** One item by id through the list filter; an item listed but quarantined is not "gone". */
  const findById = async <T extends { id: string }>(page: ListPage<T>, id: string): Promise<T | null> => {
    const found = page.items.find((item) => item.id === id)
    if (found) return found
    if (page.quarantined?.some((q) => q.id === id)) {
      throw new UpstreamError(`partner API lists ${id} but the item failed validation`, {
        upstreamStatus: 200,
        retryable: false,
        code: 'upstream_item_quarantined',
      })
    }
    return null
  }

  function iterate<T extends { id: string }>(
    list: ListKind<T>,
    path: string,
    o: IterateOptions = {},
  ): AsyncIterable<T[]> {
    const {
      concurrency,
      budgetMs: walkBudget,
      signal,
      onQuarantined,
      onComplete,
      startOffset,
      onPage,
      ...query
    } = o
    return {
      [Symbol.asyncIterator]: () => {
        const deadline = walkBudget === undefined ? undefined : now() + walkBudget
        return walkPages<T>(
          (offset, limit, pageSignal) => {
            if (deadline !== undefined && now() >= deadline) {
              throw new UpstreamError('partner API list walk exceeded its time budget', {
                upstreamStatus: 0,
                retryable: true,
                code: 'upstream_budget_exhausted',
              })
            }
            return fetchListPage(list, path, { ...query, offset, limit }, pageSignal, deadline)
          },
          {
            limit: query.limit ?? DEFAULT_PAGE_SIZE,
            concurrency: concurrency ?? 4,
            ...(signal ? { signal } : {}),
            ...(onQuarantined ? { onQuarantined } : {}),
            ...(onComplete ? { onComplete } : {}),
            ...(startOffset === undefined ? {} : { startOffset }),
            ...(onPage ? { onPage } : {}),
          },
        )
      },
    }
  }

  const controlChannel = (clientId: string, channelId: string, enabled: boolean): Promise<UpstreamChannel> =>
    send({
      method: 'POST',
      path: `${partnerPath}/clients/${requireId(clientId, 'clientId')}/channels/${requireId(channelId, 'channelId')}/control/cancellation_request`,
      body: { enabled },
      mode: 'once',
      authenticated: true,
      schema: upstreamChannelSchema,
    })

  return {
    getPartner: () =>
      send({
        method: 'GET',
        path: partnerPath,
        mode: 'safe',
        authenticated: true,
        schema: upstreamPartnerSchema,
      }),
    patchPartner: (patch) =>
      send({
        method: 'PATCH',
        path: partnerPath,
        body: patch,
        mode: 'safe',
        authenticated: true,
        schema: upstreamPartnerSchema,
      }),
    getWebhookUrl: async () => {
      const r = await send({
        method: 'GET',
        path: `${partnerPath}/webhook_url`,
        mode: 'safe',
        authenticated: true,
        schema: webhookUrlSchema,
      })
      return r.webhook_url ? r.webhook_url : null
    },
    setWebhookUrl: async (url, headers) => {
      await send({
        method: 'POST',
        path: `${partnerPath}/webhook_url`,
        body:
          headers && Object.keys(headers).length > 0 ? { webhook_url: url, headers } : { webhook_url: url },
        mode: 'safe',
        authenticated: true,
        schema: anyJson,
      })
    },
    listClients: (query = {}) => listClientsPage(query),
    iterateClients: (o) => iterate(CLIENTS, `${partnerPath}/clients`, o),
    patchClient: (clientId, patch) =>
      send({
        method: 'PATCH',
        path: `${partnerPath}/clients/${requireId(clientId, 'clientId')}`,
        body: patch,
        mode: 'safe',
        authenticated: true,
        schema: upstreamClientSchema,
      }),
    getClientBalance: (clientId, query) =>
      send({
        method: 'GET',
        path: `${partnerPath}/clients/${requireId(clientId, 'clientId')}/info/balance`,
        query: plainQueryString(query),
        mode: 'safe',
        authenticated: true,
        schema: upstreamBalanceSchema,
        // 5 calls per 30 s (docs/partner-api-notes.md §2a): a retry would spend the budget; the caller's
        // cache (shared/services/balance) decides when to call again.
        attempts: 1,
      }),
    listChannels: (query = {}) => listChannelsPage(query),
    iterateChannels: (o) => iterate(CHANNELS, `${partnerPath}/channels`, o),
    findChannel: async (channelId) => {
      requireId(channelId, 'channelId')
      return findById(await listChannelsPage({ filters: { id: channelId }, limit: 2 }), channelId)
    },
    findClient: async (clientId) => {
      requireId(clientId, 'clientId')
      return findById(await listClientsPage({ filters: { id: clientId }, limit: 2 }), clientId)
    },
    // Key creation retries like a read: a repeat after an ambiguous outcome only creates another key
    // that revokes the unseen one, so the key finally answered is the channel's one working key.
    createChannelApiKey: (channelId) =>
      send({
        method: 'POST',
        path: `${partnerPath}/channels/${requireId(channelId, 'channelId')}/api_keys`,
        body: {},
        mode: 'safe',
        authenticated: true,
        schema: upstreamApiKeySchema,
      }),
    listChannelApiKeys: async (channelId) => {
      const r = await send({
        method: 'GET',
        path: `${partnerPath}/channels/${requireId(channelId, 'channelId')}/api_keys`,
        mode: 'safe',
        authenticated: true,
        schema: upstreamApiKeyListSchema,
      })
      return r.api_keys
    },
    deleteChannelApiKeys: async (channelId) => {
      await send({
        method: 'DELETE',
        path: `${partnerPath}/channels/${requireId(channelId, 'channelId')}/api_keys`,
        mode: 'safe',
        authenticated: true,
        schema: anyJson,
      })
    },
    requestCancellation: (clientId, channelId) => controlChannel(clientId, channelId, true),
    revokeCancellation: (clientId, channelId) => controlChannel(clientId, channelId, false),
    stats: () => ({ ...stats }),
  }
}

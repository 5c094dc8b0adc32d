import { randomUUID } from 'node:crypto'
import {
  type AwsCredentialIdentity,
  type AwsCredentialIdentityProvider,
  canonicalQuery,
  defaultCredentials,
  regionFor,
  Signer,
} from './auth'
import { type ApiError, errorFromResponse, NetworkError } from './errors'

/** How the client retries. Every delay is capped; `Retry-After` is honoured up to `maxRetryAfterMs`. */
export interface RetryOptions {
  /** Attempts per logical call, the first included (default 4). 1 = never retry. */
  maxAttempts?: number
  /** First backoff ceiling in ms (default 200); doubles per retry. */
  baseDelayMs?: number
  /** Largest backoff in ms (default 5,000). */
  maxDelayMs?: number
  /** Longest `Retry-After` the client waits for itself (default 30,000 ms); beyond it the error is thrown. */
  maxRetryAfterMs?: number
}

export interface TransportOptions {
  /** Base URL: the local runner (`http://127.0.0.1:3000`) or the stack's `ApiUrl` (`https://…/v1/`). */
  endpoint: string | URL
  /** Credentials or a provider; default: the AWS default chain (the local pair for the local runner when it finds none). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider
  /** Signing region; default from the endpoint's host name, else AWS_REGION, else us-east-1. */
  region?: string
  retry?: RetryOptions
  /** Per-attempt time limit until the response headers arrive (default 30,000 ms). */
  timeoutMs?: number
  /** Extra headers on every request (e.g. a user agent suffix). */
  headers?: Record<string, string>
  /** Injected for tests. */
  fetch?: typeof fetch
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  /** Called before each retry (logging, progress). */
  onRetry?: (info: RetryInfo) => void
}

export interface RetryInfo {
  method: string
  path: string
  attempt: number
  delayMs: number
  reason: string
  idempotencyKey: string | null
}

export interface RequestOptions {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** Path below the endpoint, with path parameters already encoded (`/channels/abc`). */
  path: string
  query?: Record<string, string | number | undefined>
  /** JSON body. */
  body?: unknown
  /** Send an Idempotency-Key: `true` generates one for this logical call, a string uses it. */
  idempotencyKey?: string | boolean
  signal?: AbortSignal
}

/** A successful answer, body not yet read. */
export interface RawResponse {
  status: number
  headers: Headers
  response: Response
  idempotencyKey: string | null
  attempts: number
}

/** In-flight codes of a 409 that a retry with the same key resolves (the first call finishes meanwhile). */
const IN_FLIGHT_CODES = new Set(['idempotency_key_in_flight', 'cancellation_in_flight'])

/** Delay before retry number `retry` (0-based): full jitter over an exponentially growing, capped ceiling. */
export function backoffDelay(retry: number, opts: Required<RetryOptions>, random: () => number): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** retry)
  return Math.floor(random() * ceiling)
}

const sleepReal = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Signs and sends requests with retries. A logical call keeps one Idempotency-Key across all its
 * attempts, so a retry after a lost answer, a 503 or a 409 "still in flight" can never cause a
 * second effect; each attempt is signed afresh (new X-Amz-Date).
 */
export class Transport {
  readonly endpoint: URL
  readonly region: string
  private readonly signer: Signer
  private readonly retry: Required<RetryOptions>
  private readonly timeoutMs: number
  private readonly fetchImpl: typeof fetch
  private readonly sleep: (ms: number) => Promise<void>
  private readonly random: () => number
  private readonly extraHeaders: Record<string, string>
  private readonly onRetry: ((info: RetryInfo) => void) | undefined

  constructor(opts: TransportOptions) {
    const endpoint = new URL(String(opts.endpoint))
    if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') {
      throw new TypeError(`endpoint must be an http(s) URL, got ${endpoint.protocol}`)
    }
    if (!endpoint.pathname.endsWith('/')) endpoint.pathname = `${endpoint.pathname}/`
    this.endpoint = endpoint
    this.region = regionFor(endpoint, opts.region)
    this.signer = new Signer({
      credentials: opts.credentials ?? defaultCredentials(endpoint),
      region: this.region,
    })
    this.retry = {
      maxAttempts: opts.retry?.maxAttempts ?? 4,
      baseDelayMs: opts.retry?.baseDelayMs ?? 200,
      maxDelayMs: opts.retry?.maxDelayMs ?? 5_000,
      maxRetryAfterMs: opts.retry?.maxRetryAfterMs ?? 30_000,
    }
    this.timeoutMs = opts.timeoutMs ?? 30_000
    this.fetchImpl = opts.fetch ?? fetch
    this.sleep = opts.sleep ?? sleepReal
    this.random = opts.random ?? Math.random
    this.extraHeaders = opts.headers ?? {}
    this.onRetry = opts.onRetry
  }

  /** The full URL of a path below the endpoint (keeps the stage prefix, e.g. `/v1`). */
  url(path: string, query: RequestOptions['query'] = {}): URL {
    const url = new URL(this.endpoint)
    url.pathname = `${this.endpoint.pathname.replace(/\/$/, '')}${path}`
    const q: Record<string, string> = {}
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q[k] = String(v)
    url.search = canonicalQuery(q)
    return url
  }

  /** Sends one logical call; resolves with a 2xx response (body unread) or throws ApiError / NetworkError. */
  async send(req: RequestOptions): Promise<RawResponse> {
    const url = this.url(req.path, req.query)
    const key =
      req.idempotencyKey === true
        ? randomUUID()
        : typeof req.idempotencyKey === 'string'
          ? req.idempotencyKey
          : null
    const body = req.body === undefined ? undefined : JSON.stringify(req.body)
    const headers: Record<string, string> = { accept: 'application/json, text/csv', ...this.extraHeaders }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (key !== null) headers['idempotency-key'] = key
    // GET is safe to repeat; a write only with its Idempotency-Key (the API then runs it at most once).
    const repeatable = req.method === 'GET' || key !== null
    const context = { method: req.method, path: url.pathname, idempotencyKey: key }

    for (let attempt = 1; ; attempt++) {
      req.signal?.throwIfAborted()
      // Outside the network try: a credential failure is not a network error and is not retried.
      const signed = await this.signer.sign({ method: req.method, url, headers, ...(body ? { body } : {}) })
      let res: Response
      const timeout = new AbortController()
      const timer = setTimeout(
        () => timeout.abort(new Error(`no answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      )
      try {
        const signals = req.signal ? [timeout.signal, req.signal] : [timeout.signal]
        res = await this.fetchImpl(url, {
          method: req.method,
          headers: signed,
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.any(signals),
        })
      } catch (err) {
        clearTimeout(timer)
        if (req.signal?.aborted) throw err
        const reason = networkReason(err)
        if (repeatable && attempt < this.retry.maxAttempts) {
          await this.pause(attempt, null, reason, context)
          continue
        }
        throw new NetworkError(`${req.method} ${url.pathname}: ${reason}`, {
          ...context,
          attempts: attempt,
          cause: err,
        })
      }
      clearTimeout(timer)
      if (res.ok)
        return {
          status: res.status,
          headers: res.headers,
          response: res,
          idempotencyKey: key,
          attempts: attempt,
        }

      const text = await res.text().catch(() => '')
      const error = errorFromResponse(res.status, text, res.headers, { ...context, attempts: attempt })
      if (repeatable && attempt < this.retry.maxAttempts && this.retryable(error)) {
        await this.pause(attempt, error.retryAfterSeconds, `${error.status} ${error.code}`, context)
        continue
      }
      throw error
    }
  }

  private retryable(error: ApiError): boolean {
    const retryAfterMs = error.retryAfterSeconds === null ? 0 : error.retryAfterSeconds * 1000
    if (retryAfterMs > this.retry.maxRetryAfterMs) return false
    if (error.status === 503) return true
    if (error.status === 409) return IN_FLIGHT_CODES.has(error.code)
    // A throttle (API Gateway's, or a budget) only when it says how long to wait.
    if (error.status === 429) return error.retryAfterSeconds !== null
    return false
  }

  private async pause(
    attempt: number,
    retryAfterSeconds: number | null,
    reason: string,
    context: { method: string; path: string; idempotencyKey: string | null },
  ): Promise<void> {
    const jittered = backoffDelay(attempt - 1, this.retry, this.random)
    const delayMs = retryAfterSeconds === null ? jittered : Math.max(retryAfterSeconds * 1000, jittered)
    this.onRetry?.({ ...context, attempt, delayMs, reason })
    await this.sleep(delayMs)
  }
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause
  if (cause?.code) return cause.code
  if (err instanceof Error && err.name === 'AbortError') return 'timed out'
  if (err instanceof Error) return cause?.message ?? err.message
  return String(err)
}

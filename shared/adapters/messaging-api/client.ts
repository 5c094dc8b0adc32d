import pLimit from 'p-limit'
import type { ZodMiniType } from 'zod/mini'
import { UpstreamError } from '../../domain/errors'
import {
  cloudHealthSchema,
  cloudReading,
  gatewayHealthSchema,
  gatewayReading,
  type HealthReading,
  numberOf,
  phoneNumberSchema,
} from '../../domain/health'
import type { MessagingApi, MessagingApiStats, MessagingTarget } from '../../ports'
import type { PartnerApiLogger } from '../partner-api/client'
import { developerMessage, failedBeforeSending, isTimeout } from '../partner-api/http'
import { backoffDelay, parseRetryAfter } from '../partner-api/retry'

/** Options of the Messaging API client (health reads only). */
export interface MessagingApiClientOptions {
  fetch?: typeof fetch
  /** Requests in flight at once, across every channel (default 20). */
  concurrency?: number
  /** Per-request timeout (default 10 000 ms). */
  timeoutMs?: number
  /** Attempts per call, the first included (default 4), as the Partner API client. */
  maxAttempts?: number
  /** Total time one call may take across its retries (default 30 000 ms). */
  budgetMs?: number
  baseDelayMs?: number
  maxDelayMs?: number
  sleep?: (ms: number) => Promise<void>
  random?: () => number
  now?: () => number
  logger?: PartnerApiLogger
}

const noopLogger: PartnerApiLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined }

/** The Messaging API's own error body is `{"error": "…"}`; the on-premise one uses `meta`. */
function upstreamMessage(text: string): string | undefined {
  const meta = developerMessage(text)
  if (meta) return meta
  try {
    const json: unknown = JSON.parse(text)
    const error = (json as { error?: unknown } | null)?.error
    return typeof error === 'string' && error !== '' ? error.slice(0, 500) : undefined
  } catch {
    return undefined
  }
}

/**
 * The 360dialog Messaging API, as far as health needs it: `/health_status` (Cloud), `/v1/health`
 * (on-premise) and `/v1/configs/phone_number`, each with the channel's `D360-API-KEY`. The retry
 * rules are the Partner API client's for reads (shared/adapters/partner-api/client.ts): timeouts, up to
 * four attempts within a time budget on 429, 5xx and network failures, capped exponential backoff with
 * full jitter, `Retry-After` honoured. A 401 is never retried: the key is refused, and the caller
 * decides what that means. At most `concurrency` requests are in flight at once (p-limit), whatever
 * the caller does. The key is sent only in its header and never logged or put in an error.
 */
export function createMessagingApiClient(opts: MessagingApiClientOptions = {}): MessagingApi {
  const doFetch = opts.fetch ?? globalThis.fetch
  const limit = pLimit(Math.max(1, opts.concurrency ?? 20))
  const timeoutMs = opts.timeoutMs ?? 10_000
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4)
  const budgetMs = opts.budgetMs ?? 30_000
  const backoff = {
    baseDelayMs: opts.baseDelayMs ?? 200,
    maxDelayMs: opts.maxDelayMs ?? 5_000,
    random: opts.random ?? Math.random,
  }
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  const now = opts.now ?? Date.now
  const log = opts.logger ?? noopLogger
  const stats: MessagingApiStats = { calls: 0, retries: 0, inFlight: 0, maxInFlight: 0 }

  /** One HTTP exchange, within the concurrency limit. */
  const exchange = (url: string, apiKey: string, ms: number) =>
    limit(async () => {
      stats.calls += 1
      stats.inFlight += 1
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight)
      try {
        const res = await doFetch(url, {
          method: 'GET',
          headers: { Accept: 'application/json', 'D360-API-KEY': apiKey },
          signal: AbortSignal.timeout(ms),
          redirect: 'manual',
        })
        const text = await res.text()
        return {
          kind: 'response' as const,
          status: res.status,
          retryAfter: res.headers.get('retry-after'),
          text,
        }
      } catch (err: unknown) {
        const timeout = isTimeout(err)
        return {
          kind: 'network' as const,
          timeout,
          notSent: !timeout && failedBeforeSending(err),
          cause: err,
        }
      } finally {
        stats.inFlight -= 1
      }
    })

  async function get<T>(target: MessagingTarget, path: string, schema: ZodMiniType<T>): Promise<T> {
    const base = target.address.replace(/\/+$/, '')
    const url = `${base}${path}`
    const deadline = now() + budgetMs
    let failures = 0
    for (;;) {
      const remaining = deadline - now()
      if (remaining <= 0) {
        throw new UpstreamError(`messaging API GET ${path} not attempted: time budget exhausted`, {
          upstreamStatus: 0,
          retryable: true,
          code: 'upstream_budget_exhausted',
        })
      }
      const outcome = await exchange(url, target.apiKey, Math.min(timeoutMs, remaining))
      let error: UpstreamError
      let delay: number | null = null
      if (outcome.kind === 'response') {
        const { status, text } = outcome
        if (status >= 200 && status < 300) {
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch {
            json = undefined
          }
          const parsed = schema.safeParse(json)
          if (!parsed.success) {
            log.warn('messaging api response rejected', {
              path,
              issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), code: i.code })),
            })
            throw new UpstreamError(`messaging API GET ${path}: invalid response`, {
              upstreamStatus: status,
              retryable: false,
              code: 'upstream_invalid_response',
            })
          }
          return parsed.data
        }
        const message = upstreamMessage(text)
        if (status === 401) {
          throw new UpstreamError(`messaging API refused the channel's key on GET ${path}`, {
            upstreamStatus: 401,
            retryable: false,
            code: 'upstream_unauthorized',
            ...(message ? { upstreamMessage: message } : {}),
          })
        }
        if (status === 429 || status >= 500) {
          if (status === 429) delay = parseRetryAfter(outcome.retryAfter, now())
          error = new UpstreamError(`messaging API GET ${path} failed with ${status}`, {
            upstreamStatus: status,
            retryable: true,
            code: status === 429 ? 'upstream_rate_limited' : 'upstream_unavailable',
            ...(message ? { upstreamMessage: message } : {}),
          })
        } else {
          throw new UpstreamError(`messaging API GET ${path} refused with ${status}`, {
            upstreamStatus: status,
            retryable: false,
            ...(message ? { upstreamMessage: message } : {}),
          })
        }
      } else {
        error = new UpstreamError(
          `messaging API GET ${path} ${outcome.timeout ? 'timed out' : 'network error'}`,
          {
            upstreamStatus: 0,
            retryable: true,
            code: outcome.timeout ? 'upstream_timeout' : 'upstream_unreachable',
            cause: outcome.cause,
          },
        )
      }
      failures += 1
      if (failures >= maxAttempts) throw error
      const wait = delay ?? backoffDelay(failures - 1, backoff)
      if (now() + wait >= deadline) throw error
      stats.retries += 1
      log.debug('messaging api retry', {
        path,
        status: error.upstreamStatus,
        attempt: failures,
        delayMs: wait,
      })
      await sleep(wait)
    }
  }

  return {
    health: async (target): Promise<HealthReading> => {
      if (target.kind === 'onpremise') {
        const body = await get(target, '/v1/health', gatewayHealthSchema)
        const reading = gatewayReading(body)
        if (!reading) {
          throw new UpstreamError('messaging API GET /v1/health: no gateway_status in the answer', {
            upstreamStatus: 200,
            retryable: false,
            code: 'upstream_invalid_response',
          })
        }
        return reading
      }
      return cloudReading(await get(target, '/health_status', cloudHealthSchema))
    },
    phoneNumber: async (target) => numberOf(await get(target, '/v1/configs/phone_number', phoneNumberSchema)),
    stats: () => ({ ...stats }),
  }
}

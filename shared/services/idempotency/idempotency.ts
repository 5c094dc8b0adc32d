import { createHash } from 'node:crypto'
import type { AppDeps } from '../../deps'
import { ConflictError, UnprocessableError, ValidationError } from '../../domain/errors'
import type { IdempotencyRecord, StoredResponse } from '../../domain/types'

/** What {@link withIdempotency} needs. */
export type IdempotencyDeps = Pick<AppDeps, 'store' | 'clock'>

/** One idempotent request: the key's scope (principal and operation), the key, the request's hash. */
export interface IdempotentRequest {
  scope: string
  key: string
  requestHash: string
}

/** Options of {@link withIdempotency}. */
export interface IdempotencyOptions {
  /** How long a first attempt holds the key; after that a retry may take it over (a crashed attempt). */
  lockMs: number
  /** How long a completed key keeps answering replays (default 24 hours, as Stripe). */
  retentionSeconds?: number
  /** Which responses are kept for replay; the others release the key (default {@link isFinalResponse}). */
  isFinal?: (response: StoredResponse) => boolean
}

/** The response to send and whether it is the replay of a stored one. */
export interface IdempotentResult {
  response: StoredResponse
  replayed: boolean
}

const DEFAULT_RETENTION_SECONDS = 86_400

// Printable ASCII, no leading or trailing space (proxies trim header values).
const KEY_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/

/**
 * Default replay policy: successes, refusals and upstream refusals (502) are the answer to that
 * request for good; 409 (a conflict of the moment), 429 (budget) and other 5xx (an outcome we do not
 * know yet) release the key so that a retry with the same key is carried out again.
 */
export function isFinalResponse(response: StoredResponse): boolean {
  const s = response.statusCode
  if (s === 409 || s === 429) return false
  return s < 500 || s === 502
}

/** The `Idempotency-Key` header (any case), or undefined. */
export function idempotencyKeyHeader(
  headers: Record<string, string | undefined> | null | undefined,
): string | undefined {
  if (!headers) return undefined
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'idempotency-key') return value
  }
  return undefined
}

/** Checks an `Idempotency-Key` value: 1–255 printable ASCII characters; ValidationError (400) otherwise. */
export function parseIdempotencyKey(raw: string | undefined): string {
  if (raw === undefined || raw === '') {
    throw new ValidationError('The Idempotency-Key header is required', { code: 'missing_idempotency_key' })
  }
  if (!KEY_PATTERN.test(raw)) {
    throw new ValidationError('The Idempotency-Key header must be 1 to 255 printable ASCII characters', {
      code: 'invalid_idempotency_key',
    })
  }
  return raw
}

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

/** SHA-256 (hex) over the method, the path and the canonical JSON of the validated body. */
export function hashRequest(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method.toUpperCase()}\n${path}\n${canonicalJson(body ?? {})}`)
    .digest('hex')
}

/**
 * Runs `run` at most once per idempotency key (Stripe-like semantics): the first request with a key
 * runs and, when its response is final, stores it; the same key with the same request answers that
 * response again byte for byte; with a different request, UnprocessableError (422); while the first
 * is still running, ConflictError (409). A first attempt that crashed leaves its lock to expire, after
 * which a retry takes the key over (conditionally, so only one retry does). When `run` throws, the
 * key is released so that a retry is carried out again.
 */
export async function withIdempotency(
  deps: IdempotencyDeps,
  request: IdempotentRequest,
  run: () => Promise<StoredResponse>,
  opts: IdempotencyOptions,
): Promise<IdempotentResult> {
  const now = deps.clock.now()
  const record: IdempotencyRecord = {
    scope: request.scope,
    key: request.key,
    requestHash: request.requestHash,
    state: 'in_flight',
    response: null,
    lockedUntil: new Date(now.getTime() + opts.lockMs).toISOString(),
    expiresAt: Math.ceil(now.getTime() / 1000) + (opts.retentionSeconds ?? DEFAULT_RETENTION_SECONDS),
  }
  const begun = await deps.store.idempotency.begin(record)
  if (!begun.created) {
    const existing = begun.existing
    if (existing.requestHash !== request.requestHash) {
      throw new UnprocessableError(
        'This Idempotency-Key was already used with a different request; use a new key',
        { code: 'idempotency_key_reused' },
      )
    }
    if (existing.state === 'completed' && existing.response) {
      return { response: existing.response, replayed: true }
    }
    const expired = Date.parse(existing.lockedUntil) <= now.getTime()
    if (!expired || !(await deps.store.idempotency.takeOver(record, existing.lockedUntil))) {
      throw new ConflictError('A request with this Idempotency-Key is still in progress; retry later', {
        code: 'idempotency_key_in_flight',
      })
    }
  }
  let response: StoredResponse
  try {
    response = await run()
  } catch (err) {
    // The error being thrown is the one that matters; an unreleased key frees itself at lock expiry.
    await deps.store.idempotency.release(request.scope, request.key).catch(() => undefined)
    throw err
  }
  if ((opts.isFinal ?? isFinalResponse)(response)) {
    await deps.store.idempotency.complete(request.scope, request.key, response)
  } else {
    await deps.store.idempotency.release(request.scope, request.key)
  }
  return { response, replayed: false }
}

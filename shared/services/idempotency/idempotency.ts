import { createHash } from 'node:crypto'
import type { AppDeps } from '../../deps'
import { ConflictError } from '../../domain/errors'
import type { IdempotencyRecord, StoredResponse } from '../../domain/types'

/** What the idempotency store steps need. */
export type IdempotencyDeps = Pick<AppDeps, 'store' | 'clock'>

/** One idempotent request: the key's scope (principal and operation), the key, the request's hash. */
export interface IdempotentRequest {
  scope: string
  key: string
  requestHash: string
}

/** Options of {@link beginIdempotent}. */
export interface IdempotencyOptions {
  /** How long a first attempt holds the key; after that a retry may take it over (a crashed attempt). */
  lockMs: number
  /** How long a completed key keeps answering replays (default 24 hours, as Stripe). */
  retentionSeconds?: number
}

/** Whether to run the request, or the stored answer of its first run. */
export type IdempotencyVerdict = { kind: 'run' } | { kind: 'replay'; response: StoredResponse }

const DEFAULT_RETENTION_SECONDS = 86_400

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
 * Takes an idempotency key for one run (Stripe-like semantics): the first request with a key may
 * run; the same key with the same request gets the stored answer of the first; with a different
 * request, ConflictError `idempotency_key_reused`; while the first still runs, ConflictError
 * `idempotency_key_in_flight`. A first attempt that crashed leaves its lock to expire, after which a
 * retry takes the key over (conditionally, so only one retry does). Every `run` verdict must be
 * followed by {@link completeIdempotent} or {@link releaseIdempotent}.
 */
export async function beginIdempotent(
  deps: IdempotencyDeps,
  request: IdempotentRequest,
  opts: IdempotencyOptions,
): Promise<IdempotencyVerdict> {
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
  if (begun.created) return { kind: 'run' }
  const existing = begun.existing
  if (existing.requestHash !== request.requestHash) {
    throw new ConflictError('This Idempotency-Key was already used with a different request; use a new key', {
      code: 'idempotency_key_reused',
    })
  }
  if (existing.state === 'completed' && existing.response)
    return { kind: 'replay', response: existing.response }
  const expired = Date.parse(existing.lockedUntil) <= now.getTime()
  if (!expired || !(await deps.store.idempotency.takeOver(record, existing.lockedUntil))) {
    throw new ConflictError('A request with this Idempotency-Key is still in progress; retry later', {
      code: 'idempotency_key_in_flight',
    })
  }
  return { kind: 'run' }
}

/** Stores the final answer of a run for replay. */
export async function completeIdempotent(
  deps: IdempotencyDeps,
  request: IdempotentRequest,
  response: StoredResponse,
): Promise<void> {
  await deps.store.idempotency.complete(request.scope, request.key, response)
}

/** Releases the key after a run whose answer is not final, so that a retry runs again. */
export async function releaseIdempotent(deps: IdempotencyDeps, request: IdempotentRequest): Promise<void> {
  await deps.store.idempotency.release(request.scope, request.key)
}

import type { CancellationRecord, Channel } from './types'

/**
 * The transitions of a cancellation record, as pure functions: each takes the record as stored and
 * the facts of the moment and returns the next record (version + 1). The services decide which
 * transition applies and write it conditionally on the previous version.
 */

/** The per-channel upstream-call lock: who holds it and until when. */
export interface CallLock {
  owner: string
  until: string
}

/** Who a cancellation record names when the cancellation was requested outside PartnerOps (the Hub). */
export const EXTERNAL_REQUESTER = 'external'

/** True while a live lock (not yet expired at `nowMs`) is on the record. */
export function isLocked(record: CancellationRecord | null, nowMs: number): boolean {
  return !!record?.inFlight && Date.parse(record.inFlight.until) > nowMs
}

/**
 * A new request takes the lock: the record is `unknown` until upstream answers, so a crash during
 * the call leaves exactly that on record.
 */
export function lockForRequest(
  previous: CancellationRecord | null,
  request: { channelId: string; clientId: string; principal: string; key: string; reason: string | null },
  at: string,
  lock: CallLock,
): CancellationRecord {
  return {
    channelId: request.channelId,
    clientId: request.clientId,
    state: 'unknown',
    unknownCall: 'request',
    requestedBy: request.principal,
    requestedAt: at,
    idempotencyKey: request.key,
    reason: request.reason,
    terminatesAt: null,
    confirmedAt: null,
    upstreamStatus: null,
    upstreamMessage: null,
    updatedAt: at,
    inFlight: lock,
    version: (previous?.version ?? 0) + 1,
  }
}

/** Upstream accepted the request: `confirmed` when it already shows the termination date, else `requested`. */
export function requestAccepted(
  locked: CancellationRecord,
  terminatedAt: string | null,
  at: string,
): CancellationRecord {
  const { unknownCall: _u, ...rest } = locked
  return {
    ...rest,
    state: terminatedAt ? 'confirmed' : 'requested',
    terminatesAt: terminatedAt,
    confirmedAt: terminatedAt ? at : null,
    upstreamStatus: 200,
    updatedAt: at,
    inFlight: null,
    version: locked.version + 1,
  }
}

/**
 * Upstream did not take the request: `failed` when it is known nothing happened (a refusal, a 429),
 * `unknown` when the outcome cannot be known (timeout, 5xx), to be resolved by a read.
 */
export function requestFailed(
  locked: CancellationRecord,
  state: 'failed' | 'unknown',
  upstream: { status: number; message: string | null },
  at: string,
): CancellationRecord {
  const { unknownCall: _u, ...rest } = locked
  return {
    ...rest,
    state,
    ...(state === 'unknown' ? { unknownCall: 'request' as const } : {}),
    upstreamStatus: upstream.status,
    upstreamMessage: upstream.message,
    updatedAt: at,
    inFlight: null,
    version: locked.version + 1,
  }
}

/** Upstream shows the termination date: the request took effect (confirmed by a webhook, a poll or a read). */
export function confirmed(
  record: CancellationRecord,
  terminatesAt: string | null,
  at: string,
): CancellationRecord {
  const { unknownCall: _u, ...rest } = record
  return {
    ...rest,
    state: 'confirmed',
    terminatesAt,
    confirmedAt: at,
    updatedAt: at,
    inFlight: null,
    version: record.version + 1,
  }
}

/** A revoke takes the lock on the record as it is (its state is unchanged until upstream shows the effect). */
export function lockForRevoke(record: CancellationRecord, at: string, lock: CallLock): CancellationRecord {
  return { ...record, inFlight: lock, updatedAt: at, version: record.version + 1 }
}

/** A record for a cancellation PartnerOps did not request (made in the Hub), so that a revoke has one. */
export function externalRecord(
  channel: Pick<Channel, 'channelId' | 'clientId' | 'terminatedAt' | 'upstreamModifiedAt'>,
  at: string,
  lock: CallLock,
): CancellationRecord {
  return {
    channelId: channel.channelId,
    clientId: channel.clientId,
    state: 'confirmed',
    requestedBy: EXTERNAL_REQUESTER,
    requestedAt: channel.upstreamModifiedAt ?? at,
    idempotencyKey: '',
    reason: null,
    terminatesAt: channel.terminatedAt,
    confirmedAt: at,
    upstreamStatus: null,
    upstreamMessage: null,
    updatedAt: at,
    inFlight: lock,
    version: 1,
  }
}

/** Upstream shows no termination date any more: the cancellation is `revoked`. */
export function revoked(
  record: CancellationRecord,
  upstreamStatus: number | null,
  at: string,
): CancellationRecord {
  const { unknownCall: _u, ...rest } = record
  return {
    ...rest,
    state: 'revoked',
    terminatesAt: null,
    upstreamStatus: upstreamStatus ?? record.upstreamStatus,
    upstreamMessage: null,
    updatedAt: at,
    inFlight: null,
    version: record.version + 1,
  }
}

/**
 * A revoke that did not take effect (refused, or upstream still shows the termination date): the
 * record stays as it was, unlocked, with upstream's status and message noted.
 */
export function revokeNotApplied(
  locked: CancellationRecord,
  upstream: { status: number; message: string | null },
  at: string,
): CancellationRecord {
  return {
    ...locked,
    upstreamStatus: upstream.status,
    upstreamMessage: upstream.message,
    updatedAt: at,
    inFlight: null,
    version: locked.version + 1,
  }
}

/** A revoke whose outcome cannot be read: `unknown`, resolved by reading upstream before any retry. */
export function revokeUnknown(
  locked: CancellationRecord,
  upstreamStatus: number,
  at: string,
): CancellationRecord {
  return {
    ...locked,
    state: 'unknown',
    unknownCall: 'revoke',
    upstreamStatus,
    upstreamMessage: null,
    updatedAt: at,
    inFlight: null,
    version: locked.version + 1,
  }
}

/** A later call's upstream 200 noted on a record someone else already confirmed during that call. */
export function noteUpstreamOk(record: CancellationRecord): CancellationRecord {
  return { ...record, upstreamStatus: 200, version: record.version + 1 }
}

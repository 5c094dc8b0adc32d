import { randomUUID } from 'node:crypto'
import { ConflictError, PartnerOpsError } from '../../domain/errors'
import type { CancellationRecord, Channel, StoredResponse } from '../../domain/types'
import type { UpstreamChannel } from '../../domain/upstream'
import {
  type AttemptAudit,
  appendAudit,
  audited,
  lockDurationMs,
  lookupFailure,
  storedError,
  storedJson,
} from '../idempotency/attempts'
import { hashRequest, parseIdempotencyKey, withIdempotency } from '../idempotency/idempotency'
import { ID_PATTERN, toCancellationView } from '../reads/views'
import { applyChannel, publishQuietly } from '../state/apply-upstream'
import {
  type CancellationDeps,
  type CancellationInput,
  type CancellationResult,
  cancellationPath,
  channelNotFound,
  classifyUpstreamFailure,
  conflictWithRecord,
  newAttempt,
  parseCancellationBody,
  stateChanged,
  upstreamFailureResponse,
} from './cancellation-common'

/** Who a cancellation record names when the cancellation was requested outside PartnerOps (the Hub). */
export const EXTERNAL_REQUESTER = 'external'

/**
 * `DELETE /clients/{clientId}/channels/{channelId}/cancellation` (docs/openapi.yaml): once per idempotency
 * key, reads the channel upstream (the truth about what is pending), and when a cancellation is
 * pending takes the channel's upstream-call lock and sends the revoke (`{"enabled": false}`); the
 * record becomes `revoked`. 409 when nothing is pending. Every attempt is audited.
 */
export async function revokeCancellation(
  deps: CancellationDeps,
  input: CancellationInput,
): Promise<CancellationResult> {
  const attempt = newAttempt('cancellation.revoke', input)
  return audited(deps, attempt, async () => {
    const key = parseIdempotencyKey(input.idempotencyKey)
    const body = parseCancellationBody(input.body)
    const path = cancellationPath(input.clientId, input.channelId)
    attempt.requestHash = hashRequest('DELETE', path, body)
    if (body.reason !== undefined) attempt.details['reason'] = body.reason
    const lockMs = lockDurationMs(deps.config)
    return withIdempotency(
      deps,
      { scope: `${input.principal}|cancellation.revoke`, key, requestHash: attempt.requestHash },
      async () => {
        try {
          return await revokeOnce(deps, attempt, input, lockMs)
        } catch (err) {
          if (!(err instanceof PartnerOpsError) || err.status >= 500) throw err
          attempt.outcome = err.code
          return storedError(err)
        }
      },
      { lockMs },
    )
  })
}

function inFlight(): ConflictError {
  return new ConflictError('A cancellation call for this channel is in progress; retry later', {
    code: 'cancellation_in_flight',
  })
}

async function revokeOnce(
  deps: CancellationDeps,
  attempt: AttemptAudit,
  input: CancellationInput,
  lockMs: number,
): Promise<StoredResponse> {
  // Cheap checks first, with nothing sent upstream: the ids' shape, and a stored channel of another client.
  if (!ID_PATTERN.test(input.clientId) || !ID_PATTERN.test(input.channelId)) throw channelNotFound()
  const stored = await deps.store.channels.get(input.channelId)
  if (stored && stored.clientId !== input.clientId) throw channelNotFound()
  const isLocked = (r: CancellationRecord | null): boolean =>
    !!r?.inFlight && Date.parse(r.inFlight.until) > deps.clock.now().getTime()
  if (isLocked(await deps.store.cancellations.get(input.channelId))) throw inFlight()

  // Stored state may lag (a Hub action, a lost webhook, an earlier ambiguous revoke): ask upstream.
  const current = await deps.partnerApi.findChannel(input.channelId).catch((err: unknown) => {
    throw lookupFailure(err)
  })
  if (!current || current.client_id !== input.clientId) throw channelNotFound()
  const channel = (await applyChannel(deps, current, { source: 'api', kind: 'snapshot', stored })).record
  let record = await deps.store.cancellations.get(input.channelId)
  if (isLocked(record)) throw inFlight()

  if (!current.terminated_at || channel.lifecycle === 'terminated') {
    if (!current.terminated_at && record && record.state !== 'revoked' && record.state !== 'failed') {
      record = (await markRevoked(deps, record, null)) ?? record
    }
    attempt.outcome = 'nothing_pending'
    return conflictWithRecord(
      'nothing_pending',
      channel.lifecycle === 'terminated'
        ? 'The channel is already terminated; nothing can be revoked'
        : 'No cancellation is pending for this channel',
      record,
    )
  }

  const now = deps.clock.now()
  const at = now.toISOString()
  const lock = { owner: randomUUID(), until: new Date(now.getTime() + lockMs).toISOString() }
  const locked: CancellationRecord = record
    ? { ...record, inFlight: lock, updatedAt: at, version: record.version + 1 }
    : externalRecord(channel, input, at, lock)
  if (!(await deps.store.cancellations.put(locked, record?.version ?? null))) throw inFlight()
  await appendAudit(deps, attempt, 'upstream_call_started', null)

  let up: UpstreamChannel
  try {
    up = await deps.partnerApi.revokeCancellation(input.clientId, input.channelId)
  } catch (err) {
    return revokeFailed(deps, attempt, locked, err)
  }
  attempt.upstreamStatus = 200
  // The channel first, then the record that releases the lock (as for a request).
  const applied = await applyChannel(deps, up, { source: 'api', kind: 'snapshot', publish: false })
  await publishQuietly(deps, applied.changes)
  const done = await markRevoked(deps, locked, 200)
  attempt.outcome = 'revoked'
  return storedJson(
    200,
    toCancellationView(done ?? (await deps.store.cancellations.get(input.channelId)) ?? locked),
  )
}

/** A record for a cancellation PartnerOps did not request (made in the Hub), so a revoke has one. */
function externalRecord(
  channel: Channel,
  input: CancellationInput,
  at: string,
  lock: { owner: string; until: string },
): CancellationRecord {
  return {
    channelId: input.channelId,
    clientId: input.clientId,
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

/** Sets a record `revoked` (conditional on its version); null when someone else moved it first. */
async function markRevoked(
  deps: CancellationDeps,
  record: CancellationRecord,
  upstreamStatus: number | null,
): Promise<CancellationRecord | null> {
  const at = deps.clock.now().toISOString()
  const next: CancellationRecord = {
    ...record,
    state: 'revoked',
    terminatesAt: null,
    upstreamStatus: upstreamStatus ?? record.upstreamStatus,
    upstreamMessage: null,
    updatedAt: at,
    inFlight: null,
    version: record.version + 1,
  }
  if (!(await deps.store.cancellations.put(next, record.version))) return null
  // The locked copy carries the state before the lock; that is the transition's origin.
  await publishQuietly(deps, [stateChanged(next, record.state, at)])
  return next
}

/** A failed revoke keeps the cancellation as it was (unlocked): 502 when refused, 503 when ambiguous. */
async function revokeFailed(
  deps: CancellationDeps,
  attempt: AttemptAudit,
  locked: CancellationRecord,
  err: unknown,
): Promise<StoredResponse> {
  const { upstreamStatus, upstreamMessage: message } = classifyUpstreamFailure(err)
  attempt.upstreamStatus = upstreamStatus
  await deps.store.cancellations.put(
    {
      ...locked,
      upstreamStatus,
      upstreamMessage: message,
      updatedAt: deps.clock.now().toISOString(),
      inFlight: null,
      version: locked.version + 1,
    },
    locked.version,
  )
  return upstreamFailureResponse(deps, attempt, 'revoke', err)
}

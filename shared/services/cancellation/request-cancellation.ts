import { randomUUID } from 'node:crypto'
import {
  confirmed,
  isLocked,
  lockForRequest,
  noteUpstreamOk,
  requestAccepted,
  requestFailed,
} from '../../domain/cancellation'
import { RateLimitedError } from '../../domain/errors'
import type { CancellationOutcome } from '../../domain/outcomes'
import type { CancellationRecord, Channel } from '../../domain/types'
import type { UpstreamChannel } from '../../domain/upstream'
import { appendAudit, lockDurationMs, lookupFailure } from '../idempotency/attempts'
import { applyChannel } from '../state/apply-upstream'
import {
  type CancellationDeps,
  type CancellationInput,
  channelNotFound,
  classifyUpstreamFailure,
  inFlight,
  resolveOwnedChannel,
  upstreamFailureError,
} from './cancellation-common'

/** Length of the per-principal cancellation budget window (N per hour). */
export const BUDGET_WINDOW_MS = 3_600_000

const CANCELLED: ReadonlySet<Channel['lifecycle']> = new Set(['pending_deletion', 'terminated'])

/**
 * `POST /clients/{clientId}/channels/{channelId}/cancellation` (docs/openapi.yaml), run once per
 * idempotency key by the edge: checks the caller's budget and that the channel is the client's,
 * takes the channel's upstream-call lock (a conditional write on the cancellation record, so at
 * most one upstream call is in flight per channel whatever the keys), sends the one upstream request
 * and records the outcome. An earlier ambiguous outcome (`unknown`) is resolved by reading the
 * channel upstream before any new call. Throws RateLimitedError, NotFoundError, ConflictError
 * (`cancellation_in_flight`) or UpstreamError (`upstream_rejected`, `upstream_rate_limited`,
 * `upstream_outcome_unknown`, lookups).
 */
export async function requestCancellation(
  deps: CancellationDeps,
  input: CancellationInput,
): Promise<CancellationOutcome> {
  // The budget, the record and the stored channel in one round trip: reads send nothing anywhere,
  // and a caller over budget is refused below before anything is looked up or sent upstream.
  const [budget, stored, storedChannel] = await Promise.all([
    deps.store.ops.consumeBudget(
      `cancellation#${input.principal}`,
      deps.clock.now(),
      BUDGET_WINDOW_MS,
      deps.config.CANCELLATION_BUDGET_PER_HOUR,
    ),
    deps.store.cancellations.get(input.channelId),
    deps.store.channels.get(input.channelId),
  ])
  if (!budget.allowed) {
    throw new RateLimitedError('Cancellation budget exceeded; retry later', budget.retryAfterSeconds)
  }
  let record = stored
  // applyChannel writes the channel before it confirms a record (and clears its lock), so the
  // channel must be read after the record for a confirmed record to imply its channel state. Read
  // side by side, the channel may be the older of the two: when a record exists (a channel's second
  // request, rare), the channel is read again. Without one, no cancellation has written the channel
  // yet, and the lock below (a conditional write expecting no record) refuses one that starts now.
  let channel = await resolveOwnedChannel(
    deps,
    input.clientId,
    input.channelId,
    record === null ? storedChannel : undefined,
  )
  const now = deps.clock.now()
  if (isLocked(record, now.getTime())) throw inFlight()

  if (record?.state === 'unknown') {
    // The last call's outcome is unknown: upstream state decides whether a new call is needed.
    const up = await deps.partnerApi.findChannel(input.channelId).catch((err: unknown) => {
      throw lookupFailure(err)
    })
    if (!up || up.client_id !== input.clientId) throw channelNotFound()
    const applied = await applyChannel(deps, up, { source: 'api', kind: 'snapshot' })
    channel = applied.record
    record = await deps.store.cancellations.get(input.channelId)
    if (up.terminated_at && record) {
      return { kind: 'resolved_without_new_call', record: await settleResolved(deps, record, up) }
    }
  }

  if (CANCELLED.has(channel.lifecycle) || record?.state === 'requested') {
    if (record && isOwnRequest(record, input.principal, input.key)) {
      return { kind: 'already_requested', record }
    }
    return { kind: 'already_cancelled', record, terminated: channel.lifecycle === 'terminated' }
  }

  const lock = {
    owner: randomUUID(),
    until: new Date(now.getTime() + lockDurationMs(deps.config)).toISOString(),
  }
  const locked = lockForRequest(record, { ...input, reason: input.reason }, now.toISOString(), lock)
  if (!(await deps.store.cancellations.put(locked, record?.version ?? null))) throw inFlight()
  // The audit entry of the call's start is written while the call is in flight (one round trip
  // less before it); the lock written above is what durably marks a call that may have gone out.
  const started = appendAudit(deps, input.attempt, 'upstream_call_started', null)

  let up: UpstreamChannel
  try {
    up = await deps.partnerApi.requestCancellation(input.clientId, input.channelId)
  } catch (err) {
    await started
    return settleFailure(deps, input, locked, err)
  }
  await started
  input.attempt.upstreamStatus = 200
  const done = requestAccepted(locked, up.terminated_at ?? null, deps.clock.now().toISOString())
  // The channel first, the record (which releases the lock) second: whoever sees the lock gone also
  // sees the channel pending deletion, so no second call can start in between. The channel read
  // before the call is the starting point: the write is a compare-and-set on its content, so a
  // change in between (a webhook) is re-read and merged, not overwritten. The record is ours to write
  // (we hold its lock): applyChannel leaves it alone, and `done` below carries the confirmation when
  // the answer already shows terminated_at (one record write instead of a confirm, a lost
  // compare-and-set and a second write for the upstream status).
  await applyChannel(deps, up, { source: 'api', kind: 'snapshot', stored: channel, ownsCancellation: true })
  const written = await deps.store.cancellations.put(done, locked.version)
  // Otherwise applyChannel (or a webhook) confirmed the record already; what is stored is the truth.
  const final = written ? done : await noteUpstreamStatus(deps, input.channelId, input.key)
  return { kind: 'accepted', record: final }
}

/** The stored record after someone else confirmed it during our call, marked with our call's 200. */
async function noteUpstreamStatus(
  deps: CancellationDeps,
  channelId: string,
  key: string,
): Promise<CancellationRecord> {
  const stored = await deps.store.cancellations.get(channelId)
  if (!stored) throw new Error('cancellation record vanished')
  if (stored.idempotencyKey !== key || stored.upstreamStatus !== null) return stored
  const next = noteUpstreamOk(stored)
  return (await deps.store.cancellations.put(next, stored.version)) ? next : stored
}

/** True when the record is this principal's request under this key (a retry of it answers 202). */
function isOwnRequest(record: CancellationRecord, principal: string, key: string): boolean {
  return (
    (record.state === 'requested' || record.state === 'confirmed') &&
    record.requestedBy === principal &&
    record.idempotencyKey === key
  )
}

/** An unknown record whose channel shows terminated_at upstream: the earlier call did cancel it. */
async function settleResolved(
  deps: CancellationDeps,
  record: CancellationRecord,
  up: UpstreamChannel,
): Promise<CancellationRecord> {
  // applyChannel confirms unknown records when it writes; when the channel was already stored as is, do it here.
  if (record.state !== 'unknown') return record
  const at = deps.clock.now().toISOString()
  const next = confirmed(record, up.terminated_at ?? null, at)
  if (!(await deps.store.cancellations.put(next, record.version))) {
    return (await deps.store.cancellations.get(record.channelId)) ?? record
  }
  return next
}

/**
 * Records a failed upstream call and throws its answer: refused (4xx) or rate limited (429) →
 * `failed` (nothing happened upstream); ambiguous → `unknown`. A record confirmed meanwhile (by a
 * webhook or a poll) wins: the cancellation did happen.
 */
async function settleFailure(
  deps: CancellationDeps,
  input: CancellationInput,
  locked: CancellationRecord,
  err: unknown,
): Promise<CancellationOutcome> {
  const failure = classifyUpstreamFailure(err)
  input.attempt.upstreamStatus = failure.upstreamStatus
  const at = deps.clock.now().toISOString()
  const next = requestFailed(
    locked,
    failure.kind === 'ambiguous' ? 'unknown' : 'failed',
    { status: failure.upstreamStatus, message: failure.kind === 'refused' ? failure.upstreamMessage : null },
    at,
  )
  if (!(await deps.store.cancellations.put(next, locked.version))) {
    const stored = await deps.store.cancellations.get(locked.channelId)
    if (stored && (stored.state === 'confirmed' || stored.state === 'requested')) {
      return { kind: 'confirmed_meanwhile', record: stored }
    }
  }
  throw upstreamFailureError(deps, 'cancellation', failure, err)
}

import { randomUUID } from 'node:crypto'
import { ConflictError, NotFoundError, PartnerOpsError, RateLimitedError } from '../../domain/errors'
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
import { toCancellationView } from '../reads/views'
import { applyChannel, publishQuietly } from '../state/apply-upstream'
import {
  type CancellationDeps,
  type CancellationInput,
  type CancellationResult,
  cancellationPath,
  classifyUpstreamFailure,
  conflictWithRecord,
  newAttempt,
  parseCancellationBody,
  resolveOwnedChannel,
  stateChanged,
  upstreamFailureResponse,
} from './cancellation-common'

/** Length of the per-principal cancellation budget window (contract: N per hour). */
export const BUDGET_WINDOW_MS = 3_600_000

const CANCELLED: ReadonlySet<Channel['lifecycle']> = new Set(['pending_deletion', 'terminated'])

/**
 * `POST /clients/{clientId}/channels/{channelId}/cancellation` (docs/openapi.yaml): validates the key and
 * body, then, once per idempotency key, checks the caller's budget and that the channel is the
 * client's, takes the channel's upstream-call lock (a conditional write on the cancellation record,
 * so at most one upstream call is in flight per channel whatever the keys), sends the one upstream
 * request and records the outcome. An earlier ambiguous outcome (`unknown`) is resolved by reading
 * the channel upstream before any new call. Every attempt is audited.
 */
export async function requestCancellation(
  deps: CancellationDeps,
  input: CancellationInput,
): Promise<CancellationResult> {
  const attempt = newAttempt('cancellation.request', input)
  return audited(deps, attempt, async () => {
    const key = parseIdempotencyKey(input.idempotencyKey)
    const body = parseCancellationBody(input.body)
    const path = cancellationPath(input.clientId, input.channelId)
    attempt.requestHash = hashRequest('POST', path, body)
    if (body.reason !== undefined) attempt.details['reason'] = body.reason
    const lockMs = lockDurationMs(deps.config)
    return withIdempotency(
      deps,
      { scope: `${input.principal}|cancellation.request`, key, requestHash: attempt.requestHash },
      () => respond(attempt, () => cancelOnce(deps, attempt, input, key, body.reason ?? null, lockMs)),
      { lockMs },
    )
  })
}

/** Turns a refusal thrown by a step into its (possibly stored) response. */
async function respond(attempt: AttemptAudit, step: () => Promise<StoredResponse>): Promise<StoredResponse> {
  try {
    return await step()
  } catch (err) {
    if (!(err instanceof PartnerOpsError) || err.status >= 500) throw err
    attempt.outcome = err.code
    return storedError(err)
  }
}

async function cancelOnce(
  deps: CancellationDeps,
  attempt: AttemptAudit,
  input: CancellationInput,
  key: string,
  reason: string | null,
  lockMs: number,
): Promise<StoredResponse> {
  const budget = await deps.store.ops.consumeBudget(
    `cancellation#${input.principal}`,
    deps.clock.now(),
    BUDGET_WINDOW_MS,
    deps.config.CANCELLATION_BUDGET_PER_HOUR,
  )
  if (!budget.allowed) {
    throw new RateLimitedError('Cancellation budget exceeded; retry later', budget.retryAfterSeconds)
  }

  // The record first, then the channel: applyChannel writes the channel before it confirms the
  // record (and clears its lock), so a confirmed record read here implies its channel state below.
  let record = await deps.store.cancellations.get(input.channelId)
  let channel = await resolveOwnedChannel(deps, input.clientId, input.channelId)
  const now = deps.clock.now()
  if (record?.inFlight && Date.parse(record.inFlight.until) > now.getTime()) {
    throw new ConflictError('A cancellation request for this channel is in progress; retry later', {
      code: 'cancellation_in_flight',
    })
  }

  if (record?.state === 'unknown') {
    // The last call's outcome is unknown: upstream state decides whether a new call is needed.
    const up = await deps.partnerApi.findChannel(input.channelId).catch((err: unknown) => {
      throw lookupFailure(err)
    })
    if (!up || up.client_id !== input.clientId) {
      throw new NotFoundError('Channel not found for this client', { code: 'channel_not_found' })
    }
    const applied = await applyChannel(deps, up, { source: 'api', kind: 'snapshot' })
    channel = applied.record
    record = await deps.store.cancellations.get(input.channelId)
    if (up.terminated_at && record) {
      const resolved = await settleResolved(deps, record, up)
      attempt.outcome = 'resolved_without_new_call'
      return storedJson(202, toCancellationView(resolved))
    }
  }

  if (CANCELLED.has(channel.lifecycle) || record?.state === 'requested') {
    if (record && isOwnRequest(record, input.principal, key)) {
      attempt.outcome = 'already_requested_by_this_key'
      return storedJson(202, toCancellationView(record))
    }
    attempt.outcome = 'already_cancelled'
    return conflictWithRecord(
      'already_cancelled',
      channel.lifecycle === 'terminated'
        ? 'The channel is already terminated'
        : 'A cancellation of this channel is already pending',
      record,
    )
  }

  const at = now.toISOString()
  const locked: CancellationRecord = {
    channelId: input.channelId,
    clientId: input.clientId,
    // Until upstream answers, the outcome is unknown: a crash here leaves exactly that on record.
    state: 'unknown',
    requestedBy: input.principal,
    requestedAt: at,
    idempotencyKey: key,
    reason,
    terminatesAt: null,
    confirmedAt: null,
    upstreamStatus: null,
    upstreamMessage: null,
    updatedAt: at,
    inFlight: { owner: randomUUID(), until: new Date(now.getTime() + lockMs).toISOString() },
    version: (record?.version ?? 0) + 1,
  }
  if (!(await deps.store.cancellations.put(locked, record?.version ?? null))) {
    throw new ConflictError('A cancellation request for this channel is in progress; retry later', {
      code: 'cancellation_in_flight',
    })
  }
  await appendAudit(deps, attempt, 'upstream_call_started', null)

  let up: UpstreamChannel
  try {
    up = await deps.partnerApi.requestCancellation(input.clientId, input.channelId)
  } catch (err) {
    return settleFailure(deps, attempt, locked, record?.state ?? null, err)
  }
  attempt.upstreamStatus = 200
  const terminated = up.terminated_at ?? null
  const done: CancellationRecord = {
    ...locked,
    state: terminated ? 'confirmed' : 'requested',
    terminatesAt: terminated,
    confirmedAt: terminated ? deps.clock.now().toISOString() : null,
    upstreamStatus: 200,
    updatedAt: deps.clock.now().toISOString(),
    inFlight: null,
    version: locked.version + 1,
  }
  // The channel first, the record (which releases the lock) second: whoever sees the lock gone also
  // sees the channel pending deletion, so no second call can start in between.
  const applied = await applyChannel(deps, up, { source: 'api', kind: 'snapshot', publish: false })
  const written = await deps.store.cancellations.put(done, locked.version)
  // Otherwise applyChannel (or a webhook) confirmed the record already; what is stored is the truth.
  const final = written ? done : await noteUpstreamStatus(deps, input.channelId, key)
  await publishQuietly(deps, [
    ...applied.changes,
    ...(written ? [stateChanged(final, record?.state ?? null, final.updatedAt)] : []),
  ])
  attempt.outcome = 'accepted'
  return storedJson(202, toCancellationView(final))
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
  const next = { ...stored, upstreamStatus: 200, version: stored.version + 1 }
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
  const next: CancellationRecord = {
    ...record,
    state: 'confirmed',
    terminatesAt: up.terminated_at ?? null,
    confirmedAt: at,
    updatedAt: at,
    inFlight: null,
    version: record.version + 1,
  }
  if (!(await deps.store.cancellations.put(next, record.version))) {
    return (await deps.store.cancellations.get(record.channelId)) ?? record
  }
  await publishQuietly(deps, [stateChanged(next, 'unknown', at)])
  return next
}

/** Records a failed upstream call: refused (4xx) → `failed` and 502; ambiguous → `unknown` and 503. */
async function settleFailure(
  deps: CancellationDeps,
  attempt: AttemptAudit,
  locked: CancellationRecord,
  previous: CancellationRecord['state'] | null,
  err: unknown,
): Promise<StoredResponse> {
  const { refused, upstreamStatus, upstreamMessage } = classifyUpstreamFailure(err)
  attempt.upstreamStatus = upstreamStatus
  const at = deps.clock.now().toISOString()
  const next: CancellationRecord = {
    ...locked,
    state: refused ? 'failed' : 'unknown',
    upstreamStatus,
    upstreamMessage,
    updatedAt: at,
    inFlight: null,
    version: locked.version + 1,
  }
  const written = await deps.store.cancellations.put(next, locked.version)
  if (!written) {
    const stored = await deps.store.cancellations.get(locked.channelId)
    if (stored && (stored.state === 'confirmed' || stored.state === 'requested')) {
      attempt.outcome = 'confirmed_meanwhile'
      return storedJson(202, toCancellationView(stored))
    }
  } else {
    await publishQuietly(deps, [stateChanged(next, previous, at)])
  }
  return upstreamFailureResponse(deps, attempt, 'cancellation', err)
}

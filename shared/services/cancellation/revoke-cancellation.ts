import { randomUUID } from 'node:crypto'
import {
  confirmed,
  externalRecord,
  isLocked,
  lockForRevoke,
  revoked,
  revokeNotApplied,
  revokeUnknown,
} from '../../domain/cancellation'
import { UpstreamError } from '../../domain/errors'
import type { CancellationOutcome } from '../../domain/outcomes'
import type { CancellationRecord } from '../../domain/types'
import type { UpstreamChannel } from '../../domain/upstream'
import { appendAudit, lockDurationMs, lookupFailure } from '../idempotency/attempts'
import { applyChannel } from '../state/apply-upstream'
import {
  type CancellationDeps,
  type CancellationInput,
  channelNotFound,
  classifyUpstreamFailure,
  inFlight,
  upstreamFailureError,
} from './cancellation-common'

export { EXTERNAL_REQUESTER } from '../../domain/cancellation'

/**
 * `DELETE /clients/{clientId}/channels/{channelId}/cancellation` (docs/openapi.yaml), run once per
 * idempotency key by the edge: reads the channel upstream (the truth about what is pending), and
 * when a cancellation is pending takes the channel's upstream-call lock and sends the revoke
 * (`{"enabled": false}`). The record becomes `revoked` only when upstream's answer, or a read of the
 * channel right after it, shows no `terminated_at`; otherwise UpstreamError `revoke_not_applied`
 * (502) with the record as it was. When the outcome cannot be read the record is `unknown`
 * (`upstream_outcome_unknown`, 503) and the next revoke resolves it by reading first.
 */
export async function revokeCancellation(
  deps: CancellationDeps,
  input: CancellationInput,
): Promise<CancellationOutcome> {
  // Cheap check first, with nothing sent upstream: a stored channel of another client.
  const stored = await deps.store.channels.get(input.channelId)
  if (stored && stored.clientId !== input.clientId) throw channelNotFound()
  const locked = (r: CancellationRecord | null): boolean => isLocked(r, deps.clock.now().getTime())
  if (locked(await deps.store.cancellations.get(input.channelId))) throw inFlight()

  // Stored state may lag (a Hub action, a lost webhook, an earlier ambiguous revoke): ask upstream.
  const current = await readChannel(deps, input)
  const channel = (await applyChannel(deps, current, { source: 'api', kind: 'snapshot', stored })).record
  let record = await deps.store.cancellations.get(input.channelId)
  if (locked(record)) throw inFlight()

  if (record?.state === 'unknown' && record.unknownCall === 'revoke') {
    // An earlier revoke's outcome was unknown: the read just made resolves it.
    if (!current.terminated_at) {
      return { kind: 'revoked', record: (await markRevoked(deps, record, null)) ?? record }
    }
    record = await settle(
      deps,
      record,
      confirmed(record, current.terminated_at, deps.clock.now().toISOString()),
    )
  }

  if (!current.terminated_at || channel.lifecycle === 'terminated') {
    if (!current.terminated_at && record && record.state !== 'revoked' && record.state !== 'failed') {
      record = (await markRevoked(deps, record, null)) ?? record
    }
    return { kind: 'nothing_pending', record, terminated: channel.lifecycle === 'terminated' }
  }

  const now = deps.clock.now()
  const at = now.toISOString()
  const lock = {
    owner: randomUUID(),
    until: new Date(now.getTime() + lockDurationMs(deps.config)).toISOString(),
  }
  // source: this record's later transitions are the API's, whoever (poll, webhook) moved it before.
  const mine: CancellationRecord = {
    ...(record ? lockForRevoke(record, at, lock) : externalRecord(channel, at, lock)),
    source: 'api',
  }
  if (!(await deps.store.cancellations.put(mine, record?.version ?? null))) throw inFlight()
  await appendAudit(deps, input.attempt, 'upstream_call_started', null)

  let answer: UpstreamChannel
  try {
    answer = await deps.partnerApi.revokeCancellation(input.clientId, input.channelId)
  } catch (err) {
    return revokeFailed(deps, input, mine, err)
  }
  input.attempt.upstreamStatus = 200
  // Upstream's answer must show the effect; when it still carries a termination date, a read right
  // after decides (the answer may predate the change).
  let after = answer
  if (answer.terminated_at) {
    try {
      after = await readChannel(deps, input)
    } catch {
      await settle(deps, mine, revokeUnknown(mine, 200, deps.clock.now().toISOString()))
      throw new UpstreamError('Upstream did not confirm the revoke; retry to resolve it', {
        upstreamStatus: 200,
        retryable: true,
        code: 'upstream_outcome_unknown',
      })
    }
  }
  // The channel first, then the record that releases the lock (as for a request).
  await applyChannel(deps, after, { source: 'api', kind: 'snapshot' })
  if (after.terminated_at) {
    await settle(
      deps,
      mine,
      revokeNotApplied(mine, { status: 200, message: null }, deps.clock.now().toISOString()),
    )
    throw new UpstreamError(
      'Upstream accepted the revoke but still shows a termination date for this channel; the cancellation stands',
      { upstreamStatus: 200, retryable: false, code: 'revoke_not_applied' },
    )
  }
  const done = await markRevoked(deps, mine, 200)
  return {
    kind: 'revoked',
    record: done ?? (await deps.store.cancellations.get(input.channelId)) ?? mine,
  }
}

/** The channel as upstream shows it now; 404 when it is not there or not this client's. */
async function readChannel(deps: CancellationDeps, input: CancellationInput): Promise<UpstreamChannel> {
  const up = await deps.partnerApi.findChannel(input.channelId).catch((err: unknown) => {
    throw lookupFailure(err)
  })
  if (!up || up.client_id !== input.clientId) throw channelNotFound()
  return up
}

/** Writes a transition (conditional on the version it came from); the stored record either way. */
async function settle(
  deps: CancellationDeps,
  from: CancellationRecord,
  next: CancellationRecord,
): Promise<CancellationRecord> {
  if (await deps.store.cancellations.put(next, from.version)) return next
  return (await deps.store.cancellations.get(from.channelId)) ?? from
}

/** Sets a record `revoked` (conditional on its version); null when someone else moved it first. */
async function markRevoked(
  deps: CancellationDeps,
  record: CancellationRecord,
  upstreamStatus: number | null,
): Promise<CancellationRecord | null> {
  const at = deps.clock.now().toISOString()
  // The record may have been confirmed by a poll or webhook: this transition is the API's.
  const next: CancellationRecord = { ...revoked(record, upstreamStatus, at), source: 'api' }
  if (!(await deps.store.cancellations.put(next, record.version))) return null
  return next
}

/**
 * A failed revoke: refused (4xx) or rate limited (429) keeps the cancellation as it was (unlocked):
 * nothing happened upstream; ambiguous leaves it `unknown`, resolved by the next revoke's read.
 */
async function revokeFailed(
  deps: CancellationDeps,
  input: CancellationInput,
  mine: CancellationRecord,
  err: unknown,
): Promise<never> {
  const failure = classifyUpstreamFailure(err)
  input.attempt.upstreamStatus = failure.upstreamStatus
  const at = deps.clock.now().toISOString()
  await settle(
    deps,
    mine,
    failure.kind === 'ambiguous'
      ? revokeUnknown(mine, failure.upstreamStatus, at)
      : revokeNotApplied(
          mine,
          {
            status: failure.upstreamStatus,
            message: failure.kind === 'refused' ? failure.upstreamMessage : null,
          },
          at,
        ),
  )
  throw upstreamFailureError(deps, 'revoke', failure, err)
}

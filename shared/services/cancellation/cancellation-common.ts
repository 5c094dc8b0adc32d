import type { AppDeps } from '../../deps'
import {
  ConflictError,
  NotFoundError,
  PartnerOpsError,
  UpstreamError,
  upstreamMessageOf,
} from '../../domain/errors'
import type { Channel } from '../../domain/types'
import { type AttemptAudit, lookupFailure } from '../idempotency/attempts'
import { applyChannel } from '../state/apply-upstream'

/** What the cancellation use cases need. */
export type CancellationDeps = Pick<AppDeps, 'config' | 'store' | 'partnerApi' | 'clock' | 'logger'>

/** A cancellation request or revoke as the edge checked it (ids, key and body are valid). */
export interface CancellationInput {
  principal: string
  clientId: string
  channelId: string
  /** The checked `Idempotency-Key`. */
  key: string
  reason: string | null
  /** This attempt's audit record: the service notes upstream statuses and the call's start. */
  attempt: AttemptAudit
}

/** The resource path a cancellation request hash covers. */
export function cancellationPath(clientId: string, channelId: string): string {
  return `/clients/${clientId}/channels/${channelId}/cancellation`
}

/** The one 404 of the cancellation routes (unknown channel, or another client's). */
export function channelNotFound(): NotFoundError {
  return new NotFoundError('Channel not found for this client', { code: 'channel_not_found' })
}

/** The 409 of a channel whose upstream-call lock is held. */
export function inFlight(): ConflictError {
  return new ConflictError('A cancellation call for this channel is in progress; retry later', {
    code: 'cancellation_in_flight',
  })
}

/**
 * The channel, when it exists and belongs to the client: from stored state, else from upstream
 * (and then stored through applyChannel). NotFoundError (404) otherwise; nothing else is sent upstream.
 * `stored` is the stored channel when the caller has already read it (null: not stored).
 */
export async function resolveOwnedChannel(
  deps: CancellationDeps,
  clientId: string,
  channelId: string,
  stored?: Channel | null,
): Promise<Channel> {
  let channel = stored === undefined ? await deps.store.channels.get(channelId) : stored
  if (!channel) {
    const up = await deps.partnerApi.findChannel(channelId).catch((err: unknown) => {
      throw lookupFailure(err)
    })
    if (!up) throw channelNotFound()
    channel = (await applyChannel(deps, up, { source: 'api', kind: 'snapshot', stored: null })).record
  }
  if (channel.clientId !== clientId) throw channelNotFound()
  return channel
}

/**
 * How an upstream call failed: `refused` (a 4xx other than 429: final, nothing happened),
 * `rate_limited` (429: nothing happened, retry later) or `ambiguous` (timeout, 5xx, an unreadable
 * answer: the outcome is unknown and is resolved by a read).
 */
export type UpstreamFailure =
  | { kind: 'refused'; upstreamStatus: number; upstreamMessage: string }
  | { kind: 'rate_limited'; upstreamStatus: number; retryAfterSeconds: number | undefined }
  | { kind: 'ambiguous'; upstreamStatus: number }

/** Classifies a failed upstream call (see {@link UpstreamFailure}). */
export function classifyUpstreamFailure(err: unknown): UpstreamFailure {
  if (!(err instanceof UpstreamError)) return { kind: 'ambiguous', upstreamStatus: 0 }
  if (err.upstreamStatus === 429) {
    return { kind: 'rate_limited', upstreamStatus: 429, retryAfterSeconds: err.retryAfterSeconds }
  }
  if (!err.retryable && err.code !== 'upstream_invalid_response') {
    return { kind: 'refused', upstreamStatus: err.upstreamStatus, upstreamMessage: upstreamMessageOf(err) }
  }
  return { kind: 'ambiguous', upstreamStatus: err.upstreamStatus }
}

/** Seconds a caller waits after an upstream 429 that named no Retry-After. */
export const DEFAULT_UPSTREAM_RETRY_AFTER_SECONDS = 30

/**
 * The error that answers a failed upstream cancellation or revoke: `upstream_rejected` with
 * upstream's message when refused (502, final), `upstream_rate_limited` with Retry-After (503),
 * `upstream_outcome_unknown` (503) when ambiguous.
 */
export function upstreamFailureError(
  deps: Pick<CancellationDeps, 'logger'>,
  what: 'cancellation' | 'revoke',
  failure: UpstreamFailure,
  err: unknown,
): UpstreamError {
  switch (failure.kind) {
    case 'refused':
      return new UpstreamError(`Upstream refused the ${what}: ${failure.upstreamMessage}`, {
        upstreamStatus: failure.upstreamStatus,
        retryable: false,
        code: 'upstream_rejected',
      })
    case 'rate_limited':
      return new UpstreamError(`Upstream is rate limiting; the ${what} was not sent, retry later`, {
        upstreamStatus: 429,
        retryable: true,
        code: 'upstream_rate_limited',
        retryAfterSeconds: failure.retryAfterSeconds ?? DEFAULT_UPSTREAM_RETRY_AFTER_SECONDS,
      })
    case 'ambiguous':
      if (!(err instanceof PartnerOpsError)) {
        deps.logger.error(`${what} call failed unexpectedly`, { error: err })
      }
      return new UpstreamError(`Upstream did not confirm the ${what}; retry to resolve it`, {
        upstreamStatus: failure.upstreamStatus,
        retryable: true,
        code: 'upstream_outcome_unknown',
      })
  }
}

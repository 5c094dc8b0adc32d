import * as z from 'zod'
import type { AppDeps } from '../../deps'
import { NotFoundError, PartnerOpsError, UpstreamError } from '../../domain/errors'
import type { CancellationRecord, ChangeEvent, Channel, StoredResponse } from '../../domain/types'
import { parseJsonBody } from '../../http/json-body'
import {
  type AttemptAudit,
  type AttemptResult,
  lookupFailure,
  storedError,
  storedJson,
} from '../idempotency/attempts'
import { ID_PATTERN, toCancellationView } from '../reads/views'
import { applyChannel } from '../state/apply-upstream'

/** What the cancellation use cases need. */
export type CancellationDeps = Pick<
  AppDeps,
  'config' | 'store' | 'partnerApi' | 'events' | 'clock' | 'logger'
>

/** Input of a cancellation request or revoke, as the handler got it from the event. */
export interface CancellationInput {
  principal: string
  clientId: string
  channelId: string
  /** The raw `Idempotency-Key` header, checked by the service. */
  idempotencyKey: string | undefined
  /** The raw request body (decoded), or null. */
  body: string | null
}

/** The HTTP response of a cancellation use case and whether it is a replay. */
export type CancellationResult = AttemptResult

/** Longest accepted `reason`, in characters (docs/openapi.yaml). */
export const MAX_REASON_CHARS = 500

// Built on first parse (z.lazy), not at import: it keeps the schema out of every cold start.
const bodySchema = z.lazy(() =>
  z.strictObject({
    reason: z
      .string()
      .refine(
        (s) => [...s].length <= MAX_REASON_CHARS,
        `reason must be at most ${MAX_REASON_CHARS} characters`,
      )
      .optional(),
  }),
)

/** The validated body of a cancellation request or revoke. */
export type CancellationBody = z.infer<typeof bodySchema>

/** Parses an optional `{"reason":"…"}` body; any other field, type or size → ValidationError (400). */
export function parseCancellationBody(raw: string | null): CancellationBody {
  return parseJsonBody(raw, bodySchema, {
    unknownFieldsMessage: 'Only the field reason is accepted',
    shapeMessage: 'The body must be a JSON object such as {"reason":"…"}',
  })
}

/** The resource path a cancellation request hash covers. */
export function cancellationPath(clientId: string, channelId: string): string {
  return `/clients/${clientId}/channels/${channelId}/cancellation`
}

/** A 409 with the existing cancellation record (or null) next to the error. */
export function conflictWithRecord(
  code: string,
  message: string,
  record: CancellationRecord | null,
): StoredResponse {
  return storedJson(409, {
    error: { code, message },
    cancellation: record ? toCancellationView(record) : null,
  })
}

/** The one 404 of the cancellation routes (unknown channel, or another client's). */
export function channelNotFound(): NotFoundError {
  return new NotFoundError('Channel not found for this client', { code: 'channel_not_found' })
}

/**
 * The channel, when it exists and belongs to the client: from stored state, else from upstream
 * (and then stored through applyChannel). NotFoundError (404) otherwise; nothing else is sent upstream.
 */
export async function resolveOwnedChannel(
  deps: CancellationDeps,
  clientId: string,
  channelId: string,
): Promise<Channel> {
  if (!ID_PATTERN.test(clientId) || !ID_PATTERN.test(channelId)) throw channelNotFound()
  let channel = await deps.store.channels.get(channelId)
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

/** The `Cancellation State Changed` event of one record transition. */
export function stateChanged(
  record: CancellationRecord,
  from: CancellationRecord['state'] | null,
  at: string,
): ChangeEvent {
  return {
    detailType: 'Cancellation State Changed',
    detail: {
      clientId: record.clientId,
      channelId: record.channelId,
      from,
      to: record.state,
      source: 'api',
      at,
    },
  }
}

/** A new attempt record for the audit trail. */
export function newAttempt(action: string, input: CancellationInput): AttemptAudit {
  return {
    action,
    subject: `channel#${input.channelId.slice(0, 128)}`,
    principal: input.principal,
    idempotencyKey: input.idempotencyKey?.slice(0, 255) ?? null,
    requestHash: null,
    outcome: null,
    upstreamStatus: null,
    details: { clientId: input.clientId.slice(0, 128) },
  }
}

const MAX_UPSTREAM_MESSAGE = 300

/** Upstream's own message (developer_message), trimmed; never the raw body or our request. */
export function upstreamMessageOf(err: unknown): string {
  const raw =
    err instanceof UpstreamError && err.upstreamMessage
      ? err.upstreamMessage
      : `HTTP ${err instanceof UpstreamError ? err.upstreamStatus : 'error'}`
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
  const clean = raw.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return clean.length > MAX_UPSTREAM_MESSAGE ? `${clean.slice(0, MAX_UPSTREAM_MESSAGE)}…` : clean
}

/** How an upstream call failed: refused (a 4xx, final) or ambiguous (timeout, 5xx: resolved later). */
export function classifyUpstreamFailure(err: unknown): {
  refused: boolean
  upstreamStatus: number
  upstreamMessage: string | null
} {
  const refused = err instanceof UpstreamError && !err.retryable && err.code !== 'upstream_invalid_response'
  return {
    refused,
    upstreamStatus: err instanceof UpstreamError ? err.upstreamStatus : 0,
    upstreamMessage: refused ? upstreamMessageOf(err) : null,
  }
}

/**
 * The answer to a failed upstream cancellation or revoke: 502 with upstream's message when it was
 * refused, 503 (retry resolves it) when the outcome is unknown. Records the outcome on the attempt.
 */
export function upstreamFailureResponse(
  deps: Pick<CancellationDeps, 'logger'>,
  attempt: AttemptAudit,
  what: 'cancellation' | 'revoke',
  err: unknown,
): StoredResponse {
  const { refused, upstreamStatus, upstreamMessage } = classifyUpstreamFailure(err)
  if (refused) {
    attempt.outcome = 'upstream_rejected'
    return storedError(
      new UpstreamError(`Upstream refused the ${what}: ${upstreamMessage}`, {
        upstreamStatus,
        retryable: false,
        code: 'upstream_rejected',
      }),
    )
  }
  if (!(err instanceof PartnerOpsError)) deps.logger.error(`${what} call failed unexpectedly`, { error: err })
  attempt.outcome = 'upstream_outcome_unknown'
  return storedError(
    new UpstreamError(`Upstream did not confirm the ${what}; retry to resolve it`, {
      upstreamStatus,
      retryable: true,
      code: 'upstream_outcome_unknown',
    }),
  )
}

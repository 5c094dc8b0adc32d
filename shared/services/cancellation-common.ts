import { randomUUID } from 'node:crypto'
import * as z from 'zod'
import type { AppDeps } from '../deps'
import { NotFoundError, PartnerOpsError, UpstreamError } from '../domain/errors'
import type { CancellationRecord, ChangeEvent, Channel, StoredResponse } from '../domain/types'
import { parseJsonBody } from '../http/json-body'
import { toErrorResponse } from '../http/responses'
import { applyChannel } from './apply-upstream'

import { ID_PATTERN, toCancellationView } from './views'

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
export interface CancellationResult {
  response: StoredResponse
  replayed: boolean
}

/** The code of a refused upstream lookup: refused credentials keep their own code. */
export function lookupCode(err: UpstreamError): string {
  return err.code === 'upstream_unauthorized' ? err.code : 'upstream_lookup_failed'
}

/** Longest accepted `reason`, in characters (contract §4). */
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

/**
 * How long one attempt holds the idempotency key and the channel's upstream-call lock: one upstream
 * lookup (retried within the upstream budget), one single-shot call, and a margin. A crashed attempt
 * is taken over after this.
 */
export function lockDurationMs(config: CancellationDeps['config']): number {
  return config.UPSTREAM_BUDGET_MS + config.UPSTREAM_TIMEOUT_MS + 5_000
}

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }

/** A JSON response as stored for replay. */
export function storedJson(statusCode: number, body: unknown): StoredResponse {
  return { statusCode, headers: { ...JSON_HEADERS }, body: JSON.stringify(body) }
}

/** The contract's error response of an error, with extra top-level fields (e.g. the existing record). */
export function storedError(err: PartnerOpsError, extra: Record<string, unknown> = {}): StoredResponse {
  const base = toErrorResponse(err)
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(base.headers ?? {})) headers[k] = String(v)
  const body =
    Object.keys(extra).length > 0 ? JSON.stringify({ ...JSON.parse(base.body), ...extra }) : base.body
  return { statusCode: base.statusCode, headers, body }
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

/** Maps an upstream failure of a read to an error that says nothing about the upstream request. */
export function lookupFailure(err: unknown): unknown {
  if (err instanceof UpstreamError) {
    return new UpstreamError('The channel could not be looked up upstream', {
      upstreamStatus: err.upstreamStatus,
      retryable: err.retryable,
      code: err.retryable ? 'upstream_unavailable' : lookupCode(err),
    })
  }
  return err
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

/** What one attempt did, filled in as it goes and appended to the audit trail at the end. */
export interface AttemptAudit {
  action: string
  subject: string
  principal: string
  idempotencyKey: string | null
  requestHash: string | null
  outcome: string | null
  upstreamStatus: number | null
  details: Record<string, unknown>
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

/** Appends one audit entry; returns false (and logs) when the trail could not be written. */
export async function appendAudit(
  deps: CancellationDeps,
  attempt: AttemptAudit,
  outcome: string,
  httpStatus: number | null,
): Promise<boolean> {
  try {
    await deps.store.audit.append({
      subject: attempt.subject,
      at: deps.clock.now().toISOString(),
      id: randomUUID(),
      action: attempt.action,
      principal: attempt.principal,
      idempotencyKey: attempt.idempotencyKey,
      requestHash: attempt.requestHash,
      outcome,
      httpStatus,
      upstreamStatus: attempt.upstreamStatus,
      details: attempt.details,
    })
    return true
  } catch (err) {
    deps.logger.error('audit entry not written', { error: err, action: attempt.action, outcome })
    return false
  }
}

/**
 * Runs one attempt and appends its audit entry whatever happens (accepted, refused, replayed or
 * failed). Audit trouble never changes the answer: the attempt's effect, if any, has already happened.
 */
export async function audited(
  deps: CancellationDeps,
  attempt: AttemptAudit,
  fn: () => Promise<CancellationResult>,
): Promise<CancellationResult> {
  let result: CancellationResult
  try {
    result = await fn()
  } catch (err) {
    const status = err instanceof PartnerOpsError ? err.status : 500
    const code = err instanceof PartnerOpsError ? err.code : 'internal_error'
    await appendAudit(deps, attempt, attempt.outcome ?? code, status)
    throw err
  }
  const outcome = result.replayed ? 'replayed' : (attempt.outcome ?? 'ok')
  await appendAudit(deps, attempt, outcome, result.response.statusCode)
  return result
}

import * as z from 'zod'
import type { AppDeps } from '../../deps'
import { NotFoundError, PartnerOpsError, UpstreamError } from '../../domain/errors'
import type { Client, StoredResponse } from '../../domain/types'
import type { UpstreamClient } from '../../domain/upstream'
import { parseJsonBody } from '../../http/json-body'
import {
  type AttemptAudit,
  audited,
  lockDurationMs,
  lookupFailure,
  storedError,
  storedJson,
} from '../idempotency/attempts'
import {
  hashRequest,
  type IdempotentResult,
  parseIdempotencyKey,
  withIdempotency,
} from '../idempotency/idempotency'
import { partnerPayloadSchema } from '../onboarding/create-onboarding-link'
import { ID_PATTERN, toClientView } from '../reads/views'
import { applyClient } from '../state/apply-upstream'

/** What changing client settings needs. */
export type ClientSettingsDeps = Pick<
  AppDeps,
  'config' | 'store' | 'partnerApi' | 'events' | 'clock' | 'logger'
>

/** `PATCH /clients/{clientId}` as the handler got it from the event. */
export interface ClientSettingsInput {
  principal: string
  clientId: string
  /** The raw `Idempotency-Key` header, checked here. */
  idempotencyKey: string | undefined
  /** The raw request body (decoded), or null. */
  body: string | null
}

// Built on first parse (z.lazy), not at import: it keeps the schema out of every cold start.
const bodySchema = z.lazy(() =>
  z
    .strictObject({
      maxChannels: z.number().int('must be an integer').min(1).max(100).optional(),
      partnerPayload: partnerPayloadSchema.optional(),
    })
    .refine((b) => b.maxChannels !== undefined || b.partnerPayload !== undefined, {
      message: 'Give maxChannels and/or partnerPayload',
    }),
)

/** The validated body of `PATCH /clients/{clientId}`. */
export type ClientSettingsBody = z.infer<typeof bodySchema>

/**
 * `PATCH /clients/{clientId}` (docs/openapi.yaml): once per idempotency key, checks that
 * the client exists (stored state, else a lookup upstream; 404 with nothing sent otherwise), sends
 * the documented client PATCH (`max_channels`, `partner_payload`), stores the returned client through
 * the ordering guard and answers 200 with it; an upstream refusal is a 502 (kept for replay), an
 * unreachable upstream a 503 (the key is released). Every attempt is audited.
 */
export async function updateClientSettings(
  deps: ClientSettingsDeps,
  input: ClientSettingsInput,
): Promise<IdempotentResult> {
  const attempt: AttemptAudit = {
    action: 'client.patch',
    subject: `client#${input.clientId.slice(0, 128)}`,
    principal: input.principal,
    idempotencyKey: input.idempotencyKey?.slice(0, 255) ?? null,
    requestHash: null,
    outcome: null,
    upstreamStatus: null,
    details: {},
  }
  return audited(deps, attempt, async () => {
    const key = parseIdempotencyKey(input.idempotencyKey)
    const body = parseClientSettingsBody(input.body)
    attempt.details = { ...body }
    attempt.requestHash = hashRequest('PATCH', `/clients/${input.clientId}`, body)
    return withIdempotency(
      deps,
      { scope: `${input.principal}|client.patch`, key, requestHash: attempt.requestHash },
      () => patchOnce(deps, attempt, input.clientId, body),
      { lockMs: lockDurationMs(deps.config) },
    )
  })
}

/** Parses the JSON body strictly; unknown fields, wrong types, an empty object → ValidationError (400). */
export function parseClientSettingsBody(raw: string | null): ClientSettingsBody {
  return parseJsonBody(raw, bodySchema, {
    requiredMessage: 'A JSON body with maxChannels and/or partnerPayload is required',
    unknownFieldsMessage: 'Only the fields maxChannels and partnerPayload are accepted',
    shapeMessage: 'The body must be a JSON object such as {"maxChannels":5}',
  })
}

async function patchOnce(
  deps: ClientSettingsDeps,
  attempt: AttemptAudit,
  clientId: string,
  body: ClientSettingsBody,
): Promise<StoredResponse> {
  try {
    const stored = await findClient(deps, clientId)
    let up: UpstreamClient
    try {
      up = await deps.partnerApi.patchClient(clientId, {
        ...(body.maxChannels !== undefined ? { max_channels: body.maxChannels } : {}),
        ...(body.partnerPayload !== undefined ? { partner_payload: body.partnerPayload } : {}),
      })
    } catch (err) {
      if (err instanceof UpstreamError) attempt.upstreamStatus = err.upstreamStatus
      throw refusal(err)
    }
    attempt.upstreamStatus = 200
    const applied = await applyClient(deps, up, { source: 'api', kind: 'snapshot', stored })
    // A concurrent newer fact won the guarded write: what is stored now is the answer.
    const record: Client =
      applied.outcome === 'stale'
        ? ((await deps.store.clients.get(clientId)) ?? applied.record)
        : applied.record
    attempt.outcome = 'updated'
    return storedJson(200, toClientView(record))
  } catch (err) {
    // Refusals (4xx) and upstream refusals (502) are this request's answer for good; anything else
    // propagates so that the key is released and a retry runs again.
    if (!(err instanceof PartnerOpsError) || (err.status >= 500 && err.status !== 502)) throw err
    attempt.outcome = err.code
    return storedError(err)
  }
}

/** The stored client, or the client read upstream (and stored); NotFoundError when neither exists. */
async function findClient(deps: ClientSettingsDeps, clientId: string): Promise<Client> {
  const notFound = new NotFoundError('Client not found', { code: 'client_not_found' })
  if (!ID_PATTERN.test(clientId)) throw notFound
  const stored = await deps.store.clients.get(clientId)
  if (stored) return stored
  let up: UpstreamClient | null
  try {
    up = await deps.partnerApi.findClient(clientId)
  } catch (err) {
    throw lookupFailure(err, 'client')
  }
  if (!up || up.id !== clientId) throw notFound
  return (await applyClient(deps, up, { source: 'api', kind: 'snapshot', stored: null })).record
}

/** An upstream failure of the PATCH itself: 502 with upstream's message when refused, 503 when unreachable. */
function refusal(err: unknown): unknown {
  if (err instanceof UpstreamError) {
    if (err.retryable) return err
    const message = err.upstreamMessage
      ? `The Partner API refused the change: ${err.upstreamMessage.slice(0, 300)}`
      : 'The Partner API refused the change'
    return new UpstreamError(message, {
      upstreamStatus: err.upstreamStatus,
      retryable: false,
      code: 'upstream_refused',
      ...(err.upstreamMessage ? { upstreamMessage: err.upstreamMessage } : {}),
    })
  }
  return lookupFailure(err, 'client')
}

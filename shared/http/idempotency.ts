import type { APIGatewayProxyEvent } from 'aws-lambda'
import type { AppDeps } from '../deps'
import { PartnerOpsError, ValidationError } from '../domain/errors'
import type { StoredResponse } from '../domain/types'
import { type AttemptAudit, appendAudit } from '../services/idempotency/attempts'
import {
  beginIdempotent,
  completeIdempotent,
  hashRequest,
  type IdempotentRequest,
  releaseIdempotent,
} from '../services/idempotency/idempotency'
import { type Answer, answerMeta, errorAnswer, replayAnswer, statusOf } from './answers'

/**
 * Idempotency and audit as middlewares of the audited management writes (cancellation request and
 * revoke, client PATCH), in the style of Powertools' `makeHandlerIdempotent`: whether an answer is
 * stored for replay and whether a key is released is decided here, once, from the answer's
 * replayability (./answers.ts); the audit entry of every attempt is appended here, once.
 *
 * They are an onion of plain functions rather than a middy chain: middy skips the `after` step of
 * outer middlewares when an inner one answers early, so a replayed answer would escape the audit.
 */

/** A write handler: one parsed request in, one answer out. */
export type WriteHandler<E> = (request: E) => Promise<Answer>
/** A middleware around a write handler. */
export type WriteMiddleware<E> = (next: WriteHandler<E>) => WriteHandler<E>

/** One audited, idempotent write, as the edge parsed it. */
export interface WriteRequest<B> {
  principal: string
  params: Record<string, string>
  /** The checked `Idempotency-Key`. */
  key: string
  /** The validated body. */
  body: B
  /** Filled in by the service as it goes, appended by {@link audited}. */
  attempt: AttemptAudit
  /**
   * Writes that finish the request once its answer is known (the idempotency record's completion),
   * left for {@link audited} to await together with the audit entry: two independent writes in one
   * round trip instead of two.
   */
  settle?: Promise<unknown>[]
}

// Printable ASCII, no leading or trailing space (proxies trim header values).
const KEY_PATTERN = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/

/** The `Idempotency-Key` header (any case), or undefined. */
export function idempotencyKeyHeader(
  headers: Record<string, string | undefined> | null | undefined,
): string | undefined {
  if (!headers) return undefined
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'idempotency-key') return value
  }
  return undefined
}

/** Checks an `Idempotency-Key` value: 1–255 printable ASCII characters; ValidationError (400) otherwise. */
export function parseIdempotencyKey(raw: string | undefined): string {
  if (raw === undefined || raw === '') {
    throw new ValidationError('The Idempotency-Key header is required', { code: 'missing_idempotency_key' })
  }
  if (!KEY_PATTERN.test(raw)) {
    throw new ValidationError('The Idempotency-Key header must be 1 to 255 printable ASCII characters', {
      code: 'invalid_idempotency_key',
    })
  }
  return raw
}

/**
 * Runs the handler at most once per idempotency key and request: a replay answers the stored answer
 * byte for byte (with `idempotent-replayed: true`); a final answer is stored, any other answer or a
 * thrown error releases the key so that a retry runs again.
 */
export function makeIdempotent<B>(
  deps: Pick<AppDeps, 'store' | 'clock'>,
  opts: { operation: string; method: string; path: (req: WriteRequest<B>) => string; lockMs: number },
): WriteMiddleware<WriteRequest<B>> {
  return (next) => async (req) => {
    const requestHash = hashRequest(opts.method, opts.path(req), req.body)
    req.attempt.requestHash = requestHash
    const request: IdempotentRequest = {
      scope: `${req.principal}|${opts.operation}`,
      key: req.key,
      requestHash,
    }
    const verdict = await beginIdempotent(deps, request, { lockMs: opts.lockMs })
    if (verdict.kind === 'replay') return replayAnswer(verdict.response)
    let answer: Answer
    try {
      answer = await next(req)
    } catch (err) {
      // The error being thrown is the one that matters; an unreleased key frees itself at lock expiry.
      await releaseIdempotent(deps, request).catch(() => undefined)
      throw err
    }
    const finish = answerMeta(answer).replayable
      ? completeIdempotent(deps, request, stored(answer))
      : releaseIdempotent(deps, request)
    if (req.settle) req.settle.push(finish)
    else await finish
    return answer
  }
}

/**
 * Appends the attempt's audit entry whatever happens (accepted, refused, replayed or failed), with
 * the answer's outcome and status. Audit trouble never changes the answer: the attempt's effect, if
 * any, has already happened.
 */
export function audited<E extends { attempt: AttemptAudit; settle?: Promise<unknown>[] }>(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'>,
): WriteMiddleware<E> {
  return (next) => async (req) => {
    let answer: Answer
    try {
      answer = await next(req)
    } catch (err) {
      await Promise.allSettled(req.settle ?? [])
      const code = err instanceof PartnerOpsError ? err.code : 'internal_error'
      await appendAudit(deps, req.attempt, code, statusOf(code))
      throw err
    }
    // The audit entry and the writes that finish the request (idempotency), side by side; the answer
    // goes out only once all are stored, and a failure of any fails the request as before.
    await Promise.all([
      appendAudit(deps, req.attempt, answerMeta(answer).outcome, answer.statusCode),
      ...(req.settle ?? []),
    ])
    return answer
  }
}

/**
 * The innermost step: an error thrown by the service becomes its answer (final or not, as the code
 * says), so that a refusal is stored for replay like any other answer. 5xx are logged.
 */
export function answeringErrors<E>(logger: AppDeps['logger']): WriteMiddleware<E> {
  return (next) => async (req) => {
    try {
      return await next(req)
    } catch (err) {
      const answer = errorAnswer(err)
      if (answer.statusCode >= 500) logger.error('request failed', { error: err, status: answer.statusCode })
      return answer
    }
  }
}

/** Composes middlewares, outermost first, around a handler. */
export function compose<E>(handler: WriteHandler<E>, ...middlewares: WriteMiddleware<E>[]): WriteHandler<E> {
  return middlewares.reduceRight((inner, mw) => mw(inner), handler)
}

function stored(answer: Answer): StoredResponse {
  return { statusCode: answer.statusCode, headers: { ...answer.headers }, body: answer.body }
}

/** The decoded request body (API Gateway may pass it base64-encoded), or null. */
export function bodyText(event: Pick<APIGatewayProxyEvent, 'body' | 'isBase64Encoded'>): string | null {
  if (event.body === null || event.body === undefined) return null
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body
}

/** One audited, idempotent write route: what it is called, what it covers, how it parses and runs. */
export interface WriteSpec<B> {
  /** The audit action, e.g. `cancellation.request`; also the idempotency scope's operation. */
  action: string
  method: 'POST' | 'PATCH' | 'DELETE'
  /** The resource path the request hash covers. */
  path: (params: Record<string, string>) => string
  /** The audit subject, e.g. `channel#…`. */
  subject: (params: Record<string, string>) => string
  /** Audit details known from the path alone. */
  details?: (params: Record<string, string>) => Record<string, unknown>
  /** Validates the raw body at the edge; ValidationError (400) otherwise. */
  parseBody: (raw: string | null) => B
  /** Audit details from the validated body. */
  auditBody?: (body: B) => Record<string, unknown>
  /** Calls the service and turns its outcome into an answer (./answers.ts). */
  run: WriteHandler<WriteRequest<B>>
}

/**
 * Builds an audited, idempotent write route: audit (outermost), then the key and body checks (a
 * 400 is audited, never stored), then idempotency, then the service, whose errors become answers.
 */
export function auditedWrite<B>(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'>,
  spec: WriteSpec<B> & { lockMs: number },
): (event: APIGatewayProxyEvent, params: Record<string, string>, principal: string) => Promise<Answer> {
  const inner = compose<WriteRequest<B>>(
    spec.run,
    makeIdempotent<B>(deps, {
      operation: spec.action,
      method: spec.method,
      path: (req) => spec.path(req.params),
      lockMs: spec.lockMs,
    }),
    answeringErrors(deps.logger),
  )
  return (event, params, principal) => {
    const rawKey = idempotencyKeyHeader(event.headers)
    const attempt: AttemptAudit = {
      action: spec.action,
      subject: spec.subject(params),
      principal,
      idempotencyKey: rawKey?.slice(0, 255) ?? null,
      requestHash: null,
      upstreamStatus: null,
      details: spec.details?.(params) ?? {},
    }
    const settle: Promise<unknown>[] = []
    const edge = audited<{ attempt: AttemptAudit; settle: Promise<unknown>[] }>(deps)(async () => {
      const key = parseIdempotencyKey(rawKey)
      const body = spec.parseBody(bodyText(event))
      Object.assign(attempt.details, spec.auditBody?.(body) ?? {})
      return inner({ principal, params, key, body, attempt, settle })
    })
    return edge({ attempt, settle })
  }
}

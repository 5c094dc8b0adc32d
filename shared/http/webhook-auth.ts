import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { parseSecretList } from '../adapters/secrets'
import type { AppDeps } from '../deps'
import {
  DependencyUnavailableError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../domain/errors'
import { type WebhookEnvelope, webhookEnvelopeSchema } from '../domain/upstream'
import { countWebhookRequest, WEBHOOK_METRICS } from '../services/webhooks/ingest-webhook'

/** Largest accepted webhook body, in bytes (docs/openapi.yaml). */
export const MAX_WEBHOOK_BYTES = 256 * 1024

/** The signature header 360dialog sends (docs/partner-api-notes.md §6). */
export const SIGNATURE_HEADER = 'x-360dialog-signature'
/** The optional shared-token header configured with the webhook URL. */
export const TOKEN_HEADER = 'x-webhook-token'

const SHA256_HEX_LENGTH = 64
const HEX = /^[0-9a-fA-F]+$/
/** Longest token header compared at all; anything longer is refused without hashing it. */
const MAX_TOKEN_LENGTH = 4096

/** Header maps as API Gateway (REST, v1) passes them. */
export interface RawHeaders {
  headers?: Record<string, string | undefined> | null
  multiValueHeaders?: Record<string, string[] | undefined> | null
}

/** One header's value: absent, exactly one value, or sent more than once. */
export type HeaderValue = { kind: 'missing' } | { kind: 'one'; value: string } | { kind: 'duplicated' }

/**
 * Reads one header case-insensitively. Two values (multiValueHeaders, or two spellings of the name
 * with different values) are `duplicated`: an authentication header must be unambiguous.
 */
export function readHeader(raw: RawHeaders, name: string): HeaderValue {
  const wanted = name.toLowerCase()
  const values: string[] = []
  let sawMulti = false
  for (const [key, list] of Object.entries(raw.multiValueHeaders ?? {})) {
    if (key.toLowerCase() !== wanted || list === undefined) continue
    sawMulti = true
    values.push(...list)
  }
  if (!sawMulti) {
    for (const [key, value] of Object.entries(raw.headers ?? {})) {
      if (key.toLowerCase() === wanted && value !== undefined) values.push(value)
    }
  }
  if (values.length === 0) return { kind: 'missing' }
  if (values.length > 1) return { kind: 'duplicated' }
  return { kind: 'one', value: values[0] as string }
}

/**
 * The raw body bytes, with the size limit enforced before decoding anything large: a base64 body is
 * measured by its encoded length first (413 without allocating), then by its decoded length.
 */
export function rawBody(body: string | null | undefined, isBase64Encoded: boolean): Buffer {
  const text = body ?? ''
  if (isBase64Encoded) {
    if (text.length > Math.ceil(MAX_WEBHOOK_BYTES / 3) * 4 + 4) throw new PayloadTooLargeError()
    const bytes = Buffer.from(text, 'base64')
    if (bytes.length > MAX_WEBHOOK_BYTES) throw new PayloadTooLargeError()
    return bytes
  }
  if (text.length > MAX_WEBHOOK_BYTES || Buffer.byteLength(text, 'utf8') > MAX_WEBHOOK_BYTES) {
    throw new PayloadTooLargeError()
  }
  return Buffer.from(text, 'utf8')
}

/** The 32 digest bytes of a signature header (bare hex or `sha256=` hex), or null when malformed. */
export function parseSignature(header: string): Buffer | null {
  let value = header.trim()
  if (value.length > SHA256_HEX_LENGTH + 7) return null
  if (value.slice(0, 7).toLowerCase() === 'sha256=') value = value.slice(7)
  if (value.length !== SHA256_HEX_LENGTH || !HEX.test(value)) return null
  return Buffer.from(value, 'hex')
}

/**
 * True when `header` is the HMAC-SHA256 of `body` under any of `secrets`. Constant time per secret,
 * and every secret is tried so timing does not tell which one matched. Never throws.
 */
export function verifySignature(body: Uint8Array, header: string, secrets: readonly string[]): boolean {
  const given = parseSignature(header)
  if (given === null) return false
  let ok = false
  for (const secret of secrets) {
    if (secret === '') continue
    const expected = createHmac('sha256', secret).update(body).digest()
    if (timingSafeEqual(expected, given)) ok = true
  }
  return ok
}

/** Constant-time, length-safe token compare (both sides hashed to equal length first). */
export function verifyToken(given: string, expected: string): boolean {
  if (expected === '' || given.length > MAX_TOKEN_LENGTH) return false
  const a = createHash('sha256').update(given, 'utf8').digest()
  const b = createHash('sha256').update(expected, 'utf8').digest()
  return timingSafeEqual(a, b)
}

/** Why a webhook was refused (logged and counted; never the header values themselves). */
export type WebhookAuthFailure =
  | 'missing_signature'
  | 'duplicated_signature'
  | 'bad_signature'
  | 'missing_token'
  | 'duplicated_token'
  | 'bad_token'

/** What the webhook check needs: the active platform secrets and the token when one is configured. */
export interface WebhookAuthConfig {
  signature: 'required' | 'off'
  secrets: readonly string[]
  token: string | null
}

/** Checks signature and token on the raw bytes; null when authentic, else the failure. Never throws. */
export function checkWebhookAuth(
  body: Uint8Array,
  headers: RawHeaders,
  config: WebhookAuthConfig,
): WebhookAuthFailure | null {
  if (config.token !== null) {
    const token = readHeader(headers, TOKEN_HEADER)
    if (token.kind === 'missing') return 'missing_token'
    if (token.kind === 'duplicated') return 'duplicated_token'
    if (!verifyToken(token.value, config.token)) return 'bad_token'
  }
  if (config.signature === 'off') return null
  const signature = readHeader(headers, SIGNATURE_HEADER)
  if (signature.kind === 'missing') return 'missing_signature'
  if (signature.kind === 'duplicated') return 'duplicated_signature'
  return verifySignature(body, signature.value, config.secrets) ? null : 'bad_signature'
}

/** Rations secret refreshes after failed signatures, so bad requests cannot hammer Secrets Manager. */
const SECRET_REFRESH_INTERVAL_MS = 30_000
const lastRefresh = new WeakMap<object, number>()

/** What authenticating a webhook needs. */
export type WebhookAuthDeps = Pick<AppDeps, 'config' | 'store' | 'secrets' | 'clock' | 'logger' | 'metrics'>

/**
 * The active platform secrets and the token. Any failure to read or parse them (a malformed
 * rotation list included) is DependencyUnavailableError: the sender gets 503 and retries, and
 * unauthenticated input is never accepted because a secret is missing.
 */
async function authConfig(deps: WebhookAuthDeps, forceRefresh: boolean): Promise<WebhookAuthConfig> {
  const signature = deps.config.WEBHOOK_SIGNATURE
  let secrets: string[]
  let token: string | null
  try {
    const [platform, webhookToken] = await Promise.all([
      signature === 'off' ? Promise.resolve(null) : deps.secrets.get('platformSecret', { forceRefresh }),
      deps.secrets.get('webhookToken', { forceRefresh }),
    ])
    secrets = platform === null ? [] : parseSecretList(platform)
    token = webhookToken
  } catch (err: unknown) {
    if (err instanceof DependencyUnavailableError && err.code === 'service_unavailable') throw err
    throw new DependencyUnavailableError('webhook secrets could not be read', { cause: err })
  }
  if ((signature === 'required' && secrets.length === 0) || (signature === 'off' && token === null)) {
    throw new DependencyUnavailableError('webhook authentication is not configured')
  }
  return { signature, secrets, token }
}

/**
 * Authenticates one webhook delivery on its raw bytes, at the edge before anything is parsed or
 * stored: UnauthorizedError `invalid_signature` (logged, counted) when it is not authentic.
 */
export async function authenticateWebhook(
  deps: WebhookAuthDeps,
  body: Uint8Array,
  headers: RawHeaders,
): Promise<void> {
  let failure = checkWebhookAuth(body, headers, await authConfig(deps, false))
  if (failure === 'bad_signature' || failure === 'bad_token') {
    // A rotation may have added a secret since it was cached: look once more, at most every 30 s.
    const now = deps.clock.now().getTime()
    const last = lastRefresh.get(deps.secrets) ?? Number.NEGATIVE_INFINITY
    if (now - last >= SECRET_REFRESH_INTERVAL_MS) {
      lastRefresh.set(deps.secrets, now)
      failure = checkWebhookAuth(body, headers, await authConfig(deps, true))
    }
  }
  if (failure === null) return
  deps.logger.warn('webhook refused', { reason: failure })
  deps.metrics.addMetric(WEBHOOK_METRICS.unauthorized, MetricUnit.Count, 1)
  await countWebhookRequest(deps, { unauthorized: 1 })
  throw new UnauthorizedError('Missing or invalid webhook signature or token', { code: 'invalid_signature' })
}

/** Parses an authenticated body's envelope: ValidationError (400) when it is not JSON or lacks event/data. */
export function parseWebhookEnvelope(body: Buffer): WebhookEnvelope {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch {
    throw new ValidationError('Body is not JSON', { code: 'invalid_json' })
  }
  const parsed = webhookEnvelopeSchema.safeParse(value)
  if (!parsed.success) {
    throw new ValidationError('Body must be a JSON object with "event" (string) and "data" (object)', {
      code: 'invalid_envelope',
    })
  }
  return parsed.data
}

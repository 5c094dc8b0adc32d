import { createHmac, timingSafeEqual } from 'node:crypto'
import * as z from 'zod/mini'
import './zod-locale'

/**
 * The signed, expiring reference carried by an onboarding link's callback URL (docs/openapi.yaml
 * "Onboarding"): `base64url(JSON payload) "." base64url(HMAC-SHA256(key, "onboarding-ref.v1." payload))`.
 * It binds the partner payload and the partner's own redirect URL to the link without storing
 * anything, and it cannot be forged, changed or reused after `exp` without the link signing key.
 */

/** What a reference carries. `exp` and `iat` are epoch seconds. */
export interface OnboardingRefPayload {
  partnerPayload: string
  redirectUrl?: string
  /** Issue time: the callback sets the payload upstream only on clients created after the link. */
  iat: number
  exp: number
  /** Random per link, so two links issued in one second for one payload are still two refs. */
  nonce?: string
}

/** Longest reference accepted at all; anything longer is refused before any hashing. */
export const MAX_REF_LENGTH = 8192

/** Why a reference was refused (audited and logged; never the reference itself). */
export type RefFailure = 'missing' | 'malformed' | 'bad_signature' | 'expired'

/** The outcome of {@link verifyOnboardingRef}. */
export type RefVerdict = { ok: true; payload: OnboardingRefPayload } | { ok: false; reason: RefFailure }

const DOMAIN = 'onboarding-ref.v1.'
const MAC_B64_LENGTH = 43
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/

// Built on first parse (z.lazy), not at import: it keeps the schema out of every cold start.
const payloadSchema = z.lazy(() =>
  z.strictObject({
    partnerPayload: z.string().check(z.minLength(1), z.maxLength(1024)),
    redirectUrl: z.optional(z.string().check(z.minLength(1), z.maxLength(4096))),
    iat: z.number().check(z.int(), z.nonnegative()),
    exp: z.number().check(z.int(), z.positive()),
    nonce: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_-]{1,32}$/))),
  }),
)

function mac(body: string, key: string): Buffer {
  return createHmac('sha256', key).update(DOMAIN).update(body).digest()
}

/** Signs a reference payload with the link signing key. */
export function signOnboardingRef(payload: OnboardingRefPayload, key: string): string {
  if (key === '') throw new Error('the link signing key is empty')
  const ordered: OnboardingRefPayload = {
    partnerPayload: payload.partnerPayload,
    ...(payload.redirectUrl !== undefined ? { redirectUrl: payload.redirectUrl } : {}),
    iat: payload.iat,
    exp: payload.exp,
    ...(payload.nonce !== undefined ? { nonce: payload.nonce } : {}),
  }
  const body = Buffer.from(JSON.stringify(ordered), 'utf8').toString('base64url')
  return `${body}.${mac(body, key).toString('base64url')}`
}

/**
 * Verifies a reference against the link signing key (constant-time MAC compare) and its expiry at
 * `now`. Never throws; the payload is parsed only after the signature matched.
 */
export function verifyOnboardingRef(ref: string | undefined, key: string, now: Date): RefVerdict {
  if (ref === undefined || ref === '') return { ok: false, reason: 'missing' }
  if (ref.length > MAX_REF_LENGTH || !SHAPE.test(ref)) return { ok: false, reason: 'malformed' }
  if (key === '') return { ok: false, reason: 'bad_signature' }
  const dot = ref.length - MAC_B64_LENGTH - 1
  const body = ref.slice(0, dot)
  // Compared as text so that only the canonical encoding of the MAC is accepted.
  const given = Buffer.from(ref.slice(dot + 1), 'ascii')
  const expected = Buffer.from(mac(body, key).toString('base64url'), 'ascii')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature' }
  }
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  const parsed = payloadSchema.safeParse(json)
  if (!parsed.success) return { ok: false, reason: 'malformed' }
  if (parsed.data.exp * 1000 <= now.getTime()) return { ok: false, reason: 'expired' }
  const { redirectUrl, nonce, ...rest } = parsed.data
  return {
    ok: true,
    payload: {
      ...rest,
      ...(redirectUrl === undefined ? {} : { redirectUrl }),
      ...(nonce === undefined ? {} : { nonce }),
    },
  }
}

import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  MAX_REF_LENGTH,
  type OnboardingRefPayload,
  signOnboardingRef,
  verifyOnboardingRef,
} from '../../../shared/domain/onboarding-ref'

const KEY = 'ref-test-key'
const NOW = new Date('2026-03-10T09:00:00.000Z')
const nowS = NOW.getTime() / 1000
const payload: OnboardingRefPayload = {
  partnerPayload: 'customer-42',
  redirectUrl: 'https://partner.example.com/done?x=1',
  iat: nowS,
  exp: nowS + 3600,
}

describe('onboarding ref', () => {
  it('round-trips a payload signed with the same key', () => {
    const ref = signOnboardingRef(payload, KEY)
    expect(ref).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/)
    expect(verifyOnboardingRef(ref, KEY, NOW)).toEqual({ ok: true, payload })
  })

  it('round-trips a payload without redirect URL', () => {
    const { redirectUrl: _r, ...bare } = payload
    expect(verifyOnboardingRef(signOnboardingRef(bare, KEY), KEY, NOW)).toEqual({ ok: true, payload: bare })
  })

  it('refuses a ref signed with another key (a foreign ref)', () => {
    const ref = signOnboardingRef(payload, 'another-deployments-key')
    expect(verifyOnboardingRef(ref, KEY, NOW)).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('refuses a ref whose payload was changed', () => {
    const ref = signOnboardingRef(payload, KEY)
    const [, mac] = ref.split('.')
    const forged = Buffer.from(JSON.stringify({ ...payload, partnerPayload: 'someone-else' })).toString(
      'base64url',
    )
    expect(verifyOnboardingRef(`${forged}.${mac}`, KEY, NOW)).toEqual({ ok: false, reason: 'bad_signature' })
  })

  it('refuses a ref at and after its expiry, accepts it just before', () => {
    const ref = signOnboardingRef(payload, KEY)
    expect(verifyOnboardingRef(ref, KEY, new Date((payload.exp - 1) * 1000)).ok).toBe(true)
    expect(verifyOnboardingRef(ref, KEY, new Date(payload.exp * 1000))).toEqual({
      ok: false,
      reason: 'expired',
    })
  })

  it('refuses missing, malformed and oversized refs without throwing', () => {
    expect(verifyOnboardingRef(undefined, KEY, NOW)).toEqual({ ok: false, reason: 'missing' })
    expect(verifyOnboardingRef('', KEY, NOW)).toEqual({ ok: false, reason: 'missing' })
    expect(verifyOnboardingRef('abc', KEY, NOW)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyOnboardingRef('<script>.x', KEY, NOW)).toEqual({ ok: false, reason: 'malformed' })
    expect(verifyOnboardingRef(`${'a'.repeat(MAX_REF_LENGTH)}.${'b'.repeat(43)}`, KEY, NOW)).toEqual({
      ok: false,
      reason: 'malformed',
    })
  })

  it('refuses a correctly signed body that is not a ref payload', () => {
    const body = Buffer.from(JSON.stringify({ partnerPayload: 'x', exp: nowS + 10, admin: true })).toString(
      'base64url',
    )
    // Signed with the real key the way signOnboardingRef does, so only the payload check can refuse it.
    const mac = createHmac('sha256', KEY).update('onboarding-ref.v1.').update(body).digest('base64url')
    expect(verifyOnboardingRef(`${body}.${mac}`, KEY, NOW)).toEqual({ ok: false, reason: 'malformed' })
  })

  it('refuses everything when the key is empty', () => {
    const ref = signOnboardingRef(payload, KEY)
    expect(verifyOnboardingRef(ref, '', NOW)).toEqual({ ok: false, reason: 'bad_signature' })
    expect(() => signOnboardingRef(payload, '')).toThrow()
  })

  it('accepts any payload it signed and refuses any one-character change (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 255 }),
        fc.option(
          fc.string().map((s) => `https://partner.example.com/${encodeURIComponent(s)}`),
          { nil: undefined },
        ),
        fc.integer({ min: 1, max: 10_000_000 }),
        fc.nat(),
        fc.string({ minLength: 1, maxLength: 1 }).filter((c) => /[A-Za-z0-9_-]/.test(c)),
        (partnerPayload, redirectUrl, ttl, pos, replacement) => {
          const p: OnboardingRefPayload = {
            partnerPayload,
            ...(redirectUrl ? { redirectUrl } : {}),
            iat: nowS,
            exp: nowS + ttl,
          }
          const ref = signOnboardingRef(p, KEY)
          expect(verifyOnboardingRef(ref, KEY, NOW)).toEqual({ ok: true, payload: p })
          const i = pos % ref.length
          if (ref[i] === '.' || ref[i] === replacement) return
          const mutated = ref.slice(0, i) + replacement + ref.slice(i + 1)
          expect(verifyOnboardingRef(mutated, KEY, NOW).ok).toBe(false)
        },
      ),
      { numRuns: 200 },
    )
  })
})

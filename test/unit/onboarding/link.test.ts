import { describe, expect, it } from 'vitest'
import { verifyOnboardingRef } from '../../../shared/domain/onboarding-ref'
import { checkRedirectUrl } from '../../../shared/services/onboarding/create-onboarding-link'
import { apiEvent, bodyOf, CALLBACK_URL, createHarness, LINK_KEY, refOf, START } from './support'

function postLink(body: unknown, h = createHarness(), principal?: string | null) {
  return h.call(
    apiEvent({
      method: 'POST',
      resource: '/onboarding-links',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      ...(principal !== undefined ? { principal } : {}),
    }),
  )
}

describe('POST /onboarding-links', () => {
  it('answers the Hub permissions URL with partner and a signed callback redirect_url', async () => {
    const res = await postLink({
      partnerPayload: 'customer 42/ä',
      redirectUrl: 'https://partner.example.com/done?tab=1',
    })
    expect(res.statusCode).toBe(200)
    const { url, expiresAt } = bodyOf(res) as { url: string; expiresAt: string }
    expect(url.startsWith('https://hub.360dialog.com/dashboard/app/testPA/permissions?partner=')).toBe(true)
    // URL-encoded, not form-encoded: a space is %20.
    expect(url).toContain('partner=customer%2042%2F%C3%A4&redirect_url=https%3A%2F%2Fops.example.com')
    const link = new URL(url)
    expect(link.searchParams.get('partner')).toBe('customer 42/ä')
    expect(link.searchParams.has('number')).toBe(false)
    const redirect = new URL(link.searchParams.get('redirect_url') ?? '')
    expect(`${redirect.origin}${redirect.pathname}`).toBe(CALLBACK_URL)
    const verdict = verifyOnboardingRef(refOf(url), LINK_KEY, new Date(START))
    expect(verdict).toEqual({
      ok: true,
      payload: {
        partnerPayload: 'customer 42/ä',
        redirectUrl: 'https://partner.example.com/done?tab=1',
        iat: Date.parse(START) / 1000,
        exp: Date.parse(START) / 1000 + 604_800,
        nonce: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/),
      },
    })
    expect(expiresAt).toBe(new Date(Date.parse(START) + 604_800_000).toISOString())
  })

  it('issues two different refs for the same payload in the same second (each binds its own client)', async () => {
    const first = bodyOf(await postLink({ partnerPayload: 'same' })) as { url: string }
    const second = bodyOf(await postLink({ partnerPayload: 'same' })) as { url: string }
    expect(refOf(first.url)).not.toBe(refOf(second.url))
  })

  it('adds number when given and uses the configured expiry', async () => {
    const h = createHarness({ ONBOARDING_LINK_TTL_SECONDS: '3600' })
    const res = await postLink({ partnerPayload: 'c-1', number: '+4915112345678' }, h)
    const { url } = bodyOf(res) as { url: string }
    expect(new URL(url).searchParams.get('number')).toBe('+4915112345678')
    expect(url.endsWith('&number=%2B4915112345678')).toBe(true)
    const verdict = verifyOnboardingRef(refOf(url), LINK_KEY, new Date(START))
    expect(verdict.ok && verdict.payload.exp).toBe(Date.parse(START) / 1000 + 3600)
    expect(verdict.ok && verdict.payload.redirectUrl).toBeUndefined()
  })

  it.each([
    ['http://partner.example.com/done', 'invalid_redirect_url'],
    ['ftp://partner.example.com/done', 'invalid_redirect_url'],
    ['javascript:alert(1)', 'invalid_redirect_url'],
    ['/relative/path', 'invalid_redirect_url'],
    ['https://user:pw@partner.example.com/', 'invalid_redirect_url'],
    ['https://partner.example.com/done?client=1', 'invalid_redirect_url'],
    ['https://partner.example.com/done?a=1&channel=2', 'invalid_redirect_url'],
    ['https://partner.example.com/done?Project=3', 'invalid_redirect_url'],
  ])('refuses redirectUrl %s with 400', async (redirectUrl, code) => {
    const res = await postLink({ partnerPayload: 'c-1', redirectUrl })
    expect(res.statusCode).toBe(400)
    expect(bodyOf(res)).toMatchObject({ error: { code } })
  })

  it('allows http only for localhost and 127.0.0.1', () => {
    expect(checkRedirectUrl('http://localhost:8080/done')).toBe('http://localhost:8080/done')
    expect(checkRedirectUrl('http://127.0.0.1/done?x=1')).toBe('http://127.0.0.1/done?x=1')
    expect(() => checkRedirectUrl('http://127.0.0.2/done')).toThrow(/https/)
    expect(() => checkRedirectUrl('http://localhost.evil.com/')).toThrow(/https/)
  })

  it.each([
    ['missing body', null],
    ['not JSON', '{nope'],
    ['an array', '[]'],
    ['no partnerPayload', { redirectUrl: 'https://a.example.com' }],
    ['empty partnerPayload', { partnerPayload: '' }],
    ['256 characters', { partnerPayload: 'x'.repeat(256) }],
    ['control characters', { partnerPayload: 'a\nb' }],
    ['an unknown field', { partnerPayload: 'x', extra: 1 }],
    ['a number of the wrong shape', { partnerPayload: 'x', number: '12ab' }],
    ['a non-string payload', { partnerPayload: 42 }],
  ])('refuses %s with 400', async (_what, body) => {
    const h = createHarness()
    const res = await h.call(
      apiEvent({
        method: 'POST',
        resource: '/onboarding-links',
        body: body === null ? null : typeof body === 'string' ? body : JSON.stringify(body),
      }),
    )
    expect(res.statusCode).toBe(400)
    expect(bodyOf(res)).toMatchObject({ error: { code: 'invalid_body' } })
  })

  it('accepts a payload of exactly 255 characters', async () => {
    const res = await postLink({ partnerPayload: 'y'.repeat(255) })
    expect(res.statusCode).toBe(200)
  })

  it('refuses a request without an authenticated principal', async () => {
    const res = await postLink({ partnerPayload: 'x' }, createHarness(), null)
    expect(res.statusCode).toBe(401)
  })

  it('fails closed with 500 when no callback URL or signing key is configured, naming neither value', async () => {
    const h = createHarness({ ONBOARDING_CALLBACK_URL: '' })
    const res = await postLink({ partnerPayload: 'x' }, h)
    expect(res.statusCode).toBe(500)
    const h2 = createHarness({ LINK_SIGNING_KEY: '' })
    const res2 = await postLink({ partnerPayload: 'x' }, h2)
    expect(res2.statusCode).toBe(500)
    expect(res2.body).not.toContain(LINK_KEY)
  })
})

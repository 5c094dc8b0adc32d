import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import { signOnboardingRef } from '../../../shared/domain/onboarding-ref'
import { parseLinkBody } from '../../../shared/http/bodies'
import { createOnboardingLink } from '../../../shared/services/onboarding/create-onboarding-link'
import {
  parseCallbackQuery,
  parseIdList,
} from '../../../shared/services/onboarding/handle-onboarding-callback'
import {
  callbackEvent,
  createHarness,
  type Harness,
  refOf,
  START,
  upstreamChannel,
  upstreamClient,
} from './support'

async function linkRef(
  h: Harness,
  body: Record<string, unknown> = { partnerPayload: 'cust-42' },
): Promise<string> {
  const link = await createOnboardingLink(h.deps, parseLinkBody(JSON.stringify(body)))
  return refOf(link.url)
}

/** A client with channels upstream, as right after Integrated Onboarding. */
function onboarded(h: Harness, clientId = 'Kd82nQ1zCL', channelIds = ['Pq7Wx2CH', 'Rt5Yu8CH']): void {
  h.api.clients.set(clientId, upstreamClient(clientId))
  for (const id of channelIds) h.api.channels.set(id, upstreamChannel(id, clientId))
}

function expectHtmlHeaders(headers: Record<string, unknown> | undefined): void {
  expect(headers?.['content-security-policy']).toMatch(/^default-src 'none'/)
  expect(headers?.['cache-control']).toBe('no-store')
  expect(headers?.['x-content-type-options']).toBe('nosniff')
  expect(headers?.['referrer-policy']).toBe('no-referrer')
}

async function nothingStored(h: Harness): Promise<void> {
  expect((await h.store.clients.list({ limit: 10 })).items).toEqual([])
  expect((await h.store.channels.list({ limit: 10 })).items).toEqual([])
  expect(h.sink.events).toEqual([])
  expect(h.api.callCount('patchClient')).toBe(0)
}

describe('GET /onboarding/callback: the happy path', () => {
  it('stores client and channels, sets the payload upstream and redirects to the partner URL with the ids', async () => {
    const h = createHarness()
    const ref = await linkRef(h, {
      partnerPayload: 'cust-42',
      redirectUrl: 'https://partner.example.com/done?tab=2#top',
    })
    onboarded(h)
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH,Rt5Yu8CH]', ref }))
    expect(res.statusCode).toBe(302)
    const location = new URL(String(res.headers?.['location']))
    expect(`${location.origin}${location.pathname}${location.hash}`).toBe(
      'https://partner.example.com/done#top',
    )
    expect(location.searchParams.get('tab')).toBe('2')
    expect(location.searchParams.get('client')).toBe('Kd82nQ1zCL')
    expect(location.searchParams.get('channels')).toBe('[Pq7Wx2CH,Rt5Yu8CH]')
    expect(res.headers?.['cache-control']).toBe('no-store')
    expect(res.headers?.['referrer-policy']).toBe('no-referrer')

    expect(h.api.clients.get('Kd82nQ1zCL')?.partner_payload).toBe('cust-42')
    expect(h.api.calls.find((c) => c.method === 'patchClient')?.args).toEqual([
      'Kd82nQ1zCL',
      { partner_payload: 'cust-42' },
    ])
    const client = await h.store.clients.get('Kd82nQ1zCL')
    expect(client).toMatchObject({ partnerPayload: 'cust-42', source: 'api', name: 'Client Kd82nQ1zCL' })
    for (const id of ['Pq7Wx2CH', 'Rt5Yu8CH']) {
      expect(await h.store.channels.get(id)).toMatchObject({
        clientId: 'Kd82nQ1zCL',
        partnerPayload: 'cust-42',
        lifecycle: 'draft',
        source: 'api',
      })
    }
    expect(h.sink.events.map((e) => e.detailType).sort()).toEqual([
      'Channel Discovered',
      'Channel Discovered',
      'Client Discovered',
    ])
    expect(h.sink.events.every((e) => e.detail.source === 'api')).toBe(true)
    const audit = h.store.allAudit().filter((a) => a.action === 'onboarding.callback')
    expect(audit).toHaveLength(1)
    expect(audit[0]).toMatchObject({
      subject: 'client#Kd82nQ1zCL',
      outcome: 'stored',
      httpStatus: 302,
      principal: 'source:203.0.113.7',
      details: { payload: 'set', channels: ['Pq7Wx2CH', 'Rt5Yu8CH'], unmatchedChannels: [] },
    })
  })

  it('reads the client and its channels with one lookup each when the payload is already set', async () => {
    const h = createHarness()
    const ref = await linkRef(h)
    onboarded(h)
    h.api.clients.set('Kd82nQ1zCL', upstreamClient('Kd82nQ1zCL', { partner_payload: 'their-own' }))
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH]', ref }))
    expect(res.statusCode).toBe(200)
    expect(h.api.calls.map((c) => c.method).sort()).toEqual(['findClient', 'listChannels'])
    expect(h.api.calls.find((c) => c.method === 'listChannels')?.args[0]).toMatchObject({
      filters: { client_id: 'Kd82nQ1zCL' },
    })
    expect((await h.store.clients.get('Kd82nQ1zCL'))?.partnerPayload).toBe('their-own')
    // Every channel of the client is reconciled, not only those the browser named.
    expect(await h.store.channels.get('Rt5Yu8CH')).not.toBeNull()
  })

  it('answers a small confirmation page when no redirect URL is configured', async () => {
    const h = createHarness()
    const ref = await linkRef(h)
    onboarded(h)
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH]', ref }))
    expect(res.statusCode).toBe(200)
    expect(res.headers?.['content-type']).toBe('text/html; charset=utf-8')
    expectHtmlHeaders(res.headers)
    expect(res.body).toContain('Onboarding complete')
    expect(res.body).not.toContain('<script')
  })

  it('uses ONBOARDING_DEFAULT_REDIRECT_URL when the link has no redirect URL', async () => {
    const h = createHarness({ ONBOARDING_DEFAULT_REDIRECT_URL: 'https://partner.example.com/welcome' })
    const ref = await linkRef(h)
    onboarded(h)
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH,Rt5Yu8CH]', ref }))
    expect(res.statusCode).toBe(302)
    expect(res.headers?.['location']).toBe(
      'https://partner.example.com/welcome?client=Kd82nQ1zCL&channels=%5BPq7Wx2CH%2CRt5Yu8CH%5D',
    )
  })

  it('is repeatable: a reload stores nothing new, publishes nothing and patches nothing', async () => {
    const h = createHarness()
    const ref = await linkRef(h)
    onboarded(h)
    const query = { client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH,Rt5Yu8CH]', ref }
    await h.call(callbackEvent(query))
    const writes = h.store.stats.writes
    const events = h.sink.events.length
    const res = await h.call(callbackEvent(query))
    expect(res.statusCode).toBe(200)
    expect(h.sink.events.length).toBe(events)
    expect(h.api.callCount('patchClient')).toBe(1)
    // Only the rate-limit counter and the audit entry are written.
    expect(h.store.stats.writes - writes).toBe(2)
  })

  it('does not claim a client that existed before the link was issued', async () => {
    const h = createHarness({ ONBOARDING_DEFAULT_REDIRECT_URL: 'https://partner.example.com/w' })
    const ref = await linkRef(h)
    h.api.clients.set('Kd82nQ1zCL', upstreamClient('Kd82nQ1zCL', { created_at: '2025-01-01T00:00:00Z' }))
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', ref }))
    expect(res.statusCode).toBe(302)
    expect(h.api.callCount('patchClient')).toBe(0)
    expect(h.store.allAudit()[0]?.details).toMatchObject({ payload: 'skipped_client_predates_link' })
  })

  it('still stores and redirects when setting the payload is refused upstream, and audits it', async () => {
    const h = createHarness({ ONBOARDING_DEFAULT_REDIRECT_URL: 'https://partner.example.com/w' })
    const ref = await linkRef(h)
    onboarded(h)
    h.api.failNext(
      'patchClient',
      () => new UpstreamError('refused', { upstreamStatus: 400, retryable: false }),
    )
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH]', ref }))
    expect(res.statusCode).toBe(302)
    expect((await h.store.clients.get('Kd82nQ1zCL'))?.partnerPayload).toBeNull()
    expect(h.store.allAudit()[0]).toMatchObject({ upstreamStatus: 400, details: { payload: 'failed' } })
  })

  it('records revoked channels in the audit trail of each channel', async () => {
    const h = createHarness()
    const ref = await linkRef(h)
    onboarded(h)
    const res = await h.call(
      callbackEvent({
        client: 'Kd82nQ1zCL',
        channels: '[Pq7Wx2CH]',
        revokedChannels: '[Rt5Yu8CH,Zz9Zz9CH]',
        ref,
      }),
    )
    expect(res.statusCode).toBe(200)
    const revoked = h.store.allAudit().filter((a) => a.action === 'onboarding.permission_revoked')
    expect(revoked.map((a) => [a.subject, a.details])).toEqual([
      ['channel#Rt5Yu8CH', { clientId: 'Kd82nQ1zCL', belongsToClient: true }],
      ['channel#Zz9Zz9CH', { clientId: 'Kd82nQ1zCL', belongsToClient: false }],
    ])
    // The client's own revoked channel also loses its stored key; the other client's channel is untouched.
    expect((await h.store.audit.list('channel#Rt5Yu8CH', 10)).items.map((a) => a.action).sort()).toEqual([
      'channel_key.delete',
      'onboarding.permission_revoked',
    ])
    expect((await h.store.audit.list('channel#Zz9Zz9CH', 10)).items).toHaveLength(1)
  })

  it("looks up a named channel missing from the list once and drops one that is not the client's", async () => {
    const h = createHarness({ ONBOARDING_DEFAULT_REDIRECT_URL: 'https://partner.example.com/w' })
    const ref = await linkRef(h)
    onboarded(h, 'Kd82nQ1zCL', ['Pq7Wx2CH'])
    h.api.channels.set('Other1CH', upstreamChannel('Other1CH', 'SomeoneCL'))
    const res = await h.call(
      callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH,Other1CH,Gone1CH]', ref }),
    )
    expect(res.statusCode).toBe(302)
    expect(new URL(String(res.headers?.['location'])).searchParams.get('channels')).toBe('[Pq7Wx2CH]')
    expect(h.api.calls.filter((c) => c.method === 'findChannel').map((c) => c.args[0])).toEqual([
      'Other1CH',
      'Gone1CH',
    ])
    expect(await h.store.channels.get('Other1CH')).toBeNull()
    expect(h.store.allAudit()[0]?.details).toMatchObject({ unmatchedChannels: ['Other1CH', 'Gone1CH'] })
  })
})

describe('GET /onboarding/callback: refusals', () => {
  it.each([
    ['no client', { channels: '[Pq7Wx2CH]' }],
    ['a malformed client id', { client: 'Kd82<b>CL' }],
    ['an overlong client id', { client: 'A'.repeat(33) }],
    ['unbalanced channels', { client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH' }],
    ['a bad channel id', { client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH,<img>]' }],
    ['an empty channel entry', { client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH,,Rt5Yu8CH]' }],
    ['a channel list with another separator', { client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH;Rt5Yu8CH]' }],
    [
      'too many channels',
      { client: 'Kd82nQ1zCL', channels: `[${Array.from({ length: 101 }, (_, i) => `C${i}`).join(',')}]` },
    ],
    ['malformed revokedChannels', { client: 'Kd82nQ1zCL', revokedChannels: '[a b]' }],
    ['a repeated client', { client: ['Kd82nQ1zCL', 'Other1CL'] }],
    ['an oversized query', { client: 'Kd82nQ1zCL', junk: 'x'.repeat(13_000) }],
  ])('answers the 400 page for %s, reads and stores nothing', async (_what, query) => {
    const h = createHarness()
    const ref = await linkRef(h)
    onboarded(h)
    const res = await h.call(callbackEvent({ ref, ...query }))
    expect(res.statusCode).toBe(400)
    expectHtmlHeaders(res.headers)
    expect(h.api.calls).toEqual([])
    await nothingStored(h)
  })

  it('refuses a tampered, expired, foreign or missing ref with the same page', async () => {
    const h = createHarness()
    onboarded(h)
    const ref = await linkRef(h)
    const nowS = Date.parse(START) / 1000
    const tampered = `${ref.slice(0, 5)}${ref[5] === 'A' ? 'B' : 'A'}${ref.slice(6)}`
    const foreign = signOnboardingRef({ partnerPayload: 'cust-42', iat: nowS, exp: nowS + 60 }, 'not-our-key')
    const pages: string[] = []
    for (const r of [tampered, foreign, undefined]) {
      const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', ...(r ? { ref: r } : {}) }))
      expect(res.statusCode).toBe(400)
      pages.push(res.body)
    }
    h.clock.advance(604_800_000)
    const expired = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', ref }))
    expect(expired.statusCode).toBe(400)
    pages.push(expired.body)
    expect(new Set(pages).size).toBe(1)
    expect(h.api.calls).toEqual([])
    await nothingStored(h)
    expect(h.store.allAudit().map((a) => a.outcome)).toEqual([
      'rejected_ref_bad_signature',
      'rejected_ref_bad_signature',
      'rejected_ref_missing',
      'rejected_ref_expired',
    ])
  })

  it('answers 400 with nothing stored for a client that does not exist upstream', async () => {
    const h = createHarness()
    const ref = await linkRef(h)
    h.api.channels.set('Pq7Wx2CH', upstreamChannel('Pq7Wx2CH', 'Ghost1CL'))
    const res = await h.call(callbackEvent({ client: 'Ghost1CL', channels: '[Pq7Wx2CH]', ref }))
    expect(res.statusCode).toBe(400)
    await nothingStored(h)
    expect(h.store.allAudit()[0]).toMatchObject({
      subject: 'client#Ghost1CL',
      outcome: 'rejected_unknown_client',
    })
  })

  it('answers a 503 page with nothing stored when the Partner API is unreachable', async () => {
    const h = createHarness()
    const ref = await linkRef(h)
    onboarded(h)
    h.api.failNext('listChannels', () => new UpstreamError('down', { upstreamStatus: 503, retryable: true }))
    const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', channels: '[Pq7Wx2CH]', ref }))
    expect(res.statusCode).toBe(503)
    expectHtmlHeaders(res.headers)
    await nothingStored(h)
  })

  it('rate limits per source address with a 429 page and Retry-After', async () => {
    const h = createHarness({ ONBOARDING_CALLBACK_RATE_PER_MINUTE: '3' })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++)
      statuses.push((await h.call(callbackEvent({ client: 'bad!' }, '198.51.100.1'))).statusCode)
    expect(statuses).toEqual([400, 400, 400, 429])
    const limited = await h.call(callbackEvent({ client: 'bad!' }, '::ffff:198.51.100.1'))
    expect(limited.statusCode).toBe(429)
    expect(Number(limited.headers?.['retry-after'])).toBeGreaterThan(0)
    expectHtmlHeaders(limited.headers)
    // Another address has its own budget; a new window restores this one.
    expect((await h.call(callbackEvent({ client: 'bad!' }, '198.51.100.2'))).statusCode).toBe(400)
    h.clock.advance(60_000)
    expect((await h.call(callbackEvent({ client: 'bad!' }, '198.51.100.1'))).statusCode).toBe(400)
  })

  it('never reflects any input into the page (property)', async () => {
    const h = createHarness({ ONBOARDING_CALLBACK_RATE_PER_MINUTE: '100000' })
    onboarded(h)
    const ref = await linkRef(h)
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 4, maxLength: 40 }),
        fc.constantFrom('client', 'channels', 'revokedChannels', 'ref', 'other'),
        async (junk, name) => {
          const marker = `zq${junk}`
          const res = await h.call(callbackEvent({ client: 'Kd82nQ1zCL', ref, [name]: marker }))
          expect(res.body).not.toContain(marker)
          expect(String(res.headers?.['location'] ?? '')).not.toContain(encodeURIComponent(marker))
        },
      ),
      { numRuns: 100 },
    )
  })
})

describe('callback query parsing', () => {
  it.each([
    ['[a1,b2]', ['a1', 'b2']],
    ['[]', []],
    ['', []],
    [' [ a1 , b2 ] ', ['a1', 'b2']],
    ['%5Ba1%2Cb2%5D', ['a1', 'b2']],
    ['["a1","b2"]', ['a1', 'b2']],
    ["['a1']", ['a1']],
    ['%5B%22a1%22%5D', ['a1']],
    ['a1,b2', ['a1', 'b2']],
    ['[a1,a1]', ['a1']],
  ])('reads %s', (raw, ids) => {
    expect(parseIdList(raw)).toEqual(ids)
  })

  it.each(['[a1', 'a1]', '[a1,]', '["a1]', '[a-1]', '%E0%A4%A', '[[a1]]', '[a1 b2]'])('refuses %s', (raw) => {
    expect(parseIdList(raw)).toBeNull()
  })

  it('ignores unknown parameters and reads a missing channels list as empty', () => {
    expect(parseCallbackQuery({ client: 'Kd82nQ1zCL', utm_source: 'x', ref: 'r' }, null)).toEqual({
      clientId: 'Kd82nQ1zCL',
      channelIds: [],
      revokedChannelIds: [],
      ref: 'r',
    })
  })

  it('only ever accepts ids made of letters and digits (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (raw) => {
        const ids = parseIdList(raw)
        if (ids !== null) for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9]{1,32}$/)
      }),
    )
  })
})

import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, LOCAL_DEFAULTS, startApp } from '../../../local/app'
import { signOnboardingRef } from '../../../shared/domain/onboarding-ref'
import { applyChannel, applyClient } from '../../../shared/services/state/apply-upstream'
import { signedFetch } from '../../support/signed-fetch'

let app: App

beforeAll(async () => {
  app = await startApp({
    port: 0,
    dataDir: null,
    pollIntervalSeconds: null,
    // No webhooks: whatever is in state after a callback was stored by the callback itself.
    simulator: { seed: 'empty', deliverWebhooks: false },
    env: { ONBOARDING_CALLBACK_RATE_PER_MINUTE: '10000' },
  })
})

afterAll(async () => {
  await app?.close()
})

function sim(a: App = app): NonNullable<App['simulator']> {
  if (!a.simulator) throw new Error('no simulator')
  return a.simulator
}

async function createLink(body: unknown, a: App = app): Promise<Response> {
  return signedFetch(a, '/onboarding-links', { method: 'POST', body: JSON.stringify(body) })
}

/** The callback URL (with ref) that a link sends the browser back to. */
async function callbackFor(body: Record<string, unknown>, a: App = app): Promise<URL> {
  const res = await createLink(body, a)
  expect(res.status).toBe(200)
  const { url } = (await res.json()) as { url: string }
  return new URL(new URL(url).searchParams.get('redirect_url') ?? '')
}

/** What 360dialog does: appends client and channels to the redirect URL; the browser follows it. */
function arrive(callback: URL, extra: string): Promise<Response> {
  const sep = callback.search ? '&' : '?'
  return fetch(`${callback.href}${sep}${extra}`, { redirect: 'manual' })
}

function patches(clientId: string): number {
  return sim()
    .requests()
    .filter((r) => r.method === 'PATCH' && r.path.endsWith(`/clients/${clientId}`)).length
}

async function expectNothingStored(clientId: string, channelIds: string[]): Promise<void> {
  expect(await app.deps.store.clients.get(clientId)).toBeNull()
  for (const id of channelIds) expect(await app.deps.store.channels.get(id)).toBeNull()
  expect(patches(clientId)).toBe(0)
}

describe('onboarding over the local app and simulator', () => {
  it('runs the full flow: link, onboarding, callback, state, payload upstream and 302', async () => {
    const res = await createLink({
      partnerPayload: 'acme-001',
      redirectUrl: 'https://partner.example.com/onboarded?src=ops',
      number: '+4915112345678',
    })
    expect(res.status).toBe(200)
    const { url } = (await res.json()) as { url: string }
    const link = new URL(url)
    // Locally the link opens the simulator's Hub permission page (HUB_BASE_URL).
    expect(`${link.origin}${link.pathname}`).toBe(
      `${sim().url}/dashboard/app/${LOCAL_DEFAULTS.partnerId}/permissions`,
    )
    expect(link.searchParams.get('partner')).toBe('acme-001')
    expect(link.searchParams.get('number')).toBe('+4915112345678')
    const callback = new URL(link.searchParams.get('redirect_url') ?? '')
    expect(`${callback.origin}${callback.pathname}`).toBe(`${app.url}/onboarding/callback`)

    // The Hub stores `partner` as the new client's partner_payload.
    const { client, channels } = await sim().onboard({
      channels: 2,
      name: 'Acme GmbH',
      partner_payload: 'acme-001',
    })
    const ids = channels.map((c) => c.id)
    const arrived = await arrive(callback, `client=${client.id}&channels=[${ids.join(',')}]`)

    expect(arrived.status).toBe(302)
    const location = new URL(arrived.headers.get('location') ?? '')
    expect(`${location.origin}${location.pathname}`).toBe('https://partner.example.com/onboarded')
    expect(location.searchParams.get('src')).toBe('ops')
    expect(location.searchParams.get('client')).toBe(client.id)
    expect(location.searchParams.get('channels')).toBe(`[${ids.join(',')}]`)

    // In state when the response arrives, with the payload, from the callback ('api').
    expect(await app.deps.store.clients.get(client.id)).toMatchObject({
      partnerPayload: 'acme-001',
      organisation: 'Acme GmbH',
      source: 'api',
    })
    for (const id of ids) {
      expect(await app.deps.store.channels.get(id)).toMatchObject({
        clientId: client.id,
        partnerPayload: 'acme-001',
      })
    }
    expect((await app.deps.partnerApi.findClient(client.id))?.partner_payload).toBe('acme-001')
    // Already carried by the client upstream: nothing to set.
    expect(patches(client.id)).toBe(0)
    const audit = await app.deps.store.audit.list(`client#${client.id}`, 10)
    expect(audit.items.map((a) => [a.action, a.outcome, a.httpStatus])).toEqual([
      ['onboarding.callback', 'stored', 302],
    ])
  })

  it('sets partner_payload upstream when the onboarded client lacks it', async () => {
    const callback = await callbackFor({
      partnerPayload: 'acme-lost',
      redirectUrl: 'http://localhost:8080/done',
    })
    // Onboarding without the partner parameter (e.g. the client opened the Hub page directly).
    const client = sim().addClient({ partner_payload: null })
    const channel = sim().addChannel({ client_id: client.id })
    const res = await arrive(callback, `client=${client.id}&channels=%5B${channel.id}%5D`)
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toBe(
      `http://localhost:8080/done?client=${client.id}&channels=%5B${channel.id}%5D`,
    )
    expect(patches(client.id)).toBe(1)
    expect((await app.deps.partnerApi.findClient(client.id))?.partner_payload).toBe('acme-lost')
    expect((await app.deps.store.clients.get(client.id))?.partnerPayload).toBe('acme-lost')
    expect((await app.deps.store.channels.get(channel.id))?.partnerPayload).toBe('acme-lost')
    // The stored channel already matches what upstream now shows: a poll finds nothing to change.
    const up = await app.deps.partnerApi.findChannel(channel.id)
    expect(up?.client?.partner_payload).toBe('acme-lost')
    if (!up) throw new Error('channel gone upstream')
    expect((await applyChannel(app.deps, up, { source: 'poll', kind: 'snapshot' })).outcome).toBe('unchanged')
  })

  it('binds a ref to the first client that completes with it: another client gets the 400 page and no payload', async () => {
    const callback = await callbackFor({
      partnerPayload: 'acme-once',
      redirectUrl: 'http://localhost:8080/done',
    })
    const first = sim().addClient({ partner_payload: null })
    const firstChannel = sim().addChannel({ client_id: first.id })
    const ok = await arrive(callback, `client=${first.id}&channels=[${firstChannel.id}]`)
    expect(ok.status).toBe(302)
    expect(patches(first.id)).toBe(1)

    // Someone else holding the same link, with a brand-new client that has no payload yet.
    const second = sim().addClient({ partner_payload: null })
    const secondChannel = sim().addChannel({ client_id: second.id })
    const reused = await arrive(callback, `client=${second.id}&channels=[${secondChannel.id}]`)
    expect(reused.status).toBe(400)
    expect(reused.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect((await app.deps.partnerApi.findClient(second.id))?.partner_payload ?? null).toBeNull()
    await expectNothingStored(second.id, [secondChannel.id])
    const audit = await app.deps.store.audit.list(`client#${second.id}`, 10)
    expect(audit.items.map((a) => [a.action, a.outcome])).toEqual([
      ['onboarding.callback', 'rejected_ref_used'],
    ])

    // The first client coming back with its own ref (a reload) still completes, setting nothing twice.
    const again = await arrive(callback, `client=${first.id}&channels=[${firstChannel.id}]`)
    expect(again.status).toBe(302)
    expect(patches(first.id)).toBe(1)
  })

  it('accepts the URL-encoded and quoted channel list forms', async () => {
    const callback = await callbackFor({ partnerPayload: 'acme-002' })
    const { client, channels } = await sim().onboard({ channels: 1 })
    const id = channels[0]?.id ?? ''
    const res = await arrive(callback, `client=${client.id}&channels=${encodeURIComponent(`["${id}"]`)}`)
    // No redirect URL anywhere: the confirmation page.
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('content-security-policy')).toMatch(/^default-src 'none'/)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await app.deps.store.channels.get(id)).not.toBeNull()
  })

  it('refuses a tampered, an expired and a foreign ref with the 400 page, storing nothing', async () => {
    const callback = await callbackFor({ partnerPayload: 'acme-003' })
    const { client, channels } = await sim().onboard({ channels: 1 })
    const ids = channels.map((c) => c.id)
    const ref = callback.searchParams.get('ref') ?? ''
    const nowS = Math.floor(Date.now() / 1000)
    const refs = {
      tampered: `${ref.slice(0, -3)}${ref.endsWith('AAA') ? 'BBB' : 'AAA'}`,
      expired: signOnboardingRef(
        { partnerPayload: 'acme-003', iat: nowS - 100, exp: nowS - 10 },
        LOCAL_DEFAULTS.linkSigningKey,
      ),
      foreign: signOnboardingRef(
        { partnerPayload: 'acme-003', iat: nowS, exp: nowS + 600 },
        'another-deployment',
      ),
    }
    for (const r of Object.values(refs)) {
      const url = new URL(callback)
      url.searchParams.set('ref', r)
      const res = await arrive(url, `client=${client.id}&channels=[${ids.join(',')}]`)
      expect(res.status).toBe(400)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      const page = await res.text()
      expect(page).not.toContain(client.id)
      expect(page).not.toContain(r)
    }
    await expectNothingStored(client.id, ids)
  })

  it.each([
    ['unbalanced', (id: string) => `[${id}`],
    ['bad characters', (id: string) => `[${id},<script>]`],
    ['empty entry', (id: string) => `[${id},,]`],
  ])('refuses a malformed channels list (%s) with 400 and stores nothing', async (_what, form) => {
    const callback = await callbackFor({ partnerPayload: 'acme-004' })
    const { client, channels } = await sim().onboard({ channels: 1 })
    const id = channels[0]?.id ?? ''
    const res = await arrive(callback, `client=${client.id}&channels=${encodeURIComponent(form(id))}`)
    expect(res.status).toBe(400)
    expect(await res.text()).not.toContain('<script>')
    await expectNothingStored(client.id, [id])
  })

  it('answers 400 with nothing stored for a client id that does not exist upstream', async () => {
    const callback = await callbackFor({ partnerPayload: 'acme-005' })
    const res = await arrive(callback, 'client=Nope1234CL&channels=[Nope1234CH]')
    expect(res.status).toBe(400)
    await expectNothingStored('Nope1234CL', ['Nope1234CH'])
  })

  it.each([
    ['http://partner.example.com/x'],
    ['https://partner.example.com/x?client=1'],
    ['https://partner.example.com/x?channel=1'],
    ['https://partner.example.com/x?project=1'],
  ])('refuses the redirect URL %s with 400', async (redirectUrl) => {
    const res = await createLink({ partnerPayload: 'acme-006', redirectUrl })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_redirect_url' } })
  })

  it('requires SigV4 for links and client settings, not for the callback', async () => {
    const link = await fetch(`${app.url}/onboarding-links`, {
      method: 'POST',
      body: '{"partnerPayload":"x"}',
    })
    expect(link.status).toBe(401)
    const settings = await fetch(`${app.url}/clients/Kd82nQ1zCL`, {
      method: 'PATCH',
      body: '{"maxChannels":2}',
    })
    expect(settings.status).toBe(401)
    const cb = await fetch(`${app.url}/onboarding/callback`, { redirect: 'manual' })
    expect(cb.status).toBe(400)
  })

  it('rate limits the callback per source address with 429', async () => {
    const small = await startApp({
      port: 0,
      dataDir: null,
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: false },
      env: { ONBOARDING_CALLBACK_RATE_PER_MINUTE: '2' },
    })
    try {
      // Limit 2 per minute: within five requests one must be refused, even across a window boundary.
      let limited: Response | null = null
      const statuses: number[] = []
      for (let i = 0; i < 5 && !limited; i++) {
        const res = await fetch(`${small.url}/onboarding/callback?client=x`)
        statuses.push(res.status)
        if (res.status === 429) limited = res
        else await res.text()
      }
      expect(statuses.slice(0, 2)).toEqual([400, 400])
      expect(limited?.status).toBe(429)
      expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(limited?.headers.get('content-type')).toBe('text/html; charset=utf-8')
    } finally {
      await small.close()
    }
  })
})

describe('PATCH /clients/{clientId} over the local app and simulator', () => {
  function patchClient(clientId: string, body: unknown, key: string): Promise<Response> {
    return signedFetch(app, `/clients/${clientId}`, {
      method: 'PATCH',
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'idempotency-key': key },
    })
  }

  it('changes the client upstream and in state and answers 200 with it; a replay is byte for byte', async () => {
    const { client } = await sim().onboard({ channels: 0 })
    const res = await patchClient(client.id, { maxChannels: 7, partnerPayload: 'acme-100' }, 'patch-happy')
    expect(res.status).toBe(200)
    const text = await res.text()
    expect(JSON.parse(text)).toMatchObject({
      clientId: client.id,
      maxChannels: 7,
      partnerPayload: 'acme-100',
    })
    const upstream = await app.deps.partnerApi.findClient(client.id)
    expect(upstream).toMatchObject({ max_channels: 7, partner_payload: 'acme-100' })
    expect(await app.deps.store.clients.get(client.id)).toMatchObject({
      maxChannels: 7,
      partnerPayload: 'acme-100',
    })

    const again = await patchClient(client.id, { maxChannels: 7, partnerPayload: 'acme-100' }, 'patch-happy')
    expect(again.status).toBe(200)
    expect(await again.text()).toBe(text)
    expect(patches(client.id)).toBe(1)
    const other = await patchClient(client.id, { maxChannels: 8 }, 'patch-happy')
    expect(other.status).toBe(422)
    expect(patches(client.id)).toBe(1)
    const audit = await app.deps.store.audit.list(`client#${client.id}`, 10)
    expect(audit.items.map((a) => a.outcome).sort()).toEqual([
      'idempotency_key_reused',
      'replayed',
      'updated',
    ])
  })

  it('answers 400 for every invalid body and sends nothing upstream (property)', async () => {
    const { client } = await sim().onboard({ channels: 0 })
    let n = 0
    const invalid = fc.oneof(
      fc.record({
        maxChannels: fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 101 }), fc.constant(2.5)),
      }),
      fc.record({ partnerPayload: fc.oneof(fc.constant(''), fc.string({ minLength: 256, maxLength: 300 })) }),
      fc.record({ maxChannels: fc.integer({ min: 1, max: 100 }), extra: fc.string() }),
      fc.constant({}),
      fc.constant([]),
      fc.constant('not json'),
    )
    await fc.assert(
      fc.asyncProperty(invalid, async (body) => {
        const res = await patchClient(client.id, body, `prop-${n++}`)
        expect(res.status).toBe(400)
        expect(await res.json()).toMatchObject({ error: { code: 'invalid_body' } })
      }),
      { numRuns: 30 },
    )
    expect(patches(client.id)).toBe(0)
  })

  it('answers 404 for an unknown client with nothing sent upstream', async () => {
    const res = await patchClient('Unknown99CL', { maxChannels: 3 }, 'patch-404')
    expect(res.status).toBe(404)
    expect(patches('Unknown99CL')).toBe(0)
  })

  it('answers 502 when upstream refuses the change', async () => {
    // Known in state but gone upstream: the simulator answers 404 to the PATCH.
    await applyClient(
      app.deps,
      { id: 'Stale42CL', name: 'Stale', status: 'active', modified_at: '2026-01-01T00:00:00Z' },
      { source: 'poll', kind: 'snapshot' },
    )
    const res = await patchClient('Stale42CL', { maxChannels: 3 }, 'patch-502')
    expect(res.status).toBe(502)
    expect(await res.json()).toMatchObject({ error: { code: 'upstream_rejected' } })
    expect(patches('Stale42CL')).toBe(1)
    expect((await app.deps.store.clients.get('Stale42CL'))?.maxChannels).toBeNull()
  })
})

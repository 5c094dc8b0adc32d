import { describe, expect, it } from 'vitest'
import { createPartnerApiClient } from '../../../../shared/adapters/partner-api/client'
import { UpstreamError } from '../../../../shared/domain/errors'
import {
  API_KEY,
  channel,
  fakeFetch,
  json,
  makeClient,
  metaError,
  mutableSecrets,
  netError,
  type Recorded,
  sequence,
  virtualTime,
} from './fake-upstream'

const ok = (): Response => json(200, { id: 'examplePA', brand_name: 'Example' })
const unavailable = (): Response => metaError(503, 'try later')

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err: unknown) {
    if (err instanceof Error) return err
    throw new Error('rejected with a non-error')
  }
  throw new Error('expected a rejection')
}

describe('partner API paths and encoding', () => {
  it('sends every call to its documented path with the API key', async () => {
    const seen: Recorded[] = []
    const { api } = makeClient((req) => {
      seen.push(req)
      const p = req.url.pathname
      if (p.endsWith('/webhook_url')) return json(200, { webhook_url: 'https://hook.example/x' })
      if (p.endsWith('/info/balance')) return json(200, { balance: 1, currency: 'USD' })
      if (p.endsWith('/clients/cl1')) return json(200, { id: 'cl1', max_channels: 3 })
      if (p.endsWith('/cancellation_request')) return json(200, channel('ch1'))
      if (p.endsWith('/clients')) return json(200, { total: 0, clients: [] })
      if (p.endsWith('/channels')) return json(200, { total: 0, partner_channels: [] })
      return ok()
    })
    await api.getPartner()
    await api.patchPartner({ partner_redirect_url: 'https://r.example' })
    await expect(api.getWebhookUrl()).resolves.toBe('https://hook.example/x')
    await api.setWebhookUrl('https://hook.example/y', { Authorization: 'tok' })
    await api.setWebhookUrl('https://hook.example/z')
    await api.patchClient('cl1', { max_channels: 3 })
    await api.getClientBalance('cl1', { granularity: 'DAY', start_date: 1 })
    await api.requestCancellation('cl1', 'ch1')
    await api.revokeCancellation('cl1', 'ch1')
    await api.listClients()
    await api.listChannels()

    const lines = seen.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)
    expect(lines).toEqual([
      'GET /api/v2/partners/examplePA',
      'PATCH /api/v2/partners/examplePA',
      'GET /api/v2/partners/examplePA/webhook_url',
      'POST /api/v2/partners/examplePA/webhook_url',
      'POST /api/v2/partners/examplePA/webhook_url',
      'PATCH /api/v2/partners/examplePA/clients/cl1',
      'GET /api/v2/partners/examplePA/clients/cl1/info/balance?granularity=DAY&start_date=1',
      'POST /api/v2/partners/examplePA/clients/cl1/channels/ch1/control/cancellation_request',
      'POST /api/v2/partners/examplePA/clients/cl1/channels/ch1/control/cancellation_request',
      'GET /api/v2/partners/examplePA/clients',
      'GET /api/v2/partners/examplePA/channels',
    ])
    expect(seen.map((r) => r.body)).toEqual([
      undefined,
      { partner_redirect_url: 'https://r.example' },
      undefined,
      { webhook_url: 'https://hook.example/y', headers: { Authorization: 'tok' } },
      { webhook_url: 'https://hook.example/z' },
      { max_channels: 3 },
      undefined,
      { enabled: true },
      { enabled: false },
      undefined,
      undefined,
    ])
    for (const r of seen) {
      expect(r.headers.get('x-api-key')).toBe(API_KEY)
      expect(r.redirect).toBe('manual')
    }
  })

  it('URL-encodes filters as JSON and joins sort keys with commas', async () => {
    const { api, requests } = makeClient(() => json(200, { total: 0, clients: [] }))
    await api.listClients({
      filters: { id: 'c 1', 'contact_info.email': 'a+b@x.io' },
      sort: ['name', '-created_at'],
      limit: 10,
      offset: 20,
    })
    const raw = requests[0]!.rawQuery
    expect(raw).toBe(
      `filters=${encodeURIComponent('{"id":"c 1","contact_info.email":"a+b@x.io"}')}&sort=name%2C-created_at&limit=10&offset=20`,
    )
    expect(JSON.parse(requests[0]!.url.searchParams.get('filters')!)).toEqual({
      id: 'c 1',
      'contact_info.email': 'a+b@x.io',
    })
  })

  it('encodes ids in path segments', async () => {
    const { api, requests } = makeClient(() => json(200, channel('a/b')))
    await api.requestCancellation('c/1', 'a/b')
    expect(requests[0]!.url.pathname).toBe(
      '/api/v2/partners/examplePA/clients/c%2F1/channels/a%2Fb/control/cancellation_request',
    )
  })

  it('returns a list page from the envelope with the right items key', async () => {
    const { api } = makeClient(() =>
      json(200, {
        count: 1,
        total: 7,
        limit: 1,
        offset: 3,
        sort: ['created_at'],
        partner_channels: [channel('ch9', { extra_field: 1 })],
      }),
    )
    const page = await api.listChannels({ limit: 1, offset: 3 })
    expect(page.total).toBe(7)
    expect(page.offset).toBe(3)
    expect(page.limit).toBe(1)
    expect(page.items.map((c) => c.id)).toEqual(['ch9'])
    expect((page.items[0] as Record<string, unknown>)['extra_field']).toBe(1)
  })

  it('finds one channel or client through the id filter, or null', async () => {
    const { api, requests } = makeClient((req) => {
      const id = JSON.parse(req.url.searchParams.get('filters') ?? '{}').id
      if (req.url.pathname.endsWith('/clients'))
        return json(200, { total: id === 'cl1' ? 1 : 0, clients: id === 'cl1' ? [{ id }] : [] })
      return json(200, {
        total: id === 'ch1' ? 1 : 0,
        partner_channels: id === 'ch1' ? [channel('ch1')] : [],
      })
    })
    await expect(api.findChannel('ch1')).resolves.toMatchObject({ id: 'ch1' })
    await expect(api.findChannel('nope')).resolves.toBeNull()
    await expect(api.findClient('cl1')).resolves.toMatchObject({ id: 'cl1' })
    await expect(api.findClient('zzz')).resolves.toBeNull()
    expect(requests[0]!.url.searchParams.get('filters')).toBe('{"id":"ch1"}')
  })

  it('ignores a filtered result whose id does not match (a server that ignores the filter)', async () => {
    const { api } = makeClient(() =>
      json(200, { total: 2, partner_channels: [channel('x1'), channel('x2')] }),
    )
    await expect(api.findChannel('ch1')).resolves.toBeNull()
  })
})

describe('response validation', () => {
  it('keeps unknown fields', async () => {
    const { api } = makeClient(() => json(200, { id: 'examplePA', brand_name: 'B', settings: { a: 1 } }))
    await expect(api.getPartner()).resolves.toMatchObject({ settings: { a: 1 } })
  })

  it.each([
    ['a wrong type', () => json(200, { id: 42 })],
    ['not JSON', () => new Response('<html>oops</html>', { status: 200 })],
    ['a list without total', () => json(200, { clients: [] })],
  ])('rejects %s as invalid upstream response without retrying', async (_name, respond) => {
    const { api, requests } = makeClient(respond)
    const err = await failure(api.getPartner())
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.message).toBe('invalid upstream response')
    expect((err as UpstreamError).retryable).toBe(false)
    expect(requests).toHaveLength(1)
  })

  it('quarantines a channel list item the schema refuses and keeps the rest of the page', async () => {
    const bad = { client_id: 'cl1', status: 'ready' }
    const named = { id: 'chBad', client_id: { nested: true } }
    const { api } = makeClient(() =>
      json(200, { total: 4, limit: 10, partner_channels: [channel('ch1'), bad, named, channel('ch2')] }),
    )
    const page = await api.listChannels({ limit: 10 })
    expect(page.items.map((c) => c.id)).toEqual(['ch1', 'ch2'])
    expect(page.quarantined).toEqual([
      { kind: 'channel', id: null, reason: expect.stringMatching(/^id: /), raw: JSON.stringify(bad) },
      {
        kind: 'channel',
        id: 'chBad',
        reason: expect.stringMatching(/^client_id: /),
        raw: JSON.stringify(named),
      },
    ])
  })

  it('cuts a quarantined item kept for an operator to 2 KiB', async () => {
    const huge = { id: 'chHuge', client_id: null, note: 'x'.repeat(10_000) }
    const { api } = makeClient(() => json(200, { total: 1, partner_channels: [huge] }))
    const page = await api.listChannels()
    expect(page.items).toEqual([])
    expect(page.quarantined?.[0]?.raw).toHaveLength(2048)
  })

  it.each([
    ['an items key spelled differently', { total: 3, count: 3, channels: [{ id: 'a', client_id: 'c' }] }],
    ['no items key at all', { total: 0, count: 0 }],
    ['a null items value', { total: 0, partner_channels: null }],
    ['items that are not an array', { total: 1, partner_channels: { id: 'a' } }],
    ['a bare array', [{ id: 'a', client_id: 'c' }]],
    ['a string', 'ok'],
  ])('refuses a channels page with %s as items_key_missing, never as an empty page', async (_n, body) => {
    const { api, requests } = makeClient(() => json(200, body))
    const err = (await failure(api.listChannels())) as UpstreamError
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.code).toBe('items_key_missing')
    expect(err.retryable).toBe(false)
    expect(requests).toHaveLength(1)
  })

  it('does not call a listed but quarantined item gone when looking it up by id', async () => {
    const { api } = makeClient(() =>
      json(200, { total: 1, partner_channels: [{ id: 'ch1', client_id: null }] }),
    )
    const err = (await failure(api.findChannel('ch1'))) as UpstreamError
    expect(err.code).toBe('upstream_item_quarantined')
  })
})

describe('errors', () => {
  it('does not retry a 4xx and carries status and developer_message but not the body', async () => {
    const { api, requests } = makeClient(() => metaError(404, 'Channel not found'))
    const err = (await failure(api.getPartner())) as UpstreamError
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.upstreamStatus).toBe(404)
    expect(err.upstreamMessage).toBe('Channel not found')
    expect(err.retryable).toBe(false)
    expect(err.code).toBe('upstream_rejected')
    expect(err.message).not.toContain('meta')
    expect(requests).toHaveLength(1)
  })

  it('does not follow a redirect and fails', async () => {
    const { api, requests } = makeClient(
      () => new Response(null, { status: 302, headers: { location: 'https://evil.example/' } }),
    )
    const err = (await failure(api.getPartner())) as UpstreamError
    expect(err.code).toBe('upstream_redirect')
    expect(err.upstreamStatus).toBe(302)
    expect(err.retryable).toBe(false)
    expect(requests).toHaveLength(1)
    expect(requests[0]!.redirect).toBe('manual')
  })

  it('fails when the secret is not configured', async () => {
    const { fetch, requests } = fakeFetch(() => ok())
    const api = createPartnerApiClient({
      baseUrl: 'https://h.example/api/v2',
      partnerId: 'p',
      auth: 'api_key',
      secrets: mutableSecrets({}),
      fetch,
    })
    await expect(api.getPartner()).rejects.toThrow('partner API secret is not configured')
    expect(requests).toHaveLength(0)
  })
})

describe('retries and backoff', () => {
  it('retries a 5xx with exponential backoff and counts the retries', async () => {
    const { api, requests, time } = makeClient(sequence(unavailable, unavailable, ok))
    await expect(api.getPartner()).resolves.toMatchObject({ id: 'examplePA' })
    expect(requests).toHaveLength(3)
    expect(time.sleeps).toEqual([200, 400])
    expect(api.stats()).toEqual({ calls: 3, retries: 2 })
  })

  it('keeps each delay within [0, min(max, base × 2^n)] with full jitter', async () => {
    const randoms = [0.5, 0, 0.999, 0.25, 0.75, 1]
    let i = 0
    const { api, time } = makeClient(sequence(unavailable), {
      maxAttempts: 7,
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      budgetMs: 1_000_000,
      random: () => randoms[i++] ?? 0,
    })
    await expect(api.getPartner()).rejects.toBeInstanceOf(UpstreamError)
    const ceilings = [100, 200, 400, 800, 1_000, 1_000]
    expect(time.sleeps).toHaveLength(6)
    time.sleeps.forEach((d, n) => {
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(ceilings[n]!)
    })
    expect(time.sleeps).toEqual([50, 0, 399, 200, 750, 1_000])
  })

  it('stops at maxAttempts with a retryable error', async () => {
    const { api, requests } = makeClient(sequence(unavailable), { maxAttempts: 3 })
    const err = (await failure(api.getPartner())) as UpstreamError
    expect(requests).toHaveLength(3)
    expect(err.upstreamStatus).toBe(503)
    expect(err.retryable).toBe(true)
    expect(err.upstreamMessage).toBe('try later')
  })

  it('stops when the next wait would exceed the budget', async () => {
    const { api, requests, time } = makeClient(sequence(unavailable), {
      maxAttempts: 10,
      baseDelayMs: 400,
      maxDelayMs: 10_000,
      budgetMs: 1_000,
    })
    const err = (await failure(api.getPartner())) as UpstreamError
    expect(err.upstreamStatus).toBe(503)
    expect(time.sleeps).toEqual([400])
    expect(requests).toHaveLength(2)
  })

  it('honours Retry-After in seconds', async () => {
    const { api, time } = makeClient(sequence(() => metaError(429, 'slow down', { 'retry-after': '3' }), ok))
    await api.getPartner()
    expect(time.sleeps).toEqual([3_000])
  })

  it('honours Retry-After as an HTTP date', async () => {
    const start = Date.parse('2025-01-01T00:00:00Z')
    const { api, time } = makeClient(
      sequence(() => metaError(429, 'slow down', { 'retry-after': 'Wed, 01 Jan 2025 00:00:07 GMT' }), ok),
      {},
      start,
    )
    await api.getPartner()
    expect(time.sleeps).toEqual([7_000])
  })

  it('gives up when Retry-After is beyond the budget', async () => {
    const { api, requests } = makeClient(
      sequence(() => metaError(429, 'slow down', { 'retry-after': '60' }), ok),
      {
        budgetMs: 30_000,
      },
    )
    const err = (await failure(api.getPartner())) as UpstreamError
    expect(err.code).toBe('upstream_rate_limited')
    expect(err.upstreamStatus).toBe(429)
    expect(err.retryable).toBe(true)
    expect(requests).toHaveLength(1)
  })

  it('retries connection resets and timeouts on reads', async () => {
    const { api, requests } = makeClient(
      sequence(
        () => netError('ECONNRESET'),
        () => new DOMException('timed out', 'TimeoutError'),
        ok,
      ),
    )
    await api.getPartner()
    expect(requests).toHaveLength(3)
  })

  it('aborts a request that outlives timeoutMs and reports a timeout', async () => {
    // The fake holds every request open until the client's own timeout aborts it.
    const hanging: typeof globalThis.fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))
      })
    const time = virtualTime()
    const api = createPartnerApiClient({
      baseUrl: 'https://h.example/api/v2',
      partnerId: 'p',
      auth: 'api_key',
      secrets: mutableSecrets({ partnerApi: API_KEY }),
      fetch: hanging,
      timeoutMs: 5,
      maxAttempts: 2,
      sleep: time.sleep,
      now: time.now,
    })
    const err = (await failure(api.getPartner())) as UpstreamError
    expect(err.code).toBe('upstream_timeout')
    expect(err.upstreamStatus).toBe(0)
    expect(api.stats().calls).toBe(2)
  })

  it('rethrows the caller abort instead of retrying', async () => {
    const controller = new AbortController()
    const { api, requests } = makeClient(() => {
      controller.abort(new Error('stop'))
      return netError('ECONNRESET')
    })
    const walk = async (): Promise<void> => {
      for await (const _ of api.iterateChannels({ signal: controller.signal })) {
        // consume
      }
    }
    await expect(walk()).rejects.toThrow('stop')
    expect(requests).toHaveLength(1)
  })
})

describe('cancellation calls are never retried after they may have reached the server', () => {
  it.each([
    ['a 503', () => unavailable()],
    ['a 500', () => metaError(500, 'boom')],
    ['a timeout', () => new DOMException('timed out', 'TimeoutError')],
    ['a connection reset', () => netError('ECONNRESET')],
  ])('fails as ambiguous after %s with one call', async (_name, outcome) => {
    const { api, requests } = makeClient(sequence(outcome, () => json(200, channel('ch1'))))
    const err = (await failure(api.requestCancellation('cl1', 'ch1'))) as UpstreamError
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.code).toBe('upstream_ambiguous')
    expect(err.retryable).toBe(true)
    expect(requests).toHaveLength(1)
    const revoke = makeClient(sequence(outcome, () => json(200, channel('ch1'))))
    await expect(revoke.api.revokeCancellation('cl1', 'ch1')).rejects.toMatchObject({
      code: 'upstream_ambiguous',
    })
    expect(revoke.requests).toHaveLength(1)
  })

  it.each([
    ['a 429', () => metaError(429, 'slow', { 'retry-after': '1' })],
    ['a refused connection', () => netError('ECONNREFUSED')],
  ])('retries after %s, which never reached the server', async (_name, outcome) => {
    const { api, requests } = makeClient(
      sequence(outcome, () => json(200, channel('ch1', { terminated_at: 'x' }))),
    )
    await expect(api.requestCancellation('cl1', 'ch1')).resolves.toMatchObject({ id: 'ch1' })
    expect(requests).toHaveLength(2)
  })

  it('does not retry a rejected cancellation (4xx)', async () => {
    const { api, requests } = makeClient(sequence(() => metaError(400, 'nothing pending')))
    await expect(api.revokeCancellation('cl1', 'ch1')).rejects.toMatchObject({
      upstreamStatus: 400,
      retryable: false,
      upstreamMessage: 'nothing pending',
    })
    expect(requests).toHaveLength(1)
  })
})

describe('API key authentication', () => {
  it('re-reads the secret once after a 401 and retries with the new key', async () => {
    const { api, requests, secrets } = makeClient((req) =>
      req.headers.get('x-api-key') === 'rotated-key' ? ok() : metaError(401, 'Invalid api key'),
    )
    secrets.values.partnerApi = API_KEY
    const p = api.getPartner()
    secrets.values.partnerApi = 'rotated-key'
    await expect(p).resolves.toMatchObject({ id: 'examplePA' })
    expect(requests.map((r) => r.headers.get('x-api-key'))).toEqual([API_KEY, 'rotated-key'])
    expect(secrets.reads).toEqual([
      { name: 'partnerApi', forceRefresh: false },
      { name: 'partnerApi', forceRefresh: true },
    ])
  })

  it('throws the credentials-refused UpstreamError (502) after the second 401 without the key in the message', async () => {
    const { api, requests, logs } = makeClient(() => metaError(401, 'Invalid api key'))
    const err = await failure(api.getPartner())
    expect(err).toBeInstanceOf(UpstreamError)
    expect((err as UpstreamError).code).toBe('upstream_unauthorized')
    expect(err.message).not.toContain(API_KEY)
    expect(requests).toHaveLength(2)
    expect(JSON.stringify(logs)).not.toContain(API_KEY)
  })

  it('accepts the key as JSON {"apiKey"}', async () => {
    const { api, requests, secrets } = makeClient(() => ok())
    secrets.values.partnerApi = '{"apiKey":"json-key"}'
    await api.getPartner()
    expect(requests[0]!.headers.get('x-api-key')).toBe('json-key')
  })

  it('a 401 on a cancellation is retried once with refreshed credentials', async () => {
    const { api, requests } = makeClient(
      sequence(
        () => metaError(401, 'bad'),
        () => json(200, channel('ch1')),
      ),
    )
    await expect(api.requestCancellation('cl1', 'ch1')).resolves.toMatchObject({ id: 'ch1' })
    expect(requests).toHaveLength(2)
  })
})

describe('Bearer authentication', () => {
  const USER = 'demo@partnerops.local'
  const PASSWORD = 'pass-SECRET-456'

  function bearer(opts: { expiresIn?: number; tokenStatus?: number } = {}) {
    let issued = 0
    const valid = new Set<string>()
    const ctx = makeClient(
      (req) => {
        if (req.url.pathname.endsWith('/token')) {
          if (opts.tokenStatus)
            return json(opts.tokenStatus, { error: 'invalid_grant', error_description: 'bad password' })
          issued += 1
          const token = `tok-${issued}`
          valid.add(token)
          return json(200, {
            access_token: token,
            token_type: 'bearer',
            expires_in: opts.expiresIn ?? 86_400,
          })
        }
        const auth = req.headers.get('authorization') ?? ''
        return valid.has(auth.replace(/^Bearer /, '')) ? ok() : metaError(401, 'token expired')
      },
      { auth: 'bearer' },
    )
    ctx.secrets.values.partnerApi = JSON.stringify({ username: USER, password: PASSWORD })
    return { ...ctx, valid }
  }

  it('exchanges username and password for a token and caches it', async () => {
    const { api, requests } = bearer()
    await api.getPartner()
    await api.getPartner()
    expect(requests.map((r) => `${r.method} ${r.url.pathname}`)).toEqual([
      'POST /api/v2/token',
      'GET /api/v2/partners/examplePA',
      'GET /api/v2/partners/examplePA',
    ])
    expect(requests[0]!.body).toEqual({ username: USER, password: PASSWORD })
    expect(requests[1]!.headers.get('authorization')).toBe('Bearer tok-1')
    expect(requests[1]!.headers.get('x-api-key')).toBeNull()
  })

  it('renews the token 60 s before it expires', async () => {
    const { api, requests, time } = bearer({ expiresIn: 120 })
    await api.getPartner()
    time.advance(59_000)
    await api.getPartner()
    time.advance(2_000)
    await api.getPartner()
    expect(requests.filter((r) => r.url.pathname.endsWith('/token'))).toHaveLength(2)
    expect(requests.at(-1)!.headers.get('authorization')).toBe('Bearer tok-2')
  })

  it('re-authenticates once after a 401', async () => {
    const { api, requests, valid, secrets } = bearer()
    await api.getPartner()
    valid.clear()
    await api.getPartner()
    expect(requests.map((r) => r.url.pathname.split('/').at(-1))).toEqual([
      'token',
      'examplePA',
      'examplePA',
      'token',
      'examplePA',
    ])
    expect(secrets.reads.filter((r) => r.forceRefresh)).toHaveLength(1)
  })

  it('throws the credentials-refused UpstreamError when the token endpoint refuses, without the password anywhere', async () => {
    const { api, requests, logs } = bearer({ tokenStatus: 401 })
    const err = await failure(api.getPartner())
    expect(err).toBeInstanceOf(UpstreamError)
    expect((err as UpstreamError).code).toBe('upstream_unauthorized')
    expect(err.message).not.toContain(PASSWORD)
    expect(err.message).not.toContain(USER)
    expect(requests.filter((r) => r.url.pathname.endsWith('/token'))).toHaveLength(2)
    expect(JSON.stringify(logs)).not.toContain(PASSWORD)
  })

  it('refuses an API-key secret in bearer mode', async () => {
    const { api, secrets, requests } = bearer()
    secrets.values.partnerApi = 'plain-key'
    await expect(api.getPartner()).rejects.toThrow('bearer auth needs')
    expect(requests).toHaveLength(0)
  })
})

describe('no credential in any error', () => {
  it.each([
    ['401', () => metaError(401, 'Invalid api key')],
    ['404', () => metaError(404, 'not found')],
    ['500', () => metaError(500, 'boom')],
    ['302', () => new Response(null, { status: 302, headers: { location: 'https://x.example' } })],
    ['reset', () => netError('ECONNRESET')],
    ['invalid', () => json(200, { id: 1 })],
  ])('after %s', async (_name, outcome) => {
    const { api, logs } = makeClient(sequence(outcome), { maxAttempts: 2 })
    for (const call of [() => api.getPartner(), () => api.requestCancellation('cl1', 'ch1')]) {
      const err = await failure(call())
      const dump = `${err.message} ${JSON.stringify(err)} ${String(err.stack)}`
      expect(dump).not.toContain(API_KEY)
    }
    expect(JSON.stringify(logs)).not.toContain(API_KEY)
  })
})

describe('the balance endpoint (5 calls per 30 s): one attempt, a validated body', () => {
  it('throws a 429 at once with its Retry-After, and a 503 without retrying either', async () => {
    const limited = makeClient(() => metaError(429, 'Too many requests', { 'retry-after': '17' }))
    const err = await failure(limited.api.getClientBalance('cl1'))
    expect(err).toMatchObject({ code: 'upstream_rate_limited', upstreamStatus: 429, retryAfterSeconds: 17 })
    expect(limited.requests).toHaveLength(1)
    const down = makeClient(unavailable)
    expect(await failure(down.api.getClientBalance('cl1'))).toMatchObject({ upstreamStatus: 503 })
    expect(down.requests).toHaveLength(1)
  })

  it('accepts the documented body, keeps last_renewal optional, and refuses a balance that is not a number', async () => {
    const good = makeClient(() =>
      json(200, {
        balance: 42.5,
        currency: 'EUR',
        last_renewal: { date: '2023-03-01T00:00:00Z', amount: 50 },
        usage: [],
      }),
    )
    expect(await good.api.getClientBalance('cl1')).toMatchObject({
      balance: 42.5,
      currency: 'EUR',
      last_renewal: { date: '2023-03-01T00:00:00Z', amount: 50 },
    })
    const noRenewal = makeClient(() => json(200, { balance: 0, currency: 'USD' }))
    expect((await noRenewal.api.getClientBalance('cl1')).last_renewal).toBeUndefined()
    for (const body of [
      { balance: '42.5', currency: 'EUR' },
      { balance: 1 },
      [{ currency: 'usd', total: 0 }],
    ]) {
      const bad = makeClient(() => json(200, body))
      expect(await failure(bad.api.getClientBalance('cl1'))).toMatchObject({
        code: 'upstream_invalid_response',
      })
    }
  })
})

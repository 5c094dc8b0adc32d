import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type Simulator, startSimulator } from '../../../local/simulator/server'

const KEY = { 'X-API-Key': 'local-partner-api-key' }
const SECRET = 'test-platform-secret'

interface Received {
  headers: Record<string, string | string[] | undefined>
  raw: Buffer
  body: { id: string; event: string; data: { id: string; terminated_at?: string | null }; timestamp: string }
}

/** A tiny webhook receiver; `statuses` are answered in order, then 200. */
async function startReceiver(
  statuses: number[] = [],
): Promise<{ url: string; got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = []
  const queue = [...statuses]
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks)
      got.push({ headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) })
      res.writeHead(queue.shift() ?? 200, { 'content-type': 'application/json' })
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/webhooks/360dialog`,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}

function verifies(r: Received): boolean {
  const expected = Buffer.from(createHmac('sha256', SECRET).update(r.raw).digest('hex'))
  const got = Buffer.from(String(r.headers['x-360dialog-signature']))
  return got.length === expected.length && timingSafeEqual(got, expected)
}

describe('simulator over HTTP', () => {
  let sim: Simulator
  let api: string

  beforeAll(async () => {
    sim = await startSimulator({ platformSecret: SECRET, variance: 'off' })
    api = `${sim.baseUrl}/partners/${sim.partnerId}`
  })
  afterAll(async () => {
    await sim.close()
  })
  beforeEach(() => sim.reset())

  const get = (path: string, headers: Record<string, string> = KEY): Promise<Response> =>
    fetch(`${api}${path}`, { headers })
  const send = (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = KEY,
  ): Promise<Response> =>
    fetch(`${api}${path}`, {
      method,
      headers: { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })

  describe('auth', () => {
    it('answers 401 with the meta body without a key, with a wrong key and with an unknown token', async () => {
      const cases: Record<string, string>[] = [{}, { 'X-API-Key': 'wrong' }, { Authorization: 'Bearer nope' }]
      for (const headers of cases) {
        const res = await get('', headers)
        expect(res.status).toBe(401)
        expect(await res.json()).toMatchObject({ meta: { success: false, http_code: 401 } })
      }
    })

    it('accepts the X-API-Key header and serves the partner', async () => {
      const res = await get('')
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({
        id: 'demoPA',
        webhook_url: null,
        allow_client_to_add_phone_no: true,
      })
    })

    it('issues a Bearer token that works, and refuses bad credentials OAuth-style', async () => {
      const bad = await fetch(`${sim.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'demo@partnerops.local', password: 'wrong' }),
      })
      expect(bad.status).toBe(401)
      expect(await bad.json()).toMatchObject({
        error: 'invalid_grant',
        error_description: expect.any(String),
      })

      const ok = await fetch(`${sim.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'demo@partnerops.local', password: 'local-password' }),
      })
      const token = (await ok.json()) as { access_token: string; token_type: string; expires_in: number }
      expect(token).toMatchObject({
        token_type: 'bearer',
        expires_in: 86400,
        refresh_token: expect.any(String),
      })
      const res = await get('/clients', { Authorization: `Bearer ${token.access_token}` })
      expect(res.status).toBe(200)
    })
  })

  it('rejects an expired token with the meta body', async () => {
    let now = new Date('2026-01-10T00:00:00Z')
    const local = await startSimulator({ clock: () => now, tokenTtlSeconds: 60 })
    try {
      const ok = await fetch(`${local.baseUrl}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'demo@partnerops.local', password: 'local-password' }),
      })
      const { access_token } = (await ok.json()) as { access_token: string }
      const auth = { Authorization: `Bearer ${access_token}` }
      expect((await fetch(`${local.baseUrl}/partners/demoPA`, { headers: auth })).status).toBe(200)
      now = new Date('2026-01-10T00:01:01Z')
      const expired = await fetch(`${local.baseUrl}/partners/demoPA`, { headers: auth })
      expect(expired.status).toBe(401)
      expect(await expired.json()).toEqual({
        meta: { success: false, http_code: 401, developer_message: 'Token expired' },
      })
    } finally {
      await local.close()
    }
  })

  describe('lists and items', () => {
    it('answers the documented clients envelope', async () => {
      const res = await get('/clients?sort=-created_at&limit=2')
      const body = (await res.json()) as Record<string, unknown> & { clients: { id: string }[] }
      expect(Object.keys(body).sort()).toEqual([
        'clients',
        'count',
        'filters',
        'limit',
        'offset',
        'sort',
        'total',
      ])
      expect(body).toMatchObject({
        count: 2,
        filters: {},
        sort: ['-created_at'],
        limit: 2,
        offset: 0,
        total: 4,
      })
    })

    it('filters channels by a dotted path and sorts them, like the fixture envelope', async () => {
      const filters = encodeURIComponent(JSON.stringify({ client_id: 'Kd82nQ1zCL' }))
      const res = await get(`/channels?filters=${filters}&sort=created_at&limit=2`)
      const body = (await res.json()) as { partner_channels: { id: string }[] }
      expect({ ...body, partner_channels: body.partner_channels.map((c) => c.id) }).toEqual({
        count: 2,
        filters: { client_id: 'Kd82nQ1zCL' },
        sort: ['created_at'],
        limit: 2,
        offset: 0,
        total: 2,
        partner_channels: ['Pq7Wx2CH', 'Rt5Yu8CH'],
      })
      const byPhone = encodeURIComponent(JSON.stringify({ 'setup_info.phone_number': '34910000000' }))
      const one = (await (await get(`/channels?filters=${byPhone}`)).json()) as {
        partner_channels: { id: string }[]
      }
      expect(one.partner_channels.map((c) => c.id)).toEqual(['Mn3Bv6CH'])
    })

    it('answers 400 with the meta body for filters that are not JSON', async () => {
      const res = await get('/channels?filters=%7Bnot-json')
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({
        meta: {
          success: false,
          http_code: 400,
          developer_message: 'Wrong payload',
          details: ['filters: invalid JSON'],
        },
      })
    })

    it('serves single items and 404 meta bodies for unknown ones and an unknown partner', async () => {
      expect(((await (await get('/channels/Pq7Wx2CH')).json()) as { id: string }).id).toBe('Pq7Wx2CH')
      expect(((await (await get('/clients/Kd82nQ1zCL')).json()) as { id: string }).id).toBe('Kd82nQ1zCL')
      const missing = await get('/channels/nope')
      expect(missing.status).toBe(404)
      expect(await missing.json()).toMatchObject({ meta: { success: false, http_code: 404 } })
      expect((await get('/clients/nope')).status).toBe(404)
      const other = await fetch(`${sim.baseUrl}/partners/otherPA/channels`, { headers: KEY })
      expect(other.status).toBe(404)
      expect(await other.json()).toMatchObject({
        meta: { http_code: 404, developer_message: 'Partner not found' },
      })
    })

    it('pages through 10,000 generated channels visiting every id exactly once', async () => {
      sim.generate({ clients: 100, channelsPerClient: 100 })
      const seen = new Map<string, number>()
      let total = 0
      let pages = 0
      for (let offset = 0; pages < 200; offset += 100, pages++) {
        const res = await get(`/channels?sort=-created_at,client_id&limit=100&offset=${offset}`)
        const body = (await res.json()) as {
          total: number
          count: number
          partner_channels: { id: string }[]
        }
        total = body.total
        for (const c of body.partner_channels) seen.set(c.id, (seen.get(c.id) ?? 0) + 1)
        if (offset + body.count >= body.total) break
      }
      expect(total).toBeGreaterThan(10_000)
      expect(seen.size).toBe(total)
      expect([...seen.values()].every((n) => n === 1)).toBe(true)
    })

    it('clamps limit to the maximum page size and echoes the applied one', async () => {
      const local = await startSimulator({ maxPageSize: 5 })
      try {
        const res = await fetch(`${local.baseUrl}/partners/demoPA/channels?limit=50`, { headers: KEY })
        expect(await res.json()).toMatchObject({ limit: 5, count: 5 })
      } finally {
        await local.close()
      }
    })

    it('calls the list hook before each page so tests can shift items between pages', async () => {
      const calls: [string, number][] = []
      sim.onList = (kind, offset) => {
        calls.push([kind, offset])
        if (offset === 2) sim.removeChannel('Pq7Wx2CH')
      }
      try {
        const first = (await (await get('/channels?sort=id&limit=2')).json()) as { total: number }
        const second = (await (await get('/channels?sort=id&limit=2&offset=2')).json()) as { total: number }
        expect(calls).toEqual([
          ['channels', 0],
          ['channels', 2],
        ])
        expect(second.total).toBe(first.total - 1)
      } finally {
        sim.onList = undefined
      }
    })
  })

  describe('client and partner changes', () => {
    it('patches partner_payload and max_channels and rejects other fields', async () => {
      const res = await send('PATCH', '/clients/Kd82nQ1zCL', {
        partner_payload: 'tenant:42;plan=pro',
        max_channels: 5,
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({
        id: 'Kd82nQ1zCL',
        partner_payload: 'tenant:42;plan=pro',
        max_channels: 5,
      })
      const bad = await send('PATCH', '/clients/Kd82nQ1zCL', { name: 'x' })
      expect(bad.status).toBe(400)
      expect(await bad.json()).toMatchObject({ meta: { http_code: 400, details: ['name: unknown field'] } })
    })

    it("changes a client's organisation through /_sim (no webhook), as someone in the Hub would", async () => {
      const before = (await (await get('/clients?filters=%7B%22id%22%3A%22Dm1Hq7CL%22%7D')).json()) as {
        clients: { modified_at: string }[]
      }
      const res = await fetch(`${sim.url}/_sim/clients/Dm1Hq7CL`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ organisation: 'Nordlicht Spedition GmbH', id: 'ignored' }),
      })
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ id: 'Dm1Hq7CL', organisation: 'Nordlicht Spedition GmbH' })
      const after = (await (await get('/clients?filters=%7B%22id%22%3A%22Dm1Hq7CL%22%7D')).json()) as {
        clients: { organisation: string; modified_at: string }[]
      }
      expect(after.clients[0]?.organisation).toBe('Nordlicht Spedition GmbH')
      expect((after.clients[0]?.modified_at ?? '') > (before.clients[0]?.modified_at ?? '')).toBe(true)
      const unknown = await fetch(`${sim.url}/_sim/clients/Nope00CL`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      expect(unknown.status).toBe(404)
    })

    it('sets the webhook URL through PATCH and the webhook_url route', async () => {
      await send('PATCH', '', { webhook_url: 'https://a.example.test/hook' })
      expect(await (await get('/webhook_url')).json()).toEqual({ webhook_url: 'https://a.example.test/hook' })
      const res = await send('POST', '/webhook_url', { webhook_url: 'https://b.example.test/hook' })
      expect(await res.json()).toMatchObject({ id: 'demoPA', webhook_url: 'https://b.example.test/hook' })
      expect((await send('PATCH', '', { webhook_url: 'not a url' })).status).toBe(400)
    })

    it('serves a client balance', async () => {
      const res = await get('/clients/Kd82nQ1zCL/info/balance?granularity=DAY')
      expect(await res.json()).toMatchObject({
        currency: 'USD',
        granularity: 'DAY',
        usage: [expect.any(Object)],
      })
    })
  })

  describe('cancellation and webhooks', () => {
    let receiver: Awaited<ReturnType<typeof startReceiver>>
    beforeEach(async () => {
      receiver = await startReceiver()
      await send('PATCH', '', { webhook_url: receiver.url })
    })
    afterEach(async () => {
      await receiver.close()
    })
    const path = '/clients/Kd82nQ1zCL/channels/Pq7Wx2CH/control/cancellation_request'

    it('requests, repeats and revokes a cancellation, delivering one signed webhook per change', async () => {
      const first = await send('POST', path, { enabled: true })
      expect(first.status).toBe(200)
      const channel = (await first.json()) as { id: string; terminated_at: string }
      expect(channel.terminated_at).toMatch(/^\d{4}-\d{2}-\d{2}T23:59:59Z$/)

      const repeat = await send('POST', path)
      expect(repeat.status).toBe(200)
      expect(((await repeat.json()) as { terminated_at: string }).terminated_at).toBe(channel.terminated_at)

      const revoke = await send('POST', path, { enabled: false })
      expect(((await revoke.json()) as { terminated_at: string | null }).terminated_at).toBeNull()
      expect((await send('POST', path, { enabled: false })).status).toBe(400)

      await waitFor(() => receiver.got.length >= 2, 'two webhooks')
      await new Promise((r) => setTimeout(r, 50))
      expect(receiver.got.map((r) => r.body.event)).toEqual(['cancellation_request', 'cancellation_revoke'])
      const [req] = receiver.got
      expect(req?.headers['content-type']).toBe('application/json')
      expect(req?.body).toMatchObject({
        event: 'cancellation_request',
        data: { id: 'Pq7Wx2CH', terminated_at: channel.terminated_at },
      })
      expect(receiver.got.every(verifies)).toBe(true)
      expect(new Set(receiver.got.map((r) => r.body.id)).size).toBe(2)
    })

    it('serves /control/reactivate as a revoke', async () => {
      await send('POST', path, { enabled: true })
      const res = await send('POST', '/clients/Kd82nQ1zCL/channels/Pq7Wx2CH/control/reactivate')
      expect(((await res.json()) as { terminated_at: string | null }).terminated_at).toBeNull()
    })

    it('answers 400 for a terminated channel and 404 for another client or an unknown channel', async () => {
      expect(
        (await send('POST', '/clients/Zq09LmT4CL/channels/Jk4Hg1CH/control/cancellation_request')).status,
      ).toBe(400)
      expect(
        (await send('POST', '/clients/Zq09LmT4CL/channels/Pq7Wx2CH/control/cancellation_request')).status,
      ).toBe(404)
      expect(
        (await send('POST', '/clients/Kd82nQ1zCL/channels/nope/control/cancellation_request')).status,
      ).toBe(404)
      expect((await send('POST', path, { enabled: 'yes' })).status).toBe(400)
    })

    it('onboards a client and delivers client_created then channel_created', async () => {
      const res = await fetch(`${sim.url}/_sim/onboard`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ partner_payload: 'tenant:7', channels: 2, name: 'New Co' }),
      })
      expect(res.status).toBe(201)
      const body = (await res.json()) as {
        client: { id: string; partner_payload: string }
        channels: { id: string }[]
      }
      expect(body.client).toMatchObject({ partner_payload: 'tenant:7', name: 'New Co' })
      expect(body.channels).toHaveLength(2)
      expect(receiver.got.map((r) => r.body.event)).toEqual([
        'client_created',
        'channel_created',
        'channel_created',
      ])
      expect(receiver.got.every(verifies)).toBe(true)
    })

    it('advances a channel through /_sim and delivers the matching event', async () => {
      const created = (await (
        await fetch(`${sim.url}/_sim/channels`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_id: 'Kd82nQ1zCL', setup_info: { phone_number: '4930999000' } }),
        })
      ).json()) as { id: string; status: string; setup_info: { phone_number: string; region: string } }
      expect(created).toMatchObject({
        status: 'created',
        setup_info: { phone_number: '4930999000', region: 'EU' },
      })
      const advanced = await fetch(`${sim.url}/_sim/channels/${created.id}/advance`, { method: 'POST' })
      expect(await advanced.json()).toMatchObject({ id: created.id, status: 'submitted' })
      expect(receiver.got.map((r) => [r.body.event, r.body.data.id])).toEqual([
        ['channel_submitted', created.id],
      ])
    })
  })

  it('retries a webhook the receiver first answers with 500', async () => {
    const receiver = await startReceiver([500])
    const local = await startSimulator({
      platformSecret: SECRET,
      webhookUrl: receiver.url,
      webhookRetryBaseMs: 20,
    })
    try {
      await local.advance('Rt5Yu8CH')
      await waitFor(() => receiver.got.length >= 2, 'the retry')
      expect(receiver.got.map((r) => r.body.id)[0]).toBe(receiver.got[1]?.body.id)
      expect(receiver.got.every(verifies)).toBe(true)
      await waitFor(() => local.deliveries()[0]?.status === 200, 'delivery log')
      expect(local.deliveries()).toEqual([
        { event: 'channel_running', id: receiver.got[0]?.body.id, status: 200, attempts: 2 },
      ])
    } finally {
      await local.close()
      await receiver.close()
    }
  })

  it('stops retrying once closed', async () => {
    const receiver = await startReceiver([500, 500, 500, 500, 500])
    const local = await startSimulator({ webhookUrl: receiver.url, webhookRetryBaseMs: 30 })
    try {
      await local.advance('Rt5Yu8CH')
      await local.close()
      const attempts = receiver.got.length
      await new Promise((r) => setTimeout(r, 150))
      expect(receiver.got.length).toBe(attempts)
    } finally {
      await local.close()
      await receiver.close()
    }
  })

  it('moves channels forward on its own in demo mode', async () => {
    const receiver = await startReceiver()
    const local = await startSimulator({ webhookUrl: receiver.url, autoAdvanceMs: 10 })
    try {
      await waitFor(() => receiver.got.length >= 3, 'demo-mode webhooks')
      expect(receiver.got.map((r) => r.body.event)).toContain('cancellation_processed')
    } finally {
      await local.close()
      await receiver.close()
    }
  })

  it('sends the configured extra webhook headers', async () => {
    const receiver = await startReceiver()
    const local = await startSimulator({
      webhookUrl: receiver.url,
      webhookHeaders: { 'x-webhook-token': 'tok' },
    })
    try {
      await local.onboard({ channels: 0 })
      expect(receiver.got[0]?.headers['x-webhook-token']).toBe('tok')
    } finally {
      await local.close()
      await receiver.close()
    }
  })

  describe('faults and controls', () => {
    const faults = (body: unknown): Promise<Response> =>
      fetch(`${sim.url}/_sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })

    it('answers 503 with the meta body at errorRate 1 and changes nothing', async () => {
      await faults({ errorRate: 1 })
      const res = await send('PATCH', '/clients/Kd82nQ1zCL', { max_channels: 9 })
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ meta: { success: false, http_code: 503 } })
      await faults({})
      expect(await (await get('/clients/Kd82nQ1zCL')).json()).toMatchObject({ max_channels: 3 })
    })

    it('answers 429 with Retry-After beyond the per-minute budget', async () => {
      await faults({ rateLimitPerMinute: 2 })
      expect((await get('')).status).toBe(200)
      expect((await get('')).status).toBe(200)
      const limited = await get('')
      expect(limited.status).toBe(429)
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      expect(await limited.json()).toMatchObject({ meta: { http_code: 429 } })
    })

    it('commits a mutation and then drops the connection at dropAfterCommitRate 1', async () => {
      await faults({ dropAfterCommitRate: 1 })
      await expect(send('PATCH', '/clients/Kd82nQ1zCL', { max_channels: 9 })).rejects.toThrow()
      expect((await get('/clients/Kd82nQ1zCL')).status).toBe(200)
      await faults({})
      expect(await (await get('/clients/Kd82nQ1zCL')).json()).toMatchObject({ max_channels: 9 })
      const log = (await (await fetch(`${sim.url}/_sim/requests`)).json()) as {
        method: string
        status: number
      }[]
      expect(log.find((e) => e.method === 'PATCH')?.status).toBe(0)
    })

    it('delays answers by latencyMs', async () => {
      await faults({ latencyMs: 60_000 })
      const slow = fetch(`${api}`, { headers: KEY, signal: AbortSignal.timeout(200) })
      await expect(slow).rejects.toThrow()
      await faults({})
      expect((await get('')).status).toBe(200)
    })

    it('logs Partner API requests but not control requests, and faults spare /_sim', async () => {
      await faults({ errorRate: 1 })
      await get('/channels?limit=1&sort=id&sort=-created_at')
      const res = await fetch(`${sim.url}/_sim/requests`)
      expect(res.status).toBe(200)
      const log = (await res.json()) as {
        method: string
        path: string
        query: Record<string, unknown>
        status: number
      }[]
      expect(log).toEqual([
        {
          method: 'GET',
          path: '/api/v2/partners/demoPA/channels',
          query: { limit: '1', sort: ['id', '-created_at'] },
          time: expect.any(String),
          status: 503,
        },
      ])
    })

    it('resets to the seed, clears faults and the request log', async () => {
      await send('PATCH', '/clients/Kd82nQ1zCL', { max_channels: 9 })
      await fetch(`${sim.url}/_sim/clients`, { method: 'POST', body: JSON.stringify({ name: 'Extra' }) })
      await faults({ errorRate: 1 })
      const res = await fetch(`${sim.url}/_sim/reset`, { method: 'POST' })
      expect(res.status).toBe(200)
      expect(sim.requests()).toEqual([])
      const clients = (await (await get('/clients')).json()) as { total: number }
      expect(clients.total).toBe(4)
      expect(await (await get('/clients/Kd82nQ1zCL')).json()).toMatchObject({ max_channels: 3 })
    })

    it('answers a meta 404 for unknown routes and a 400 for a bad control body', async () => {
      expect((await fetch(`${sim.url}/nothing`)).status).toBe(404)
      expect((await fetch(`${sim.url}/_sim/channels`, { method: 'POST', body: '{}' })).status).toBe(400)
      expect(
        (await fetch(`${sim.url}/_sim/faults`, { method: 'POST', body: '{"errorRate":2}' })).status,
      ).toBe(400)
    })
  })

  describe('variance', () => {
    it('keeps the documented list envelope exactly while items show the variants', async () => {
      const local = await startSimulator({ variance: 'on', varianceRate: 1, deliverWebhooks: false })
      try {
        const client = local.addClient({})
        local.addChannel({ client_id: client.id })
        const res = await fetch(`${local.baseUrl}/partners/demoPA/channels?limit=500`, { headers: KEY })
        const body = (await res.json()) as Record<string, unknown> & {
          partner_channels: Record<string, unknown>[]
        }
        expect(Object.keys(body).sort()).toEqual([
          'count',
          'filters',
          'limit',
          'offset',
          'partner_channels',
          'sort',
          'total',
        ])
        expect(body.count).toBe(body.partner_channels.length)
        const added = body.partner_channels.find((c) => c['client_id'] === client.id)
        expect(added).toMatchObject({ version: 1, is_on_biz_app: false })
        expect(added).not.toHaveProperty('account_mode')
        expect(added).not.toHaveProperty('billing_started_at')
      } finally {
        await local.close()
      }
    })

    it('delivers signed variant webhooks and channel_permission_granted after channel_ready', async () => {
      const receiver = await startReceiver()
      const local = await startSimulator({
        platformSecret: SECRET,
        webhookUrl: receiver.url,
        variance: new Set(['undated_webhooks', 'numeric_ids', 'nested_entities', 'permission_granted']),
        varianceRate: 1,
      })
      try {
        const created = local.addChannel({ client_id: 'Kd82nQ1zCL' })
        await local.advance(created.id)
        await local.advance(created.id)
        await waitFor(() => receiver.got.length >= 3, 'three deliveries')
        expect(receiver.got.every(verifies)).toBe(true)
        const bodies = receiver.got.map((r) => r.body as unknown as Record<string, unknown>)
        expect(bodies.map((b) => b['event'])).toEqual([
          'channel_submitted',
          'channel_ready',
          'channel_permission_granted',
        ])
        for (const b of bodies) {
          expect(typeof b['id']).toBe('number')
          expect(b).not.toHaveProperty('timestamp')
          const data = b['data'] as { channel: Record<string, unknown>; client: { id: string } }
          expect(data.channel).toMatchObject({ id: created.id, client_id: 'Kd82nQ1zCL' })
          expect(data.channel).not.toHaveProperty('modified_at')
          expect(data.client.id).toBe('Kd82nQ1zCL')
        }
        expect(bodies[2]).toMatchObject({ data: { channel: { status: 'ready' } } })
      } finally {
        await local.close()
        await receiver.close()
      }
    })
  })
})

import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Simulator, startSimulator } from '../../../local/simulator/server'

const KEY = { 'X-API-Key': 'local-partner-api-key' }

/** A webhook receiver that records event names in arrival order. */
async function startReceiver(): Promise<{ url: string; events: string[]; close: () => Promise<void> }> {
  const events: string[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      events.push((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { event: string }).event)
      res.writeHead(200)
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

describe('simulator Hub permission page and control index', () => {
  let sim: Simulator
  let receiver: Awaited<ReturnType<typeof startReceiver>>

  beforeEach(async () => {
    receiver = await startReceiver()
    sim = await startSimulator({ seed: 'empty', webhookUrl: receiver.url, variance: 'off' })
  })
  afterEach(async () => {
    await sim.close()
    await receiver.close()
  })

  const pageUrl = (query: string): string => `${sim.url}/dashboard/app/demoPA/permissions?${query}`

  function grant(fields: Record<string, string>): Promise<Response> {
    return fetch(`${sim.url}/dashboard/app/demoPA/permissions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    })
  }

  it('renders the page with the link parameters escaped, never as markup', async () => {
    const evil = '"><script>alert(1)</script>'
    const redirect = 'https://partner.example.test/cb?x="><img src=x onerror=alert(2)>'
    const res = await fetch(
      pageUrl(new URLSearchParams({ partner: evil, redirect_url: redirect }).toString()),
    )
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
    const html = await res.text()
    expect(html).toContain('Grant access')
    expect(html).not.toContain('<script>')
    expect(html).not.toContain('<img')
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('name="partner" value="&quot;&gt;&lt;script&gt;')
  })

  it('grants: a client with the link payload and draft channels, webhooks in order, a 302 with client and channels', async () => {
    const res = await grant({
      name: 'Acme <Ltd>',
      channels: '2',
      partner: 'tenant:42',
      redirect_url: 'https://partner.example.test/done?src=hub',
    })
    expect(res.status).toBe(302)
    const location = new URL(res.headers.get('location') ?? '')
    expect(`${location.origin}${location.pathname}`).toBe('https://partner.example.test/done')
    expect(location.searchParams.get('src')).toBe('hub')
    const clientId = location.searchParams.get('client') ?? ''
    const channels = /^\[(.+)\]$/.exec(location.searchParams.get('channels') ?? '')?.[1]?.split(',') ?? []
    expect(channels).toHaveLength(2)

    const api = `${sim.baseUrl}/partners/demoPA`
    const filters = encodeURIComponent(JSON.stringify({ id: clientId }))
    const clients = (await (await fetch(`${api}/clients?filters=${filters}`, { headers: KEY })).json()) as {
      clients: { name: string; partner_payload: string }[]
    }
    expect(clients.clients[0]).toMatchObject({ name: 'Acme <Ltd>', partner_payload: 'tenant:42' })
    const byClient = encodeURIComponent(JSON.stringify({ client_id: clientId }))
    const listed = (await (
      await fetch(`${api}/channels?filters=${byClient}&sort=id`, { headers: KEY })
    ).json()) as {
      partner_channels: { id: string; status: string }[]
    }
    expect(listed.partner_channels.map((c) => c.id)).toEqual([...channels].sort())
    expect(listed.partner_channels.every((c) => c.status === 'created')).toBe(true)
    expect(receiver.events).toEqual(['client_created', 'channel_created', 'channel_created'])
  })

  it('gives a client granted without a partner reference no partner payload', async () => {
    const res = await grant({ name: 'Plain', channels: '1', redirect_url: 'https://partner.example.test/x' })
    const clientId = new URL(res.headers.get('location') ?? '').searchParams.get('client') ?? ''
    const filters = encodeURIComponent(JSON.stringify({ id: clientId }))
    const body = (await (
      await fetch(`${sim.baseUrl}/partners/demoPA/clients?filters=${filters}`, { headers: KEY })
    ).json()) as { clients: { partner_payload: string | null }[] }
    expect(body.clients[0]?.partner_payload).toBeNull()
  })

  it("falls back to the partner's redirect URL, and shows the ids when there is none", async () => {
    const none = await grant({ name: 'Nowhere', channels: '1' })
    expect(none.status).toBe(200)
    expect(await none.text()).toContain('Access granted')
    await fetch(`${sim.baseUrl}/partners/demoPA`, {
      method: 'PATCH',
      headers: { ...KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ partner_redirect_url: 'https://partner.example.test/static' }),
    })
    const res = await grant({ name: 'Static', channels: '1' })
    expect(res.status).toBe(302)
    expect(res.headers.get('location')).toMatch(/^https:\/\/partner\.example\.test\/static\?client=/)
  })

  it('refuses a bad redirect URL, a missing name, a bad number of channels and another partner, creating nothing', async () => {
    expect((await fetch(pageUrl('redirect_url=javascript:alert(1)'))).status).toBe(400)
    expect((await grant({ name: 'X', channels: '1', redirect_url: 'javascript:alert(1)' })).status).toBe(400)
    expect((await grant({ name: '', channels: '1' })).status).toBe(400)
    expect((await grant({ name: 'X', channels: '0' })).status).toBe(400)
    expect((await grant({ name: 'X', channels: '11' })).status).toBe(400)
    expect((await fetch(`${sim.url}/dashboard/app/otherPA/permissions`)).status).toBe(404)
    expect((await fetch(`${sim.url}/dashboard/other`)).status).toBe(404)
    const all = (await (await fetch(`${sim.baseUrl}/partners/demoPA/clients`, { headers: KEY })).json()) as {
      total: number
    }
    expect(all.total).toBe(0)
    expect(receiver.events).toEqual([])
  })

  it('lists the controls as JSON, and as HTML for a browser', async () => {
    const json = (await (await fetch(`${sim.url}/_sim`)).json()) as {
      baseUrl: string
      controls: { method: string; path: string }[]
    }
    expect(json.baseUrl).toBe(sim.baseUrl)
    expect(json.controls).toContainEqual(expect.objectContaining({ method: 'POST', path: '/_sim/onboard' }))
    expect(json.controls).toContainEqual(
      expect.objectContaining({ method: 'GET', path: '/dashboard/app/{partnerId}/permissions' }),
    )
    const html = await fetch(`${sim.url}/_sim`, { headers: { accept: 'text/html,application/xhtml+xml' } })
    expect(html.headers.get('content-type')).toContain('text/html')
    const text = await html.text()
    expect(text).toContain('<table>')
    expect(text).toContain('/_sim/faults')
  })
})

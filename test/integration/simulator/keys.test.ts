import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Simulator, startSimulator } from '../../../local/simulator/server'

const KEY = { 'X-API-Key': 'local-partner-api-key' }

/** A webhook receiver that records event names and channel ids. */
async function startReceiver(): Promise<{
  url: string
  got: { event: string; id: string }[]
  close(): Promise<void>
}> {
  const got: { event: string; id: string }[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        event: string
        data: { id: string }
      }
      got.push({ event: body.event, id: body.data.id })
      res.writeHead(200, { 'content-type': 'application/json' })
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

describe('simulator: channel API keys over HTTP', () => {
  let sim: Simulator
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  const keysUrl = (id: string): string => `${sim.baseUrl}/partners/${sim.partnerId}/channels/${id}/api_keys`

  beforeEach(async () => {
    receiver = await startReceiver()
    sim = await startSimulator({ seed: 'empty', variance: 'off', webhookUrl: receiver.url })
    sim.addClient({ id: 'KeyA01CL' })
    sim.addClient({ id: 'KeyB02CL' })
    sim.addChannel({ id: 'KeyA01CH', client_id: 'KeyA01CL' })
    sim.addChannel({ id: 'KeyB01CH', client_id: 'KeyB02CL' })
  })
  afterEach(async () => {
    await sim.close()
    await receiver.close()
  })

  it('creates a key with 201 {id, address, api_key, app_id}; a second creation revokes the first', async () => {
    const first = await fetch(keysUrl('KeyA01CH'), { method: 'POST', headers: KEY })
    expect(first.status).toBe(201)
    const a = (await first.json()) as Record<string, string>
    expect(Object.keys(a).sort()).toEqual(['address', 'api_key', 'app_id', 'id'])
    expect(a['address']).toBe(`${sim.url}/messaging`)
    expect(sim.keys.lookup(a['api_key'] as string)).toEqual({
      channelId: 'KeyA01CH',
      keyId: a['id'],
      active: true,
    })

    const b = (await (await fetch(keysUrl('KeyA01CH'), { method: 'POST', headers: KEY })).json()) as Record<
      string,
      string
    >
    expect(b['api_key']).not.toBe(a['api_key'])
    expect(sim.keys.lookup(a['api_key'] as string)?.active).toBe(false)
    const listed = (await (await fetch(keysUrl('KeyA01CH'), { headers: KEY })).json()) as {
      api_keys: Record<string, string>[]
    }
    expect(listed.api_keys.map((k) => k.api_key)).toEqual([b['api_key']])
    expect(sim.keys.createdCount('KeyA01CH')).toBe(2)
  })

  it('revokes every key on DELETE (204) and lists none afterwards', async () => {
    const created = (await (await fetch(keysUrl('KeyA01CH'), { method: 'POST', headers: KEY })).json()) as {
      api_key: string
    }
    const del = await fetch(keysUrl('KeyA01CH'), { method: 'DELETE', headers: KEY })
    expect(del.status).toBe(204)
    expect(sim.keys.lookup(created.api_key)?.active).toBe(false)
    expect(await (await fetch(keysUrl('KeyA01CH'), { headers: KEY })).json()).toEqual({ api_keys: [] })
  })

  it('refuses a Direct Payment client channel without permission (403 meta body) until the client grants it', async () => {
    const payment = await fetch(`${sim.url}/_sim/clients/KeyB02CL/payment`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'direct' }),
    })
    expect(payment.status).toBe(204)
    const refused = await fetch(keysUrl('KeyB01CH'), { method: 'POST', headers: KEY })
    expect(refused.status).toBe(403)
    const body = (await refused.json()) as {
      meta: { success: boolean; http_code: number; developer_message: string }
    }
    expect(body.meta).toMatchObject({ success: false, http_code: 403 })
    expect(body.meta.developer_message).toMatch(/permission/)
    expect(sim.keys.createdCount('KeyB01CH')).toBe(0)

    const grant = await fetch(`${sim.url}/_sim/channels/KeyB01CH/permission`, {
      method: 'POST',
      body: JSON.stringify({ granted: true }),
    })
    expect(grant.status).toBe(200)
    expect(receiver.got).toContainEqual({ event: 'channel_permission_granted', id: 'KeyB01CH' })
    expect((await fetch(keysUrl('KeyB01CH'), { method: 'POST', headers: KEY })).status).toBe(201)
  })

  it('withdrawing the permission revokes the key and delivers channel_permission_revoked', async () => {
    const created = (await (await fetch(keysUrl('KeyA01CH'), { method: 'POST', headers: KEY })).json()) as {
      api_key: string
    }
    await sim.setPermission('KeyA01CH', false)
    expect(sim.keys.lookup(created.api_key)?.active).toBe(false)
    expect(receiver.got).toContainEqual({ event: 'channel_permission_revoked', id: 'KeyA01CH' })
    expect((await fetch(keysUrl('KeyA01CH'), { method: 'POST', headers: KEY })).status).toBe(403)
  })

  it('answers 404 for an unknown channel, 405 for another method, 401 without the partner key, 400 for a bad control body', async () => {
    expect((await fetch(keysUrl('Nope00CH'), { method: 'POST', headers: KEY })).status).toBe(404)
    expect((await fetch(keysUrl('KeyA01CH'), { method: 'PUT', headers: KEY })).status).toBe(405)
    expect((await fetch(keysUrl('KeyA01CH'), { method: 'POST' })).status).toBe(401)
    const bad = await fetch(`${sim.url}/_sim/channels/KeyA01CH/permission`, {
      method: 'POST',
      body: JSON.stringify({ granted: 'yes' }),
    })
    expect(bad.status).toBe(400)
    expect(sim.keys.createdCount()).toBe(0)
  })

  it('forgets keys and permissions on reset', async () => {
    sim.setPaymentMode('KeyA01CL', 'direct')
    sim.reset()
    sim.addClient({ id: 'KeyA01CL' })
    sim.addChannel({ id: 'KeyA01CH', client_id: 'KeyA01CL' })
    expect((await fetch(keysUrl('KeyA01CH'), { method: 'POST', headers: KEY })).status).toBe(201)
    expect(sim.keys.createdCount()).toBe(1)
  })
})

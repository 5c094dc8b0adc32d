import { createHmac } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import { type App, LOCAL_DEFAULTS, startApp } from '../../../local/app'
import type { ChangeEvent } from '../../../shared/domain/types'
import { call } from '../api/support'

/**
 * Bodies shaped like real deliveries (README, Webhooks) through the local server, the embedded
 * DynamoDB and the stream stand-in, against channels the simulator serves to the poller: each case
 * here failed before the ordering rule and the tolerant parsing existed.
 */

const sign = (body: string): string =>
  createHmac('sha256', LOCAL_DEFAULTS.platformSecret).update(body).digest('hex')

let app: App | null = null
let changes: ChangeEvent[] = []
afterEach(async () => {
  await app?.close()
  app = null
  changes = []
})

async function start(): Promise<App> {
  app = await startApp({
    pollIntervalSeconds: null,
    simulator: { seed: 'empty', deliverWebhooks: false },
    onChange: (e) => changes.push(e),
  })
  return app
}

async function deliver(a: App, envelope: unknown): Promise<{ status: number; eventKey: string }> {
  const body = JSON.stringify(envelope)
  const res = await fetch(new URL('/webhooks/360dialog', a.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-360dialog-signature': sign(body) },
    body,
  })
  const json = (await res.json()) as { eventKey: string }
  await a.settle()
  return { status: res.status, eventKey: json.eventKey }
}

/** GET /channels/{id} through SigV4, checked against docs/openapi.yaml, as a partner system reads it. */
async function fetchChannel(a: App, id: string): Promise<Record<string, unknown>> {
  const res = await call(a, `/channels/${id}`)
  expect(res.status).toBe(200)
  return res.json
}

/** A live channel upstream, stored by one poll. */
async function polledLiveChannel(a: App): Promise<Record<string, unknown>> {
  const sim = a.simulator
  if (!sim) throw new Error('the simulator is required')
  const client = sim.addClient()
  const channel = sim.addChannel({
    client_id: client.id,
    status: 'ready',
    account_mode: 'live',
    integration: { enabled: true, app_id: '424242', state: 'running' },
  } as never)
  await a.poll()
  expect((await a.deps.store.channels.get(channel.id))?.lifecycle).toBe('live')
  return channel as unknown as Record<string, unknown>
}

describe('real-world webhook variants over HTTP', () => {
  it('applies an undated cancellation_request after a poll stored the channel (it was stale before)', async () => {
    const a = await start()
    const channel = await polledLiveChannel(a)
    // The .NET client's model: {id, event, data} and a channel without modified_at.
    const { modified_at: _m, ...data } = channel
    const terminatedAt = new Date(Date.now() + 20 * 86_400_000).toISOString()
    const res = await deliver(a, {
      id: 'undated-cancel-1',
      event: 'cancellation_request',
      data: { ...data, terminated_at: terminatedAt },
    })
    expect(res.status).toBe(200)
    expect(await a.deps.store.events.get(res.eventKey)).toMatchObject({ status: 'applied' })
    expect(await a.deps.store.channels.get(channel.id as string)).toMatchObject({
      lifecycle: 'pending_deletion',
      terminatedAt,
      source: 'webhook',
    })
  })

  it('does not let a body dated 2099 freeze a channel against later polls', async () => {
    const a = await start()
    const channel = await polledLiveChannel(a)
    const setup = channel.setup_info as Record<string, unknown>
    const res = await deliver(a, {
      id: 'dated-2099',
      event: 'channel_live',
      timestamp: '2099-01-01T00:00:00Z',
      data: {
        ...channel,
        modified_at: '2099-01-01T00:00:00Z',
        setup_info: { ...setup, phone_name: 'From the future' },
      },
    })
    expect(await a.deps.store.events.get(res.eventKey)).toMatchObject({ status: 'applied' })
    expect((await a.deps.store.channels.get(channel.id as string))?.displayName).toBe('From the future')
    // Upstream changes afterwards; the next poll must win.
    await new Promise((r) => setTimeout(r, 5))
    a.simulator?.mutateChannel(channel.id as string, { setup_info: { phone_name: 'Renamed upstream' } })
    await a.poll()
    expect(await a.deps.store.channels.get(channel.id as string)).toMatchObject({
      displayName: 'Renamed upstream',
      source: 'poll',
    })
  })

  it('applies channel_permission_granted (it was stored and never applied before)', async () => {
    const a = await start()
    const channel = await polledLiveChannel(a)
    const res = await deliver(a, {
      id: 'perm-1',
      event: 'channel_permission_granted',
      data: { ...channel, modified_at: undefined, status: 'ready', hub_status: 'active' },
    })
    expect(await a.deps.store.events.get(res.eventKey)).toMatchObject({ status: 'applied', reason: null })
    expect(await a.deps.store.channels.get(channel.id as string)).toMatchObject({
      source: 'webhook',
      hubStatus: 'active',
      lifecycle: 'live',
    })
  })

  it('applies a client_created whose client sits only under data.client (it was rejected before)', async () => {
    const a = await start()
    const res = await deliver(a, {
      id: 'client-nested-1',
      event: 'client_created',
      data: { client: { id: 'Nest3dCL', name: 'Nested Ltd', contact_info: { email: 'ops@nested.example' } } },
    })
    expect(await a.deps.store.events.get(res.eventKey)).toMatchObject({ status: 'applied' })
    expect(await a.deps.store.clients.get('Nest3dCL')).toMatchObject({
      name: 'Nested Ltd',
      contactEmail: 'ops@nested.example',
    })
  })

  it('discovers a channel_live without account_mode as live, not draft', async () => {
    const a = await start()
    const res = await deliver(a, {
      id: 'live-min-1',
      event: 'channel_live',
      data: { id: 'MinLive1CH', client_id: 'MinLive1CL', status: 'ready', availability_status: 'ready' },
    })
    expect(await a.deps.store.events.get(res.eventKey)).toMatchObject({ status: 'applied' })
    expect((await a.deps.store.channels.get('MinLive1CH'))?.lifecycle).toBe('live')
    const discovered = changes.filter((c) => c.detailType === 'Channel Discovered')
    expect(discovered.map((c) => c.detail.to)).toEqual(['live'])
    // Served as such, with the fields that were not sent as null.
    const served = await fetchChannel(a, 'MinLive1CH')
    expect(served).toMatchObject({ lifecycle: 'live', accountMode: null, hubStatus: null, cancelledAt: null })
  })
})

import { createHmac } from 'node:crypto'
import { request } from 'node:http'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { type App, LOCAL_DEFAULTS, startApp } from '../../../local/app'
import { replayWebhooks } from '../../../shared/services/webhooks/replay-webhooks'
import { sweepPendingEvents } from '../../../shared/services/webhooks/sweep-webhooks'
import fixtures from '../../fixtures/partner-api.json'

const EVENTS = fixtures.webhook_events as Record<string, Record<string, unknown>>
const SECRET = LOCAL_DEFAULTS.platformSecret

const sign = (body: string, secret: string = SECRET): string =>
  createHmac('sha256', secret).update(body).digest('hex')

let app: App | null = null
afterEach(async () => {
  await app?.close()
  app = null
})

async function start(env: Record<string, string> = {}, deliverWebhooks = false): Promise<App> {
  app = await startApp({ pollIntervalSeconds: null, simulator: { seed: 'empty', deliverWebhooks }, env })
  return app
}

/** A raw POST (node:http, so headers can repeat exactly as given). */
function post(
  a: App,
  body: string,
  headers: Record<string, string | string[]>,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const url = new URL('/webhooks/360dialog', a.url)
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          resolve({
            status: res.statusCode ?? 0,
            json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const signed = (a: App, body: string, extra: Record<string, string | string[]> = {}) =>
  post(a, body, { 'x-360dialog-signature': sign(body), ...extra })

describe('webhook over the local server and embedded DynamoDB', () => {
  it('answers once stored, then applies through the stream stand-in; settle waits for it', async () => {
    const a = await start()
    const res = await signed(a, JSON.stringify(EVENTS.channel_live))
    expect(res.json).toMatchObject({ eventKey: 'id:evt_06', duplicate: false })
    await a.settle()
    expect(await a.deps.store.events.get('id:evt_06')).toMatchObject({ status: 'applied' })
    expect((await a.deps.store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')
    expect(await a.deps.store.ops.getCounters('webhooks')).toEqual({ received: 1, applied: 1 })
    await a.settle()
  })

  it('closes cleanly with events still queued for the applier', async () => {
    const a = await start()
    const bodies = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ id: `q${i}`, event: 'something_new', data: { i } }),
    )
    const answers = await Promise.all(bodies.map((b) => signed(a, b)))
    expect(answers.every((r) => r.status === 200)).toBe(true)
    await a.close()
    app = null
  })

  it('stores and applies every fixture event type', async () => {
    const a = await start()
    const keys: Record<string, string> = {}
    for (const [name, envelope] of Object.entries(EVENTS)) {
      const res = await signed(a, JSON.stringify(envelope))
      expect(res.status).toBe(200)
      expect(res.json).toMatchObject({ status: 'accepted', duplicate: false })
      keys[name] = res.json.eventKey as string
    }
    await a.settle()
    const statuses: Record<string, string | undefined> = {}
    for (const [name, key] of Object.entries(keys))
      statuses[name] = (await a.deps.store.events.get(key))?.status
    expect(statuses.waba_template_status_changed).toBe('unknown_type')
    expect(
      Object.entries(statuses)
        .filter(([n]) => n !== 'waba_template_status_changed')
        .every(([, s]) => s === 'applied' || s === 'stale'),
    ).toBe(true)
    expect(statuses.channel_live).toBe('applied')
    expect(await a.deps.store.clients.get('Zq09LmT4CL')).toMatchObject({ name: 'Casa Verde Tours' })
    expect(await a.deps.store.channels.get('Pq7Wx2CH')).toMatchObject({
      lifecycle: 'live',
      templateMessaging: 'enabled',
    })
    expect(await a.deps.store.channels.get('Mn3Bv6CH')).toMatchObject({
      violation: { type: 'SCAM', restricted: true },
      templateMessaging: 'disabled',
    })
    expect((await a.deps.store.channels.get('Jk4Hg1CH'))?.lifecycle).toBe('terminated')
    const stored = await a.deps.store.events.get('id:evt_02')
    expect(stored?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 29 * 86_400)
  })

  it('answers 4xx, never 5xx, to malformed or missing headers and stores nothing', async () => {
    const a = await start()
    const body = JSON.stringify(EVENTS.channel_live)
    const cases: Record<string, string | string[]>[] = [
      {},
      { 'x-360dialog-signature': '' },
      { 'x-360dialog-signature': 'abc' },
      { 'x-360dialog-signature': 'zz'.repeat(32) },
      { 'x-360dialog-signature': 'a'.repeat(8_000) },
      { 'x-360dialog-signature': [sign(body), sign(body)] },
      { 'x-360dialog-signature': sign(body, 'retired') },
    ]
    for (const headers of cases) expect((await post(a, body, headers)).status).toBe(401)
    expect((await signed(a, 'nope')).status).toBe(400)
    expect((await signed(a, '{"event":"x"}')).status).toBe(400)
    const big = JSON.stringify({ event: 'x', data: { p: 'x'.repeat(300 * 1024) } })
    expect((await signed(a, big)).status).toBe(413)
    expect(await a.deps.store.events.get('id:evt_06')).toBeNull()
    expect(await a.deps.store.ops.getCounters('webhooks')).toEqual({ unauthorized: 7 })
  })

  it('refuses tampered deliveries (property, 60 runs over HTTP)', async () => {
    const a = await start()
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('body', 'signature', 'secret'),
        async (note, target) => {
          const body = JSON.stringify({ event: 'channel_live', data: { note } })
          const signature =
            target === 'secret'
              ? sign(body, `${SECRET}x`)
              : target === 'signature'
                ? sign(`${body}x`)
                : sign(body)
          const sent = target === 'body' ? `${body}\n` : body
          expect((await post(a, sent, { 'x-360dialog-signature': signature })).status).toBe(401)
        },
      ),
      { numRuns: 60 },
    )
    expect((await a.deps.store.ops.getCounters('webhooks')).received).toBeUndefined()
  })

  it('turns 10 sequential and 50 concurrent duplicates into one stored event and one change', async () => {
    const a = await start()
    const ready = JSON.stringify(EVENTS.channel_ready)
    const seq = []
    for (let i = 0; i < 10; i++) seq.push(await signed(a, ready))
    expect(seq.every((r) => r.status === 200)).toBe(true)
    const live = JSON.stringify(EVENTS.channel_live)
    const burst = await Promise.all(Array.from({ length: 50 }, () => signed(a, live)))
    expect(burst.every((r) => r.status === 200)).toBe(true)
    expect(burst.filter((r) => r.json.duplicate === false)).toHaveLength(1)
    await a.settle()
    expect(await a.deps.store.events.get('id:evt_04')).toMatchObject({ deliveries: 10, status: 'applied' })
    expect(await a.deps.store.events.get('id:evt_06')).toMatchObject({ deliveries: 50, status: 'applied' })
    expect(await a.deps.store.ops.getCounters('webhooks')).toMatchObject({
      received: 60,
      duplicates: 58,
      applied: 2,
    })
  })

  it('heals an event stored but never applied, by redelivery and by the sweep', async () => {
    const a = await start()
    const old = new Date(Date.now() - 120_000).toISOString()
    for (const [id, name] of [
      ['evt_06', 'channel_live'],
      ['evt_04', 'channel_ready'],
    ] as const) {
      await a.deps.store.events.putNew({
        eventKey: `id:${id}`,
        eventType: name,
        body: JSON.stringify(EVENTS[name]),
        receivedAt: old,
        status: 'pending',
        reason: null,
        appliedAt: null,
        expiresAt: Math.floor(Date.now() / 1000) + 86_400,
        deliveries: 1,
      })
    }
    const again = await signed(a, JSON.stringify(EVENTS.channel_live))
    expect(again.json).toMatchObject({ duplicate: true })
    expect((await a.deps.store.events.get('id:evt_06'))?.status).toBe('applied')
    expect((await a.deps.store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')

    expect(await a.deps.store.events.listPending(new Date().toISOString(), 10)).toHaveLength(1)
    expect(await sweepPendingEvents(a.deps)).toEqual({ swept: 1, applied: 1, failed: 0 })
    expect((await a.deps.store.events.get('id:evt_04'))?.status).toBe('applied')
    expect(await a.deps.store.events.listPending(new Date().toISOString(), 10)).toHaveLength(0)
  })

  it('replays stored events idempotently', async () => {
    const a = await start()
    for (const name of ['channel_created', 'channel_submitted', 'channel_ready']) {
      await signed(a, JSON.stringify(EVENTS[name]))
    }
    await a.settle()
    const before = await a.deps.store.channels.get('Rt5Yu8CH')
    const summary = await replayWebhooks(a.deps, { since: new Date(Date.now() - 60_000).toISOString() })
    expect(summary.scanned).toBe(3)
    expect(summary.failed).toBe(0)
    expect(await a.deps.store.channels.get('Rt5Yu8CH')).toEqual(before)
  })

  it('requires the configured webhook token', async () => {
    const a = await start({ WEBHOOK_TOKEN: 'local-token' })
    const body = JSON.stringify(EVENTS.channel_live)
    expect((await signed(a, body)).status).toBe(401)
    expect((await signed(a, body, { 'x-webhook-token': 'local-token' })).status).toBe(200)
  })

  it('stores and applies what the simulator delivers', async () => {
    const a = await start({}, true)
    const onboarded = await a.simulator?.onboard({ channels: 1 })
    const channelId = onboarded?.channels[0]?.id ?? ''
    // Bounded wait for the simulator's asynchronous delivery.
    let channel = null
    for (let i = 0; i < 100 && channel === null; i++) {
      channel = await a.deps.store.channels.get(channelId)
      if (channel === null) await new Promise((r) => setTimeout(r, 50))
    }
    expect(channel?.channelId).toBe(channelId)
    expect(a.simulator?.deliveries().every((d) => d.status === 200 || d.status === 'pending')).toBe(true)
  })
})

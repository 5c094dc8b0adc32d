import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { CSV_COLUMNS } from '../../../shared/services/export/export-channels'
import { openApiProblems } from './openapi'
import {
  CANARIES,
  CLIENT,
  call,
  captureOutput,
  expectNoCanary,
  seen,
  startCanaryApp,
  storedChannel,
} from './support'

let app: App
let restore: () => void

beforeAll(async () => {
  restore = captureOutput()
  app = await startCanaryApp()
  await app.poll()
})

afterAll(async () => {
  await app?.close()
  restore?.()
})

describe('reads over HTTP (validated against docs/openapi.yaml)', () => {
  it('pages through every channel with limit and cursor, without repeats', async () => {
    const all = await call(app, '/channels?limit=100')
    const total = (all.json['items'] as unknown[]).length
    expect(total).toBeGreaterThan(3)
    const ids: string[] = []
    let cursor: string | null = null
    for (let page = 0; page < 50; page++) {
      const res: Awaited<ReturnType<typeof call>> = await call(
        app,
        `/channels?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      expect(res.status).toBe(200)
      ids.push(...(res.json['items'] as { channelId: string }[]).map((c) => c.channelId))
      cursor = res.json['nextCursor'] as string | null
      if (cursor === null) break
    }
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toHaveLength(total)
  })

  it('answers 400 for a bad limit, cursor or filter', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'cursor=forged.cursor', 'lifecycle=nope']) {
      const res = await call(app, `/channels?${q}`)
      expect(res.status).toBe(400)
    }
    expect((await call(app, '/clients?limit=500')).status).toBe(400)
  })

  it('filters channels by client and lifecycle, and clients by status', async () => {
    const live = await call(app, `/channels?lifecycle=live&clientId=${CLIENT}`)
    expect(live.status).toBe(200)
    for (const c of live.json['items'] as { lifecycle: string; clientId: string }[]) {
      expect(c).toMatchObject({ lifecycle: 'live', clientId: CLIENT })
    }
    const active = await call(app, '/clients?status=active')
    expect((active.json['items'] as { status: string }[]).every((c) => c.status === 'active')).toBe(true)
  })

  it('serves a client with its channel summary, a channel, and 404s', async () => {
    const client = await call(app, `/clients/${CLIENT}`)
    expect(client.status).toBe(200)
    expect((client.json['channels'] as { total: number }).total).toBeGreaterThan(0)
    expect((await call(app, '/clients/Nobody00CL')).status).toBe(404)
    const ch = await storedChannel(app)
    expect((await call(app, `/channels/${ch}`)).json).toMatchObject({ channelId: ch, lifecycle: 'live' })
    expect((await call(app, '/channels/Nothing0CH')).status).toBe(404)
    expect((await call(app, `/clients/${CLIENT}/channels/${ch}/cancellation`)).status).toBe(404)
  })

  it('serves the status with the last reconciliation and webhook counts', async () => {
    const res = await call(app, '/status')
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({ reconciliation: { last: { outcome: 'succeeded' } } })
  })

  it('streams the CSV export with the contract columns, one row per channel', async () => {
    const count = (await app.deps.store.channels.countByLifecycle()) as Record<string, number>
    const total = Object.values(count).reduce((a, b) => a + b, 0)
    const res = await call(app, '/exports/channels.csv')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    const lines = res.body.split('\r\n')
    expect(lines[0]).toBe(CSV_COLUMNS.join(','))
    expect(lines.at(-1)).toBe('')
    expect(lines.length - 2).toBe(total)
    // Phone numbers start with digits here; a leading + would be neutralised with '.
    expect(res.body).not.toMatch(/(^|,)[=+\-@]/m)
  })

  it('the webhook route answers as documented', async () => {
    const body = JSON.stringify({ id: 'evt-openapi-1', event: 'unknown_thing', data: {} })
    const sig = createHmac('sha256', CANARIES.PLATFORM_SECRET).update(body).digest('hex')
    const ok = await fetch(`${app.url}/webhooks/360dialog`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-360dialog-signature': sig },
      body,
    })
    const okBody = await ok.text()
    seen.push(okBody)
    expect(ok.status).toBe(200)
    expect(
      openApiProblems('/webhooks/360dialog', 'POST', { status: 200, headers: ok.headers, body: okBody }),
    ).toEqual([])
    const bad = await fetch(`${app.url}/webhooks/360dialog`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-360dialog-signature': '00' },
      body,
    })
    const badBody = await bad.text()
    seen.push(badBody)
    expect(bad.status).toBe(401)
    expect(
      openApiProblems('/webhooks/360dialog', 'POST', { status: 401, headers: bad.headers, body: badBody }),
    ).toEqual([])
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { DEMO_CHANNEL_IDS } from '../../../local/simulator/seed'
import { CLIENT, call, captureOutput, expectNoCanary, startCanaryApp } from './support'

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

describe('signals over HTTP (validated against docs/openapi.yaml)', () => {
  it('serves quality rating, tier, billing start, integration state and business id of a channel', async () => {
    const live = await call(app, `/channels/${DEMO_CHANNEL_IDS.live}`)
    expect(live.status).toBe(200)
    expect(live.json).toMatchObject({
      lifecycle: 'live',
      qualityRating: 'GREEN',
      messagingLimit: 'TIER_1K',
      billingStartedAt: '2025-04-02T09:30:00Z',
      integrationState: 'running',
    })
    // A draft has no rating, tier or billing start upstream: served as null, never invented.
    const draft = await call(app, `/channels/${DEMO_CHANNEL_IDS.draft}`)
    expect(draft.json).toMatchObject({
      lifecycle: 'draft',
      qualityRating: null,
      messagingLimit: null,
      billingStartedAt: null,
      integrationState: 'pending',
      hubStatus: null,
      cancelledAt: null,
    })
  })

  it('follows a poll that changes the rating and tier upstream', async () => {
    const sim = app.simulator
    if (!sim) throw new Error('no simulator')
    sim.mutateChannel(DEMO_CHANNEL_IDS.live2, {
      current_quality_rating: 'YELLOW',
      current_limit: 'TIER_10K',
      waba_account: { fb_business_id: '100000000000777' },
    })
    await app.poll()
    const res = await call(app, `/channels/${DEMO_CHANNEL_IDS.live2}`)
    expect(res.json).toMatchObject({
      qualityRating: 'YELLOW',
      messagingLimit: 'TIER_10K',
      fbBusinessId: '100000000000777',
    })
  })

  it('serves a client with its contact phone and its legal name as organisation', async () => {
    const res = await call(app, `/clients/${CLIENT}`)
    expect(res.status).toBe(200)
    expect(typeof res.json['contactPhone'] === 'string' || res.json['contactPhone'] === null).toBe(true)
    const demo = await call(app, '/clients/Dm1Hq7CL')
    expect(demo.json).toMatchObject({
      name: 'Nordlicht Logistik',
      organisation: 'Nordlicht Logistik GmbH',
      contactPhone: expect.stringMatching(/^\+49/),
    })
  })

  it('filters channels by quality, tier, account mode and search, combined with AND, page by page', async () => {
    const sim = app.simulator
    if (!sim) throw new Error('no simulator')
    sim.mutateChannel(DEMO_CHANNEL_IDS.live, { current_quality_rating: 'RED' })
    await app.poll()
    const ids = async (query: string): Promise<string[]> => {
      const found: string[] = []
      let cursor: string | null = null
      for (let page = 0; page < 50; page++) {
        const res: Awaited<ReturnType<typeof call>> = await call(
          app,
          `/channels?${cursor ? `cursor=${encodeURIComponent(cursor)}&` : ''}limit=1&${query}`,
        )
        expect(res.status).toBe(200)
        found.push(...(res.json['items'] as { channelId: string }[]).map((c) => c.channelId))
        cursor = res.json['nextCursor'] as string | null
        if (cursor === null) break
      }
      return found.sort()
    }
    expect(await ids('quality=RED')).toEqual([DEMO_CHANNEL_IDS.live])
    expect(await ids('quality=RED&clientId=Dm1Hq7CL&accountMode=live')).toEqual([DEMO_CHANNEL_IDS.live])
    expect(await ids('quality=RED&accountMode=sandbox')).toEqual([])
    const green = await ids('quality=GREEN')
    expect(green.length).toBeGreaterThan(0)
    expect(green).not.toContain(DEMO_CHANNEL_IDS.live)
    expect(await ids('messagingLimit=TIER_10K')).toEqual([DEMO_CHANNEL_IDS.live2])
    // The demo number 4940700004, with and without +, spaced as people write it.
    expect(await ids(`q=${encodeURIComponent('+49 40 700004')}`)).toEqual([DEMO_CHANNEL_IDS.live])
    expect(await ids('q=4940700004')).toEqual([DEMO_CHANNEL_IDS.live])
    // Display and company name (case-insensitive), and the company's partner payload.
    const nordlicht = await ids('q=nordlicht')
    expect(nordlicht).toContain(DEMO_CHANNEL_IDS.live)
    expect(await ids('q=NORDLICHT&quality=RED')).toEqual([DEMO_CHANNEL_IDS.live])
    expect(await ids('q=tenant%3A101&lifecycle=live')).toEqual([DEMO_CHANNEL_IDS.live])
  })

  it('searches clients by name, organisation, contact email and payload', async () => {
    const ids = async (query: string): Promise<string[]> => {
      const res = await call(app, `/clients?${query}`)
      expect(res.status).toBe(200)
      return (res.json['items'] as { clientId: string }[]).map((c) => c.clientId).sort()
    }
    expect(await ids('q=nordlicht%20logistik%20gmbh')).toEqual(['Dm1Hq7CL'])
    expect(await ids('q=gmbh')).toContain('Dm1Hq7CL')
    expect(await ids('q=ops%40dm2vx3cl')).toEqual(['Dm2Vx3CL'])
    expect(await ids('q=tenant%3A101&status=active')).toEqual(['Dm1Hq7CL'])
    expect(await ids('q=no-such-client')).toEqual([])
  })

  it('answers 400 naming an unknown parameter or filter value, and reads nothing', async () => {
    for (const [query, name] of [
      ['quality=PURPLE', 'quality'],
      ['colour=red', 'colour'],
      ['messagingLimit=many', 'messagingLimit'],
      ['accountMode=test', 'accountMode'],
      ['health=fine', 'health'],
      ['lifecycle=live&lifecycle=draft', 'lifecycle'],
    ] as const) {
      const res = await call(app, `/channels?${query}`)
      expect(res.status).toBe(400)
      expect(res.json).toMatchObject({
        error: { code: 'invalid_query', message: expect.stringContaining(name) },
      })
    }
    const clients = await call(app, '/clients?quality=RED')
    expect(clients.status).toBe(400)
    expect((clients.json['error'] as { message: string }).message).toContain('quality')
    expect((await call(app, '/status?x=1')).status).toBe(400)
  })

  it('counts channels by quality rating in GET /status', async () => {
    const res = await call(app, '/status')
    expect(res.status).toBe(200)
    const channels = res.json['channels'] as {
      total: number
      byQuality: Record<'GREEN' | 'YELLOW' | 'RED' | 'UNKNOWN' | 'unrated', number>
    }
    for (const rating of ['GREEN', 'YELLOW', 'RED', 'UNKNOWN'] as const) {
      const listed = await call(app, `/channels?quality=${rating}&limit=100`)
      expect(channels.byQuality[rating]).toBe((listed.json['items'] as unknown[]).length)
    }
    expect(channels.byQuality.RED).toBeGreaterThan(0)
    expect(channels.byQuality.GREEN).toBeGreaterThan(0)
    expect(Object.values(channels.byQuality).reduce((a, b) => a + b, 0)).toBe(channels.total)
  })

  it('exports the legal name as company_name and the three signal columns after the fixed ones', async () => {
    const res = await call(app, '/exports/channels.csv')
    expect(res.status).toBe(200)
    const [header, ...rows] = res.body.split('\r\n')
    const columns = (header ?? '').split(',')
    expect(columns.slice(13)).toEqual(['quality_rating', 'messaging_limit', 'billing_started_at'])
    expect(columns.slice(0, 2)).toEqual(['client_id', 'company_name'])
    const live = rows.find((r) => r.includes('4940700004'))?.split(',') ?? []
    expect(live[0]).toBe('Dm1Hq7CL')
    expect(live[1]).toBe('Nordlicht Logistik GmbH')
    expect(live.slice(13)).toEqual(['RED', 'TIER_1K', '2025-04-02T09:30:00Z'])
    const draft = rows.find((r) => r.includes('4940700001'))?.split(',') ?? []
    expect(draft.slice(13)).toEqual(['', '', ''])
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

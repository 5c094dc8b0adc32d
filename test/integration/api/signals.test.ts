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

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

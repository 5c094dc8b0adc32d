import { createHmac } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { type App, startApp } from '../../../local/app'
import { DEMO_CHANNEL_IDS } from '../../../local/simulator/seed'

const SECRET = 'quality-events-secret'
let app: App | null = null
let dir: string | null = null

afterEach(async () => {
  await app?.close()
  app = null
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = null
})

interface Line {
  source: string
  'detail-type': string
  detail: Record<string, unknown>
}

/** The change events the local runner appended to DATA_DIR/events.jsonl. */
const lines = (): Line[] => {
  try {
    return readFileSync(join(dir as string, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Line)
  } catch {
    return []
  }
}
const ofType = (type: string, channelId: string): Line[] =>
  lines().filter((l) => l['detail-type'] === type && l.detail['channelId'] === channelId)

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((ok) => setTimeout(ok, 25))
  if (!cond()) throw new Error(`timed out waiting for ${what}`)
}

async function start(autoAdvanceMs = 0): Promise<App> {
  dir = mkdtempSync(join(tmpdir(), 'partnerops-quality-'))
  app = await startApp({
    dataDir: dir,
    pollIntervalSeconds: null,
    env: { PLATFORM_SECRET: SECRET },
    simulator: { deliverWebhooks: false, autoAdvanceMs, variance: 'off' },
  })
  await app.poll()
  await app.settle()
  return app
}

async function postWebhook(a: App, body: object): Promise<number> {
  const raw = JSON.stringify(body)
  const res = await fetch(`${a.url}/webhooks/360dialog`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-360dialog-signature': createHmac('sha256', SECRET).update(raw).digest('hex'),
    },
    body: raw,
  })
  await res.text()
  return res.status
}

describe('quality and messaging limit change events in events.jsonl', () => {
  it('publishes Channel Quality Changed and Messaging Limit Changed once, from a poll, with the bus shape', async () => {
    const a = await start()
    const id = DEMO_CHANNEL_IDS.live
    // The first poll stored the rating: its first appearance is no change event.
    expect(ofType('Channel Quality Changed', id)).toEqual([])
    a.simulator?.mutateChannel(id, { current_quality_rating: 'RED', current_limit: 'TIER_10K' })
    await a.poll()
    await until(() => ofType('Channel Messaging Limit Changed', id).length > 0, 'the limit event')
    const [quality] = ofType('Channel Quality Changed', id)
    expect(quality).toMatchObject({
      source: 'partnerops',
      'detail-type': 'Channel Quality Changed',
      detail: { clientId: 'Dm1Hq7CL', channelId: id, from: 'GREEN', to: 'RED', source: 'poll' },
    })
    expect(quality?.detail['eventId']).toMatch(/^[0-9a-f]{8}-/)
    expect(Date.parse(String(quality?.detail['at']))).not.toBeNaN()
    expect(ofType('Channel Messaging Limit Changed', id)[0]?.detail).toMatchObject({
      from: 'TIER_1K',
      to: 'TIER_10K',
      source: 'poll',
    })
    // The same fact polled again publishes nothing.
    const before = lines().length
    await a.poll()
    await a.settle()
    expect(lines().length).toBe(before)
  })

  it('publishes a webhook quality and limit change once, however often it is delivered', async () => {
    const a = await start()
    const channel = a.simulator?.mutateChannel(DEMO_CHANNEL_IDS.live2, {
      current_quality_rating: 'YELLOW',
      current_limit: 'TIER_10K',
    })
    const body = { id: 'evt-quality-1', event: 'channel_live', data: channel }
    expect(await postWebhook(a, body)).toBe(200)
    await until(() => ofType('Channel Quality Changed', DEMO_CHANNEL_IDS.live2).length > 0, 'the event')
    expect(await postWebhook(a, body)).toBe(200)
    // The same body under another id (a sender that re-sends with a fresh id) is the same fact too.
    expect(await postWebhook(a, { ...body, id: 'evt-quality-2' })).toBe(200)
    await a.settle()
    await a.poll()
    await a.settle()
    const events = ofType('Channel Quality Changed', DEMO_CHANNEL_IDS.live2)
    expect(events).toHaveLength(1)
    expect(events[0]?.detail).toMatchObject({ from: 'GREEN', to: 'YELLOW', source: 'webhook' })
    const limits = ofType('Channel Messaging Limit Changed', DEMO_CHANNEL_IDS.live2)
    expect(limits).toHaveLength(1)
    expect(limits[0]?.detail).toMatchObject({ from: 'TIER_1K', to: 'TIER_10K', source: 'webhook' })
  })

  it('shows a Channel Quality Changed from the demo timer (sped up) after the next reconciliation', async () => {
    // As `npm start` runs, with the 20 s demo step shortened to 30 ms: within a few steps a live
    // channel's rating drops upstream, and the next poll publishes the change.
    const a = await start(30)
    for (
      let round = 0;
      round < 40 && lines().every((l) => l['detail-type'] !== 'Channel Quality Changed');
      round++
    ) {
      await new Promise((ok) => setTimeout(ok, 100))
      await a.poll()
      await a.settle()
    }
    const quality = lines().filter((l) => l['detail-type'] === 'Channel Quality Changed')
    expect(quality.length).toBeGreaterThan(0)
    expect(quality[0]?.detail).toMatchObject({
      source: 'poll',
      to: expect.stringMatching(/^(GREEN|YELLOW|RED)$/),
    })
  })
})

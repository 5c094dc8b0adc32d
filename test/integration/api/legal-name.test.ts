import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { CANARIES, call, captureOutput, expectNoCanary, startCanaryApp } from './support'

// GET /channels?q= finds a channel by its company name, which is the client's legal name
// (`organisation`, else `name`), as the CSV's company_name: upstream channel bodies carry only the
// client's `name`, so the legal name comes from the client's writes (shared/services/state/legal-name.ts).

let app: App
let restore: () => void

beforeAll(async () => {
  restore = captureOutput()
  app = await startCanaryApp({}, { simulator: { deliverWebhooks: false } })
  await app.poll()
  await app.settle()
})

afterAll(async () => {
  await app?.close()
  restore?.()
})

const NORDLICHT = 'Dm1Hq7CL'
const AURORA = 'Dm2Vx3CL'

/** Every channel id a query finds, walking every page of 2. */
async function found(query: string): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const res: Awaited<ReturnType<typeof call>> = await call(
      app,
      `/channels?limit=2&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
    expect(res.status).toBe(200)
    ids.push(...(res.json['items'] as { channelId: string }[]).map((c) => c.channelId))
    cursor = res.json['nextCursor'] as string | null
    if (cursor === null) return ids.sort()
  }
  throw new Error('pagination did not end')
}

const q = (text: string): Promise<string[]> => found(`q=${encodeURIComponent(text)}`)
const ofClient = (clientId: string): Promise<string[]> => found(`clientId=${clientId}`)

/** The CSV export's company_name per channel id (the legal name, by definition). */
async function csvCompanyNames(): Promise<Map<string, string>> {
  const res = await call(app, '/exports/channels.csv')
  expect(res.status).toBe(200)
  const byPhone = new Map<string, string>()
  for (const row of res.body.split('\r\n').slice(1)) {
    const [, company, phone] = row.split(',')
    if (phone) byPhone.set(phone, company ?? '')
  }
  const names = new Map<string, string>()
  for (const clientId of [NORDLICHT, AURORA]) {
    for (const id of await ofClient(clientId)) {
      const channel = (await call(app, `/channels/${id}`)).json
      names.set(id, byPhone.get(String(channel['phoneNumber'])) ?? '')
    }
  }
  return names
}

async function postClientWebhook(client: Record<string, unknown>, id: string): Promise<void> {
  const raw = JSON.stringify({ id, event: 'client_created', data: client })
  const res = await fetch(`${app.url}/webhooks/360dialog`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-360dialog-signature': createHmac('sha256', CANARIES.PLATFORM_SECRET).update(raw).digest('hex'),
    },
    body: raw,
  })
  expect(res.status).toBe(200)
  await res.text()
  await app.settle()
}

describe('GET /channels?q= finds the company name as the legal name (validated against docs/openapi.yaml)', () => {
  it("finds a client's channels by its organisation, which no channel body carries", async () => {
    const nordlicht = await ofClient(NORDLICHT)
    expect(nordlicht.length).toBeGreaterThan(2)
    // "Nordlicht Logistik GmbH" is the organisation; the channels' bodies say "Nordlicht Logistik".
    const channel = (await call(app, `/channels/${nordlicht[0]}`)).json
    expect(JSON.stringify(channel)).not.toContain('GmbH')
    expect(await q('logistik gmbh')).toEqual(nordlicht)
    expect(await q('LOGISTIK GMBH')).toEqual(nordlicht)
    expect(await found('q=logistik%20gmbh&lifecycle=live')).toEqual(
      await found(`clientId=${NORDLICHT}&lifecycle=live`),
    )
    expect(await q('pizzeria aurora s.r.l.')).toEqual(await ofClient(AURORA))
    // The legal name is not served on the channel (the client carries it).
    expect(channel).not.toHaveProperty('clientOrganisation')
  })

  it("finds what the CSV export calls each channel's company_name", async () => {
    const names = await csvCompanyNames()
    expect([...names.values()]).toContain('Nordlicht Logistik GmbH')
    for (const [id, company] of names) {
      expect(company, id).not.toBe('')
      expect(await q(company), company).toContain(id)
    }
  })

  it("follows the client's organisation when it changes upstream (the next run)", async () => {
    const aurora = await ofClient(AURORA)
    app.simulator?.mutateClient(AURORA, { organisation: 'Aurora Ristorazione S.p.A.' })
    await app.poll()
    await app.settle()
    expect(await q('ristorazione')).toEqual(aurora)
    expect(await q('pizzeria aurora s.r.l.')).toEqual([])
    // The client's name is still the company name its channel bodies carry.
    expect(await q('pizzeria aurora')).toEqual(aurora)
  })

  it('gives a channel created after its client the legal name', async () => {
    const added = app.simulator?.addChannel({ client_id: AURORA })
    if (!added) throw new Error('no simulator')
    await app.poll()
    await app.settle()
    expect(await q('ristorazione')).toContain(added.id)
    expect(await q('ristorazione')).toEqual(await ofClient(AURORA))
  })

  it('keeps the newest legal name when an older client fact arrives later by webhook', async () => {
    const sim = app.simulator
    if (!sim) throw new Error('no simulator')
    const aurora = await ofClient(AURORA)
    // A webhook with the client as it is now, renamed, and newer than anything stored ...
    const now = sim.mutateClient(AURORA, { organisation: 'Aurora Gastronomia S.r.l.' })
    await postClientWebhook({ ...now }, 'evt-legal-new')
    expect(await q('gastronomia')).toEqual(aurora)
    // ... then a late delivery of an older fact with the previous organisation: ignored.
    await postClientWebhook(
      { ...now, organisation: 'Aurora Ristorazione S.p.A.', modified_at: '2025-05-05T10:00:00Z' },
      'evt-legal-old',
    )
    expect(await q('ristorazione')).toEqual([])
    expect(await q('gastronomia')).toEqual(aurora)
    const client = await call(app, `/clients/${AURORA}`)
    expect(client.json['organisation']).toBe('Aurora Gastronomia S.r.l.')
  })

  it('finds a client without an organisation by its name', async () => {
    const sim = app.simulator
    if (!sim) throw new Error('no simulator')
    // Upstream documents no guarantee of `organisation` (docs/partner-api-notes.md §3): this one has none.
    const client = sim.addClient({
      id: 'Kiosk1CL',
      name: 'Kiosk am Hafen',
      organisation: null as unknown as string,
    })
    const channel = sim.addChannel({ client_id: client.id })
    await app.poll()
    await app.settle()
    expect(await q('kiosk am hafen')).toEqual([channel.id])
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

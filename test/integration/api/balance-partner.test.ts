import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { CALLBACK_PATH, WEBHOOK_PATH } from '../../../shared/http/routes'
import {
  CANARIES,
  CLIENT,
  call,
  captureOutput,
  expectNoCanary,
  OTHER_CLIENT,
  startCanaryApp,
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

/** Upstream balance calls the simulator received for one client. */
function balanceCalls(clientId: string): number {
  return (app.simulator?.requests() ?? []).filter(
    (r) => r.method === 'GET' && r.path.endsWith(`/clients/${clientId}/info/balance`),
  ).length
}

/** Calls the simulator's Partner API directly, as someone else holding the partner key would. */
async function upstream(path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const sim = app.simulator
  if (!sim) throw new Error('no simulator')
  return fetch(`${sim.baseUrl}/partners/${sim.partnerId}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'x-api-key': CANARIES.PARTNER_API_KEY, 'content-type': 'application/json' },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  })
}

describe('GET /clients/{clientId}/balance over HTTP (validated against docs/openapi.yaml)', () => {
  it('answers the balance from the Partner API, then from the cache for 30 seconds', async () => {
    const first = await call(app, `/clients/${CLIENT}/balance`)
    expect(first.status).toBe(200)
    expect(first.json).toMatchObject({ clientId: CLIENT, currency: 'USD' })
    expect(typeof first.json['balance']).toBe('number')
    expect(first.json['lastRenewal']).toMatchObject({ amount: 50 })
    const again = await call(app, `/clients/${CLIENT}/balance`)
    expect(again.json).toEqual(first.json)
    expect(balanceCalls(CLIENT)).toBe(1)
  })

  it('makes one upstream call for 50 concurrent callers', async () => {
    const before = balanceCalls(OTHER_CLIENT)
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => call(app, `/clients/${OTHER_CLIENT}/balance`)),
    )
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200))
    expect(new Set(answers.map((a) => a.body)).size).toBe(1)
    expect(balanceCalls(OTHER_CLIENT) - before).toBe(1)
  })

  it('answers 404 for a client not in state, 400 for a malformed id or any query parameter, sending nothing', async () => {
    const before = (app.simulator?.requests() ?? []).length
    const unknown = await call(app, '/clients/Nope00CL/balance')
    expect(unknown.status).toBe(404)
    expect(unknown.json).toMatchObject({ error: { code: 'client_not_found' } })
    expect((await call(app, '/clients/bad.id!/balance')).status).toBe(400)
    const query = await call(app, `/clients/${CLIENT}/balance?granularity=DAY`)
    expect(query.status).toBe(400)
    expect(query.json).toMatchObject({
      error: { code: 'invalid_query', message: expect.stringContaining('granularity') },
    })
    expect((app.simulator?.requests() ?? []).length).toBe(before)
  })

  it('turns the documented upstream limit (5 per 30 s, then 429) into 503 with Retry-After for the whole window', async () => {
    // A client someone else's tool has already polled five times in this window.
    const busy = app.simulator?.addClient({ id: 'Busy01CL', name: 'Busy' })
    expect(busy?.id).toBe('Busy01CL')
    await app.poll()
    for (let i = 0; i < 5; i++) expect((await upstream('/clients/Busy01CL/info/balance')).status).toBe(200)
    const sixth = await upstream('/clients/Busy01CL/info/balance')
    expect(sixth.status).toBe(429)
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0)

    const limited = await call(app, '/clients/Busy01CL/balance')
    expect(limited.status).toBe(503)
    expect(limited.json).toMatchObject({ error: { code: 'upstream_rate_limited' } })
    const retryAfter = Number(limited.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(30)
    // The next caller in the window gets the same answer without a second upstream call.
    const calls = balanceCalls('Busy01CL')
    expect((await call(app, '/clients/Busy01CL/balance')).status).toBe(503)
    expect(balanceCalls('Busy01CL')).toBe(calls)
  })
})

describe('GET /partner and the drift check of every run', () => {
  it("shows 360dialog's URLs against this deployment's, refreshed by each run", async () => {
    const res = await call(app, '/partner')
    expect(res.status).toBe(200)
    expect(res.json).toMatchObject({
      partnerId: app.simulator?.partnerId,
      webhookUrl: { expected: `${app.url}${WEBHOOK_PATH}`, actual: `${app.url}${WEBHOOK_PATH}`, ok: true },
      redirectUrl: { expected: `${app.url}${CALLBACK_PATH}`, actual: `${app.url}${CALLBACK_PATH}`, ok: true },
    })
    const status = await call(app, '/status')
    expect(status.json['partnerSettings']).toMatchObject({ ok: true, checkedAt: res.json['checkedAt'] })
  })

  it('notices a webhook URL changed by hand within one run: warning, status and GET /partner', async () => {
    const changed = await upstream('', {
      method: 'PATCH',
      body: { webhook_url: 'https://elsewhere.example.com/hook' },
    })
    expect(changed.status).toBe(200)
    const before = (await call(app, '/partner')).json['checkedAt'] as string
    await app.poll()
    const partner = await call(app, '/partner')
    expect(partner.json['webhookUrl']).toEqual({
      expected: `${app.url}${WEBHOOK_PATH}`,
      actual: 'https://elsewhere.example.com/hook',
      ok: false,
    })
    expect((partner.json['redirectUrl'] as { ok: boolean }).ok).toBe(true)
    expect(Date.parse(partner.json['checkedAt'] as string)).toBeGreaterThanOrEqual(Date.parse(before))
    const status = await call(app, '/status')
    const last = (status.json['reconciliation'] as { last: { warnings: string[] } }).last
    expect(last.warnings).toContain('partner_settings_drift')
    expect(status.json['partnerSettings']).toMatchObject({
      ok: false,
      webhookUrlOk: false,
      redirectUrlOk: true,
    })

    // Set back (what npm run register-webhook does), the next run is clean again.
    await upstream('', { method: 'PATCH', body: { webhook_url: `${app.url}${WEBHOOK_PATH}` } })
    await app.poll()
    const clean = await call(app, '/status')
    expect((clean.json['reconciliation'] as { last: { warnings: string[] } }).last.warnings).not.toContain(
      'partner_settings_drift',
    )
    expect((await call(app, '/partner')).json['webhookUrl']).toMatchObject({ ok: true })
  })

  it('answers 400 naming a query parameter, asking nothing upstream', async () => {
    const before = (app.simulator?.requests() ?? []).length
    const res = await call(app, '/partner?refresh=1')
    expect(res.status).toBe(400)
    expect(res.json).toMatchObject({
      error: { code: 'invalid_query', message: expect.stringContaining('refresh') },
    })
    expect((app.simulator?.requests() ?? []).length).toBe(before)
  })

  it('never shows a secret', () => {
    expectNoCanary()
  })
})

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { createPartnerApiClient } from '../../../shared/adapters/partner-api/client'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import { UpstreamError } from '../../../shared/domain/errors'
import { loadConfig } from '../../../shared/env'
import { getBalance } from '../../../shared/services/balance/get-balance'
import { getPartnerSettings } from '../../../shared/services/partner/partner-settings'
import { applyClient } from '../../../shared/services/state/apply-upstream'
import { createAppDeps } from '../../../shared/wiring'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { fakeFetch, json } from '../adapters/partner-api/fake-upstream'

/**
 * The real balance and partner bodies of the corpus (test/fixtures/real/) through the real Partner
 * API client (an answer of the fake upstream is the body as received), its schemas and the services
 * behind `GET /clients/{id}/balance` and `GET /partner`: each is served as the view its fields say, or
 * refused as an invalid upstream response (never misread). The OpenAPI examples of both routes are
 * the views of these real bodies.
 */

const DIR = join(__dirname, '..', '..', 'fixtures', 'real')
const corpus = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => {
    const doc = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { kind: string; body: unknown }
    return { file, kind: doc.kind, body: doc.body }
  })

const openapi = parse(readFileSync(join(__dirname, '..', '..', '..', 'docs', 'openapi.yaml'), 'utf8')) as {
  paths: Record<
    string,
    { get: { responses: { 200: { content: { 'application/json': { example: unknown } } } } } }
  >
}
const exampleOf = (path: string): Record<string, unknown> =>
  openapi.paths[path]?.get.responses[200].content['application/json'].example as Record<string, unknown>

/** The balance view each real body gives (null: refused as an invalid upstream response). */
const BALANCE: Record<string, object | null> = {
  'balance-dotnet-client-balance.json': {
    balance: 42.5,
    currency: 'EUR',
    lastRenewal: { date: '2023-03-01T00:00:00Z', amount: 50 },
  },
  'balance-vueui-no-renewal.json': { balance: 0, currency: 'USD', lastRenewal: null },
  // The partner-level balance (another endpoint, a bare array) is not a client balance.
  'balance-vozko-partner-balance.json': null,
}

const CLIENT = 'Kd82nQ1zCL'
const WEBHOOK = 'https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com/v1/webhooks/360dialog'
const CALLBACK = 'https://a1b2c3d4e5.execute-api.eu-central-1.amazonaws.com/v1/onboarding/callback'

/** The services over the real client, whose every upstream answer is `body`. */
async function over(body: unknown) {
  const upstream = fakeFetch(() => json(200, body))
  const clock = new FakeClock('2026-11-21T09:00:00.412Z')
  const config = loadConfig({
    PARTNER_ID: 'Pq7RsTPA',
    SECRETS_SOURCE: 'env',
    WEBHOOK_URL: WEBHOOK,
    ONBOARDING_CALLBACK_URL: CALLBACK,
  })
  const partnerApi = createPartnerApiClient({
    baseUrl: 'https://hub.example.test/api/v2',
    partnerId: 'Pq7RsTPA',
    auth: 'api_key',
    secrets: createEnvSecretSource({ partnerApi: 'key' }),
    fetch: upstream.fetch,
  })
  const store = new MemoryStore()
  const deps = createAppDeps(config, 'conformance', {
    store,
    partnerApi,
    clock,
    events: createMemoryEventSink(),
  })
  await applyClient(deps, { id: CLIENT, name: 'Acme' }, { source: 'poll', kind: 'snapshot' })
  return { deps, requests: upstream.requests }
}

describe('real balance bodies through the client, the schema and GET /clients/{id}/balance', () => {
  const balances = corpus.filter((c) => c.kind === 'balance')

  it('knows what every balance body of the corpus must give', () => {
    expect(balances.map((c) => c.file).sort()).toEqual(Object.keys(BALANCE).sort())
  })

  it.each(balances.map((c) => [c.file, c.body] as const))('%s', async (file, body) => {
    const { deps, requests } = await over(body)
    const expected = BALANCE[file]
    if (expected === null || expected === undefined) {
      const err = await getBalance(deps, CLIENT).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(UpstreamError)
      expect((err as UpstreamError).code).toBe('upstream_invalid_response')
    } else {
      expect(await getBalance(deps, CLIENT)).toEqual({
        clientId: CLIENT,
        ...expected,
        fetchedAt: '2026-11-21T09:00:00.412Z',
      })
    }
    expect(requests).toHaveLength(1)
    expect(requests[0]?.url.pathname).toBe(`/api/v2/partners/Pq7RsTPA/clients/${CLIENT}/info/balance`)
  })

  it("has the OpenAPI example be the dotnet body's view", async () => {
    const { deps } = await over(corpus.find((c) => c.file === 'balance-dotnet-client-balance.json')?.body)
    expect(exampleOf('/clients/{clientId}/balance')).toEqual(await getBalance(deps, CLIENT))
  })
})

describe('real partner bodies through the client, the schema and GET /partner', () => {
  it('reads the partner info body of a public client and compares both URLs', async () => {
    const body = corpus.find((c) => c.file === 'partner-dotnet-public-data.json')?.body
    const { deps } = await over(body)
    const view = await getPartnerSettings(deps)
    expect(view).toEqual({
      partnerId: 'Pq7RsTPA',
      webhookUrl: { expected: WEBHOOK, actual: 'https://partner.example.com/360/webhook', ok: false },
      redirectUrl: { expected: CALLBACK, actual: 'https://partner.example.com/360/callback', ok: false },
      checkedAt: '2026-11-21T09:00:00.412Z',
    })
    // The OpenAPI example shows the same partner with the redirect URL already registered.
    const example = exampleOf('/partner')
    expect(example['partnerId']).toBe(view.partnerId)
    expect(example['webhookUrl']).toEqual(view.webhookUrl)
    expect((example['redirectUrl'] as { expected: string }).expected).toBe(CALLBACK)
  })
})

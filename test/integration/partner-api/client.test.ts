import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type Simulator, startSimulator } from '../../../local/simulator/server'
import {
  createPartnerApiClient,
  type PartnerApiClientOptions,
} from '../../../shared/adapters/partner-api/client'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import { UpstreamError } from '../../../shared/domain/errors'
import type { PartnerApi } from '../../../shared/ports'

const API_KEY = 'local-partner-api-key'
const BEARER_SECRET = JSON.stringify({ username: 'demo@partnerops.local', password: 'local-password' })

describe('Partner API client against the simulator', () => {
  let sim: Simulator

  beforeEach(async () => {
    sim = await startSimulator({ seed: 'empty', deliverWebhooks: false })
  })
  afterEach(async () => {
    await sim.close()
  })

  const client = (overrides: Partial<PartnerApiClientOptions> = {}, secret = API_KEY): PartnerApi =>
    createPartnerApiClient({
      baseUrl: sim.baseUrl,
      partnerId: sim.partnerId,
      auth: 'api_key',
      secrets: createEnvSecretSource({ partnerApi: secret }),
      baseDelayMs: 5,
      maxDelayMs: 20,
      ...overrides,
    })

  async function allChannelIds(api: PartnerApi, concurrency: number): Promise<string[]> {
    const ids: string[] = []
    for await (const page of api.iterateChannels({ limit: 100, concurrency }))
      ids.push(...page.map((c) => c.id))
    return ids
  }

  it.each([1, 4])('lists every generated channel exactly once (concurrency %i)', async (concurrency) => {
    sim.generate({ clients: 40, channels: 1_234 })
    const api = client()
    const ids = await allChannelIds(api, concurrency)
    expect(ids).toHaveLength(1_234)
    expect(new Set(ids).size).toBe(1_234)
    expect(api.stats()).toEqual({ calls: 13, retries: 0 })
    const clients: string[] = []
    for await (const page of api.iterateClients({ limit: 7 })) clients.push(...page.map((c) => c.id))
    expect(new Set(clients).size).toBe(40)
  })

  it('walks correctly when the server caps the page size', async () => {
    await sim.close()
    sim = await startSimulator({ seed: 'empty', deliverWebhooks: false, maxPageSize: 30 })
    sim.generate({ clients: 5, channels: 250 })
    const api = client()
    const ids = await allChannelIds(api, 3)
    expect(new Set(ids).size).toBe(250)
    expect(api.stats().calls).toBe(Math.ceil(250 / 30))
  })

  it('authenticates with a Bearer token and reuses it', async () => {
    sim.generate({ clients: 3, channels: 10 })
    const api = client({ auth: 'bearer' }, BEARER_SECRET)
    await expect(api.getPartner()).resolves.toMatchObject({ id: sim.partnerId })
    expect(await allChannelIds(api, 2)).toHaveLength(10)
    const tokenCalls = sim.requests().filter((r) => r.path.endsWith('/token'))
    expect(tokenCalls).toHaveLength(1)
    expect(tokenCalls[0]?.status).toBe(200)
  })

  it('rejects wrong credentials in both modes with the credentials-refused UpstreamError', async () => {
    await expect(client({}, 'wrong-key').getPartner()).rejects.toMatchObject({
      code: 'upstream_unauthorized',
      upstreamStatus: 401,
      retryable: false,
    })
    const badBearer = JSON.stringify({ username: 'demo@partnerops.local', password: 'nope' })
    const err = await client({ auth: 'bearer' }, badBearer)
      .getPartner()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamError)
    expect((err as Error).message).not.toContain('nope')
  })

  it('finds one channel and one client through the id filter', async () => {
    sim.generate({ clients: 2, channels: 6 })
    const api = client()
    const page = await api.listChannels({ limit: 2, sort: ['-created_at'] })
    const target = page.items[1]!
    await expect(api.findChannel(target.id)).resolves.toMatchObject({
      id: target.id,
      client_id: target.client_id,
    })
    await expect(api.findClient(target.client_id)).resolves.toMatchObject({ id: target.client_id })
    await expect(api.findChannel('NoSuchCH')).resolves.toBeNull()
  })

  it('bounds the attempts during a 503 storm', async () => {
    sim.setFaults({ errorRate: 1 })
    const api = client({ maxAttempts: 3 })
    const err = (await api.getPartner().catch((e: unknown) => e)) as UpstreamError
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err.upstreamStatus).toBe(503)
    expect(err.retryable).toBe(true)
    expect(sim.requests()).toHaveLength(3)
    expect(api.stats()).toEqual({ calls: 3, retries: 2 })
  })

  it('waits as long as Retry-After asks on a 429, then succeeds', async () => {
    sim.setFaults({ rateLimitPerMinute: 2 })
    const waits: number[] = []
    const api = client({
      budgetMs: 120_000,
      // The wait is recorded, and the simulator's window is reset instead of really waiting a minute.
      sleep: async (ms) => {
        waits.push(ms)
        sim.setFaults({})
      },
    })
    await api.getPartner()
    await api.getPartner()
    await expect(api.getPartner()).resolves.toMatchObject({ id: sim.partnerId })
    expect(waits).toHaveLength(1)
    expect(waits[0]).toBeGreaterThanOrEqual(1_000)
    expect(waits[0]! % 1_000).toBe(0)
    expect(sim.requests().map((r) => r.status)).toEqual([200, 200, 429, 200])
  })

  it('requests and revokes a cancellation on the client-scoped path', async () => {
    sim.generate({ clients: 1, channels: 3 })
    const api = client()
    const { items } = await api.listChannels({ filters: { terminated_at: null }, limit: 1 })
    const ch = items[0]!
    const cancelled = await api.requestCancellation(ch.client_id, ch.id)
    expect(cancelled.terminated_at).toEqual(expect.any(String))
    const revoked = await api.revokeCancellation(ch.client_id, ch.id)
    expect(revoked.terminated_at ?? null).toBeNull()
    const calls = sim.requests().filter((r) => r.method === 'POST')
    expect(calls.map((r) => r.path)).toEqual([
      `/api/v2/partners/${sim.partnerId}/clients/${ch.client_id}/channels/${ch.id}/control/cancellation_request`,
      `/api/v2/partners/${sim.partnerId}/clients/${ch.client_id}/channels/${ch.id}/control/cancellation_request`,
    ])
    const again = (await api
      .revokeCancellation(ch.client_id, ch.id)
      .catch((e: unknown) => e)) as UpstreamError
    expect(again.upstreamStatus).toBe(400)
    expect(again.upstreamMessage).toBe('Wrong payload')
    expect(again.retryable).toBe(false)
  })

  it('never retries a cancellation whose connection dropped after the server committed it', async () => {
    sim.generate({ clients: 1, channels: 2 })
    const api = client()
    const { items } = await api.listChannels({ filters: { terminated_at: null }, limit: 1 })
    const ch = items[0]!
    sim.setFaults({ dropAfterCommitRate: 1 })
    const err = (await api.requestCancellation(ch.client_id, ch.id).catch((e: unknown) => e)) as UpstreamError
    expect(err.code).toBe('upstream_ambiguous')
    expect(err.retryable).toBe(true)
    expect(sim.requests().filter((r) => r.method === 'POST')).toHaveLength(1)
    sim.setFaults({})
    await expect(api.findChannel(ch.id)).resolves.toMatchObject({ terminated_at: expect.any(String) })
  })

  it('sets and reads the partner webhook URL', async () => {
    const api = client()
    await api.setWebhookUrl('https://example.test/webhooks/360dialog', { 'x-webhook-token': 't' })
    await expect(api.getWebhookUrl()).resolves.toBe('https://example.test/webhooks/360dialog')
  })
})

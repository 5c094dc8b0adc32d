import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../local/app'
import {
  AuthError,
  BadRequestError,
  ConflictError,
  IdempotencyKeyReusedError,
  LOCAL_CREDENTIALS,
  NotFoundError,
  PartnerOpsClient,
} from '../src/index'
import { liveChannel, recordingFetch, SEED_CLIENT, startLocalRunner } from './support'

// The library against the real local runner: real HTTP, SigV4 verified by the local server, the
// same handlers and adapters as Lambda, and every JSON answer checked against docs/openapi.yaml.

let app: App
const recorder = recordingFetch()
let client: PartnerOpsClient

beforeAll(async () => {
  app = await startLocalRunner()
  client = new PartnerOpsClient({ endpoint: app.url, credentials: LOCAL_CREDENTIALS, fetch: recorder.fetch })
})

afterAll(async () => {
  await app?.close()
})

describe('PartnerOpsClient against the local runner', () => {
  it('iterates every channel across pages with for await, as one big page lists them', async () => {
    const onePage = await client.channels.list({ limit: 100 }).page()
    expect(onePage.nextCursor).toBeNull()
    let pages = 0
    for await (const _ of client.channels.list({ limit: 2 }).pages()) pages++
    const ids: string[] = []
    for await (const ch of client.channels.list({ limit: 2 })) ids.push(ch.channelId)
    expect(pages).toBeGreaterThan(1)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.sort()).toEqual(onePage.items.map((c) => c.channelId).sort())
  })

  it('signs filters and the cursor in any order (the page after the first verifies too)', async () => {
    await liveChannel(app)
    await liveChannel(app)
    const live: string[] = []
    for await (const ch of client.channels.list({ limit: 1, lifecycle: 'live', clientId: SEED_CLIENT })) {
      expect(ch.lifecycle).toBe('live')
      expect(ch.clientId).toBe(SEED_CLIENT)
      live.push(ch.channelId)
    }
    expect(live.length).toBeGreaterThan(1)
    // Parameters given in reverse order still produce a verified request.
    const res = await client.transport.send({
      method: 'GET',
      path: '/channels',
      query: { lifecycle: 'live', limit: 1, clientId: SEED_CLIENT },
    })
    expect(res.status).toBe(200)
  })

  it('encodes query values that need escaping identically in the URL and the signature', async () => {
    // A value with a space, slash and plus is a 400 of the API (bad filter), not a 401 (bad signature).
    const err = await client.clients
      .list({ status: 'a b/c+d' })
      .page()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(BadRequestError)
    expect(err).toMatchObject({ status: 400, code: 'invalid_query' })
  })

  it('reads a client, a channel and the status', async () => {
    const c = await client.clients.get(SEED_CLIENT)
    expect(c.clientId).toBe(SEED_CLIENT)
    expect(c.channels.total).toBe(c.channels.channelIds.length)
    const ch = await client.channels.get(c.channels.channelIds[0]!)
    expect(ch.clientId).toBe(SEED_CLIENT)
    const status = await client.status()
    expect(status.channels.total).toBeGreaterThan(0)
  })

  it('throws typed errors carrying the API code and HTTP status', async () => {
    const missing = await client.channels.get('no-such-channel').catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(NotFoundError)
    expect(missing).toMatchObject({ status: 404, code: 'channel_not_found', attempts: 1 })
    const badClient = await client.clients.get('no-such-client').catch((e: unknown) => e)
    expect(badClient).toMatchObject({ status: 404, code: 'client_not_found' })
  })

  it('requests a cancellation once, replays it for the same key, and revokes it', async () => {
    const channelId = await liveChannel(app)
    const first = await client.cancellations.request(
      SEED_CLIENT,
      channelId,
      { reason: 'test' },
      { idempotencyKey: 'lib-key-1' },
    )
    expect(first).toMatchObject({ channelId, clientId: SEED_CLIENT, idempotencyKey: 'lib-key-1' })
    expect(['requested', 'confirmed']).toContain(first.state)
    const again = await client.cancellations.request(
      SEED_CLIENT,
      channelId,
      { reason: 'test' },
      { idempotencyKey: 'lib-key-1' },
    )
    expect(again).toEqual(first)
    const upstreamCalls = app
      .simulator!.requests()
      .filter(
        (r) => r.method === 'POST' && r.path.includes(`/channels/${channelId}/control/cancellation_request`),
      )
    expect(upstreamCalls).toHaveLength(1)

    // A new logical call (a new generated key) meets the pending cancellation: 409 with the record.
    const conflict = await client.cancellations.request(SEED_CLIENT, channelId).catch((e: unknown) => e)
    expect(conflict).toBeInstanceOf(ConflictError)
    expect(conflict).toMatchObject({ status: 409, code: 'already_cancelled' })
    expect((conflict as ConflictError).cancellation).toMatchObject({ channelId })
    expect((conflict as ConflictError).idempotencyKey).toMatch(/^[0-9a-f-]{36}$/)

    // The same key for another channel is refused.
    const other = await liveChannel(app)
    const reused = await client.cancellations
      .request(SEED_CLIENT, other, { reason: 'test' }, { idempotencyKey: 'lib-key-1' })
      .catch((e: unknown) => e)
    expect(reused).toBeInstanceOf(IdempotencyKeyReusedError)
    expect(reused).toMatchObject({ status: 422 })

    await app.poll()
    const record = await client.cancellations.get(SEED_CLIENT, channelId)
    expect(record.channelId).toBe(channelId)
    const revoked = await client.cancellations.revoke(SEED_CLIENT, channelId)
    expect(revoked.state).toBe('revoked')
  })

  it('streams the CSV export', async () => {
    const { stream } = await client.exports.channelsCsv()
    let csv = ''
    for await (const chunk of stream) csv += Buffer.from(chunk as Uint8Array).toString('utf8')
    const lines = csv.trimEnd().split('\r\n')
    expect(lines[0]).toMatch(/^client_id,company_name,phone_number,/)
    const total = (await client.status()).channels.total
    expect(lines.length - 1).toBe(total)
  })

  it('creates an onboarding link', async () => {
    const link = await client.onboarding.createLink({
      partnerPayload: 'customer-42',
      redirectUrl: 'http://localhost:8080/done',
    })
    expect(new URL(link.url).searchParams.get('partner')).toBe('customer-42')
  })

  it('answers AuthError for a wrong secret, without retrying', async () => {
    const wrong = new PartnerOpsClient({
      endpoint: app.url,
      credentials: { accessKeyId: LOCAL_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' },
    })
    const err = await wrong.status().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AuthError)
    expect(err).toMatchObject({ status: 401, code: 'unauthorized', attempts: 1 })
  })

  it('uses the local pair for the local runner when the AWS chain finds no credentials', async () => {
    const noCredentials = async (): Promise<never> => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      })
    }
    const { defaultCredentials } = await import('../src/auth')
    const local = new PartnerOpsClient({
      endpoint: app.url,
      credentials: defaultCredentials(new URL(app.url), noCredentials),
    })
    expect((await local.status()).channels.total).toBeGreaterThan(0)
  })

  it('every JSON answer above matched docs/openapi.yaml', () => {
    expect(recorder.count()).toBeGreaterThan(10)
    recorder.check()
  })
})

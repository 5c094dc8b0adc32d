import { describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import type { UpstreamChannel, UpstreamClient } from '../../../shared/domain/upstream'
import type { PartnerApi } from '../../../shared/ports'

/**
 * One side of the contract: a PartnerApi plus a way to put data upstream behind its back (what a
 * client or channel looks like before PartnerOps reads it).
 */
export interface PartnerApiSide {
  api: PartnerApi
  /** Adds a client upstream (defaults for everything not given). */
  addClient(partial: { id: string; name?: string; partner_payload?: string }): Promise<void>
  /** Adds a draft channel upstream for a client. */
  addChannel(partial: { id: string; client_id: string; created_at?: string }): Promise<void>
  /** Changes a channel upstream (its display name), which stamps a later `modified_at`. */
  renameChannel(id: string, name: string): Promise<void>
  /** The upstream "now" (end-of-month rules). */
  now(): Date
  /** The channel's client pays directly and has not granted the partner API-key permission. */
  withholdKeyPermission(channel: { id: string; client_id: string }): Promise<void>
  close(): Promise<void>
}

export type PartnerApiSideFactory = () => Promise<PartnerApiSide>

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = []
  for await (const page of pages) all.push(...page)
  return all
}

async function refusal(run: () => Promise<unknown>): Promise<UpstreamError> {
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UpstreamError)
  return err as UpstreamError
}

function endOfUtcMonth(now: Date): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 0, 23, 59, 59))
    .toISOString()
    .replace('.000Z', 'Z')
}

async function withSide(
  factory: PartnerApiSideFactory,
  run: (side: PartnerApiSide) => Promise<void>,
): Promise<void> {
  const side = await factory()
  try {
    await run(side)
  } finally {
    await side.close()
  }
}

/** Seeds two clients with three channels: A owns ch1, ch2; B owns ch3. */
async function seedTwo(side: PartnerApiSide): Promise<void> {
  await side.addClient({ id: 'CtrA01CL', name: 'Alpha', partner_payload: 'tenant:a' })
  await side.addClient({ id: 'CtrB02CL', name: 'Beta' })
  await side.addChannel({ id: 'Ctr001CH', client_id: 'CtrA01CL' })
  await side.addChannel({ id: 'Ctr002CH', client_id: 'CtrA01CL' })
  await side.addChannel({ id: 'Ctr003CH', client_id: 'CtrB02CL' })
}

/**
 * What PartnerOps relies on from the 360dialog Partner API (docs in local/simulator/README.md,
 * "What it models"), run against the in-memory fake the unit tests use and against the simulator
 * through the real client, so the three cannot drift apart.
 */
export function partnerApiContract(factory: PartnerApiSideFactory): void {
  describe('partner', () => {
    it('reads the partner and sets its webhook and redirect URLs', () =>
      withSide(factory, async ({ api }) => {
        const partner = await api.getPartner()
        expect(typeof partner.id).toBe('string')
        const patched = await api.patchPartner({
          webhook_url: 'https://ops.example.test/webhooks/360dialog',
          partner_redirect_url: 'https://ops.example.test/onboarding/callback',
        })
        expect(patched).toMatchObject({
          id: partner.id,
          webhook_url: 'https://ops.example.test/webhooks/360dialog',
          partner_redirect_url: 'https://ops.example.test/onboarding/callback',
        })
        expect(await api.getWebhookUrl()).toBe('https://ops.example.test/webhooks/360dialog')
        await api.setWebhookUrl('https://ops.example.test/other')
        expect(await api.getWebhookUrl()).toBe('https://ops.example.test/other')
        expect((await api.getPartner()).webhook_url).toBe('https://ops.example.test/other')
      }))
  })

  describe('partner settings', () => {
    it('changes only the fields a PATCH names, and the partner read shows both URLs', () =>
      withSide(factory, async ({ api }) => {
        await api.patchPartner({ webhook_url: 'https://ops.example.test/webhooks/360dialog' })
        const patched = await api.patchPartner({ partner_redirect_url: 'https://ops.example.test/cb' })
        expect(patched).toMatchObject({
          webhook_url: 'https://ops.example.test/webhooks/360dialog',
          partner_redirect_url: 'https://ops.example.test/cb',
        })
        expect(await api.getPartner()).toMatchObject({
          webhook_url: 'https://ops.example.test/webhooks/360dialog',
          partner_redirect_url: 'https://ops.example.test/cb',
        })
      }))
  })

  describe('lists', () => {
    it('pages clients with the envelope counts: total of all matches, the applied offset and limit', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const first = await side.api.listClients({ limit: 1, offset: 0, sort: ['id'] })
        expect(first).toMatchObject({ total: 2, offset: 0, limit: 1 })
        expect(first.items.map((c) => c.id)).toEqual(['CtrA01CL'])
        const second = await side.api.listClients({ limit: 1, offset: 1, sort: ['id'] })
        expect(second.items.map((c) => c.id)).toEqual(['CtrB02CL'])
        const past = await side.api.listClients({ limit: 1, offset: 2 })
        expect(past).toMatchObject({ total: 2, items: [] })
      }))

    it('filters channels by equality on every key and sorts descending with a leading dash', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const mine = await side.api.listChannels({ filters: { client_id: 'CtrA01CL' }, sort: ['-id'] })
        expect(mine.total).toBe(2)
        expect(mine.items.map((c) => c.id)).toEqual(['Ctr002CH', 'Ctr001CH'])
        const none = await side.api.listChannels({ filters: { client_id: 'CtrA01CL', id: 'Ctr003CH' } })
        expect(none).toMatchObject({ total: 0, items: [] })
      }))

    it('sorts by -modified_at: the last changed first, dates never rising, ties by id; echoes the sort', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        await side.renameChannel('Ctr002CH', 'Renamed once')
        await side.renameChannel('Ctr001CH', 'Renamed last')
        const all = await side.api.listChannels({ sort: ['-modified_at'], limit: 10 })
        expect(all.items.map((c) => c.id).slice(0, 2)).toEqual(['Ctr001CH', 'Ctr002CH'])
        const times = all.items.map((c) => Date.parse(c.modified_at ?? ''))
        expect(times.every((t, i) => !Number.isNaN(t) && (i === 0 || t <= (times[i - 1] as number)))).toBe(
          true,
        )
        expect(all.sort).toEqual(['-modified_at'])
        // Paging the same order: offsets continue it without gaps or repeats.
        const first = await side.api.listChannels({ sort: ['-modified_at'], limit: 2, offset: 0 })
        const rest = await side.api.listChannels({ sort: ['-modified_at'], limit: 2, offset: 2 })
        expect([...first.items, ...rest.items].map((c) => c.id)).toEqual(all.items.map((c) => c.id))
        const clients = await side.api.listClients({ sort: ['-modified_at'], limit: 10 })
        const clientTimes = clients.items.map((c) => Date.parse(c.modified_at ?? ''))
        expect(clientTimes.every((t, i) => i === 0 || t <= (clientTimes[i - 1] as number))).toBe(true)
      }))

    it('walks every channel and client exactly once, page by page', () =>
      withSide(factory, async (side) => {
        await side.addClient({ id: 'CtrW00CL' })
        const ids: string[] = []
        for (let i = 0; i < 23; i++) {
          const id = `CtrW${String(i).padStart(2, '0')}CH`
          ids.push(id)
          await side.addChannel({ id, client_id: 'CtrW00CL' })
        }
        const walked = await collect(side.api.iterateChannels({ limit: 5, concurrency: 2 }))
        expect(walked.map((c) => c.id).sort()).toEqual(ids)
        const clients = await collect(side.api.iterateClients({ limit: 1 }))
        expect(clients.map((c) => c.id)).toEqual(['CtrW00CL'])
      }))

    it('finds one channel and one client by id, and answers null for an unknown id', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const channel = (await side.api.findChannel('Ctr003CH')) as UpstreamChannel
        expect(channel).toMatchObject({ id: 'Ctr003CH', client_id: 'CtrB02CL' })
        const client = (await side.api.findClient('CtrA01CL')) as UpstreamClient
        expect(client).toMatchObject({ id: 'CtrA01CL', partner_payload: 'tenant:a' })
        expect(await side.api.findChannel('Nope00CH')).toBeNull()
        expect(await side.api.findClient('Nope00CL')).toBeNull()
      }))

    it('shows a new channel as a draft: no app id, no termination, not billed', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const channel = (await side.api.findChannel('Ctr001CH')) as UpstreamChannel
        expect(channel.terminated_at ?? null).toBeNull()
        expect(channel.billing_started_at ?? null).toBeNull()
        expect(channel.integration?.app_id ?? null).toBeNull()
      }))
  })

  describe('clients', () => {
    it('patches partner_payload and max_channels and moves modified_at forward', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const before = (await side.api.findClient('CtrB02CL')) as UpstreamClient
        expect(before.partner_payload ?? null).toBeNull()
        const after = await side.api.patchClient('CtrB02CL', { partner_payload: 'tenant:b', max_channels: 3 })
        expect(after).toMatchObject({ id: 'CtrB02CL', partner_payload: 'tenant:b', max_channels: 3 })
        expect(Date.parse(after.modified_at as string)).toBeGreaterThan(
          Date.parse(before.modified_at as string),
        )
        expect(await side.api.findClient('CtrB02CL')).toMatchObject({ partner_payload: 'tenant:b' })
      }))

    it('refuses a patch of an unknown client with a non-retryable 404', () =>
      withSide(factory, async ({ api }) => {
        const err = await refusal(() => api.patchClient('Nope00CL', { max_channels: 2 }))
        expect(err).toMatchObject({
          upstreamStatus: 404,
          retryable: false,
          upstreamMessage: 'Client not found',
        })
      }))

    it('serves a balance for a known client and a non-retryable 404 for an unknown one', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const balance = await side.api.getClientBalance('CtrA01CL')
        expect(balance).toMatchObject({ balance: expect.any(Number), currency: expect.any(String) })
        expect(balance.last_renewal ?? null).toSatisfy(
          (r: unknown) => r === null || (typeof r === 'object' && 'date' in (r as object)),
        )
        const err = await refusal(() => side.api.getClientBalance('Nope00CL'))
        expect(err).toMatchObject({ upstreamStatus: 404, retryable: false })
      }))

    it('limits the balance endpoint to 5 calls per client in 30 s: the sixth is a 429 with Retry-After, not retried', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        for (let i = 0; i < 5; i++) await side.api.getClientBalance('CtrA01CL')
        const before = side.api.stats().calls
        const err = await refusal(() => side.api.getClientBalance('CtrA01CL'))
        expect(err).toMatchObject({ upstreamStatus: 429, retryable: true, code: 'upstream_rate_limited' })
        expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(1)
        expect(err.retryAfterSeconds).toBeLessThanOrEqual(30)
        expect(side.api.stats().calls - before).toBe(1)
        // Another client has its own budget.
        expect((await side.api.getClientBalance('CtrB02CL')).currency).toEqual(expect.any(String))
      }))
  })

  describe('cancellation', () => {
    it('sets terminated_at to the end of the current UTC month and answers the channel', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const channel = await side.api.requestCancellation('CtrA01CL', 'Ctr001CH')
        expect(channel).toMatchObject({ id: 'Ctr001CH', client_id: 'CtrA01CL' })
        expect(channel.terminated_at).toBe(endOfUtcMonth(side.now()))
        expect((await side.api.findChannel('Ctr001CH'))?.terminated_at).toBe(channel.terminated_at)
      }))

    it('treats a repeated request as a no-op: same terminated_at, same modified_at', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const first = await side.api.requestCancellation('CtrA01CL', 'Ctr001CH')
        const again = await side.api.requestCancellation('CtrA01CL', 'Ctr001CH')
        expect(again.terminated_at).toBe(first.terminated_at)
        expect(again.modified_at).toBe(first.modified_at)
      }))

    it('revokes a pending cancellation: terminated_at gone, modified_at forward', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const cancelled = await side.api.requestCancellation('CtrA01CL', 'Ctr002CH')
        const revoked = await side.api.revokeCancellation('CtrA01CL', 'Ctr002CH')
        expect(revoked.terminated_at ?? null).toBeNull()
        expect(Date.parse(revoked.modified_at as string)).toBeGreaterThan(
          Date.parse(cancelled.modified_at as string),
        )
      }))

    it('refuses a revoke with nothing pending with a non-retryable 400', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const err = await refusal(() => side.api.revokeCancellation('CtrA01CL', 'Ctr001CH'))
        expect(err).toMatchObject({ upstreamStatus: 400, retryable: false })
      }))

    it('refuses a channel of another client, an unknown channel and an unknown client with a 404, for a revoke too', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        for (const [client, channel] of [
          ['CtrB02CL', 'Ctr001CH'],
          ['CtrA01CL', 'Nope00CH'],
          ['Nope00CL', 'Ctr001CH'],
        ] as const) {
          const err = await refusal(() => side.api.requestCancellation(client, channel))
          expect(err).toMatchObject({ upstreamStatus: 404, retryable: false })
        }
        await side.api.requestCancellation('CtrA01CL', 'Ctr001CH')
        const revoke = await refusal(() => side.api.revokeCancellation('CtrB02CL', 'Ctr001CH'))
        expect(revoke).toMatchObject({ upstreamStatus: 404, retryable: false })
        expect((await side.api.findChannel('Ctr003CH'))?.terminated_at ?? null).toBeNull()
      }))
  })

  describe('channel API keys', () => {
    it('creates a key (id, address, value, app id) and lists it as the channel current key', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const key = await side.api.createChannelApiKey('Ctr001CH')
        expect(key.api_key.length).toBeGreaterThan(8)
        expect(typeof key.id).toBe('string')
        expect(key.address).toMatch(/^https?:\/\//)
        expect(typeof key.app_id).toBe('string')
        expect((await side.api.listChannelApiKeys('Ctr001CH')).map((k) => k.api_key)).toEqual([key.api_key])
        expect(await side.api.listChannelApiKeys('Ctr002CH')).toEqual([])
      }))

    it('revokes the earlier key when a new one is created, and every key on delete', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        const first = await side.api.createChannelApiKey('Ctr001CH')
        const second = await side.api.createChannelApiKey('Ctr001CH')
        expect(second.api_key).not.toBe(first.api_key)
        expect((await side.api.listChannelApiKeys('Ctr001CH')).map((k) => k.api_key)).toEqual([
          second.api_key,
        ])
        await side.api.deleteChannelApiKeys('Ctr001CH')
        expect(await side.api.listChannelApiKeys('Ctr001CH')).toEqual([])
      }))

    it('refuses a key without the client permission with a non-retryable 403, and an unknown channel with a 404', () =>
      withSide(factory, async (side) => {
        await seedTwo(side)
        await side.withholdKeyPermission({ id: 'Ctr003CH', client_id: 'CtrB02CL' })
        const denied = await refusal(() => side.api.createChannelApiKey('Ctr003CH'))
        expect(denied).toMatchObject({ upstreamStatus: 403, retryable: false })
        expect(denied.upstreamMessage).toMatch(/permission/i)
        const unknown = await refusal(() => side.api.createChannelApiKey('Nope00CH'))
        expect(unknown).toMatchObject({ upstreamStatus: 404, retryable: false })
      }))
  })
}

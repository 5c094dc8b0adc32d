import { describe, expect, it, vi } from 'vitest'
import { channelMatches } from '../../../shared/domain/filters'
import type { Channel, Client } from '../../../shared/domain/types'
import { upstreamChannelSchema, upstreamClientSchema } from '../../../shared/domain/upstream'
import { toChannelView } from '../../../shared/services/reads/views'
import { applyChannel, applyClient } from '../../../shared/services/state/apply-upstream'
import { fillLegalName, NO_COPY_YET, propagateLegalName } from '../../../shared/services/state/legal-name'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import fixtures from '../../fixtures/partner-api.json'
import { makeChannel, makeClient } from '../../integration/store/fixtures'

// The client's legal name on its channels (shared/services/state/legal-name.ts): the copy of the
// newest client write wins whatever order the writes and fills run in.

const CLIENT = 'client-legal'

async function setup(): Promise<{ store: MemoryStore; channels: Channel[] }> {
  const store = new MemoryStore()
  const channels = [makeChannel({ clientId: CLIENT }), makeChannel({ clientId: CLIENT })]
  for (const c of channels) await store.channels.putIfNewer(c)
  await store.channels.putIfNewer(makeChannel({ clientId: 'someone-else' }))
  return { store, channels }
}

const client = (organisation: string | null, orderKey: string): Client =>
  makeClient({ clientId: CLIENT, organisation, orderKey })

const legalNames = async (store: MemoryStore, channels: Channel[]) =>
  Promise.all(channels.map(async (c) => (await store.channels.get(c.channelId))?.clientOrganisation?.value))

describe("the client's legal name on its channels", () => {
  it('goes to every channel of a client whose organisation changed, and to no other', async () => {
    const { store, channels } = await setup()
    const v1 = client('Nordlicht Logistik GmbH', '2025-01-01T00:00:00.000Z#90')
    expect(await propagateLegalName(store, v1, null)).toBe(2)
    expect(await legalNames(store, channels)).toEqual(['Nordlicht Logistik GmbH', 'Nordlicht Logistik GmbH'])
    const found = (await store.channels.list({ q: 'logistik gmbh', limit: 10 })).items
    expect(found.map((c) => c.clientId)).toEqual([CLIENT, CLIENT])
    expect(channelMatches(found[0] as Channel, { q: 'LOGISTIK' })).toBe(true)
  })

  it('costs nothing when the organisation did not change', async () => {
    const { store } = await setup()
    const v1 = client('Nordlicht Logistik GmbH', '2025-01-01T00:00:00.000Z#90')
    const v2 = { ...v1, maxChannels: 9, orderKey: '2025-01-02T00:00:00.000Z#90' }
    const before = { ...store.stats }
    expect(await propagateLegalName(store, v2, v1)).toBe(0)
    expect(store.stats).toEqual(before)
  })

  it('copies a new client without an organisation as null, so its channels stop looking it up', async () => {
    const { store, channels } = await setup()
    expect(await propagateLegalName(store, client(null, '2025-01-01T00:00:00.000Z#90'), null)).toBe(2)
    expect(await legalNames(store, channels)).toEqual([null, null])
    const stored = (await store.channels.get(channels[0]?.channelId as string)) as Channel
    const reads = store.stats.reads
    await fillLegalName(store, stored)
    expect(store.stats.reads).toBe(reads)
  })

  it('keeps the newest when two client writes propagate in the wrong order', async () => {
    const { store, channels } = await setup()
    const older = client('Old Name AG', '2025-01-01T00:00:00.000Z#90')
    const newer = client('New Name AG', '2025-01-02T00:00:00.000Z#90')
    await propagateLegalName(store, newer, older)
    expect(await propagateLegalName(store, older, null)).toBe(0)
    expect(await legalNames(store, channels)).toEqual(['New Name AG', 'New Name AG'])
    // A newer client without an organisation clears the copy.
    await propagateLegalName(store, client(null, '2025-01-03T00:00:00.000Z#90'), newer)
    expect(await legalNames(store, channels)).toEqual([null, null])
    expect((await store.channels.list({ q: 'name ag', limit: 10 })).items).toEqual([])
  })

  it('fills a channel without a copy from its stored client, and a stale fill loses to a newer propagation', async () => {
    const { store, channels } = await setup()
    const [first, second] = channels as [Channel, Channel]
    await store.clients.putIfNewer(client('Old Name AG', '2025-01-01T00:00:00.000Z#90'))
    await fillLegalName(store, first)
    expect(await legalNames(store, [first])).toEqual(['Old Name AG'])
    // A fill that read the client before it changed lands after the change was propagated.
    const stale = (await store.clients.get(CLIENT)) as Client
    const newer = client('New Name AG', '2025-01-02T00:00:00.000Z#90')
    await store.clients.putIfNewer(newer)
    await propagateLegalName(store, newer, stale)
    const copy = { value: stale.organisation, clientOrderKey: stale.orderKey }
    expect(await store.channels.setClientOrganisation(second.channelId, CLIENT, copy)).toBe('stale')
    expect(await legalNames(store, channels)).toEqual(['New Name AG', 'New Name AG'])
    // A channel that has its copy reads nothing.
    const filled = (await store.channels.get(first.channelId)) as Channel
    const reads = store.stats.reads
    await fillLegalName(store, filled)
    expect(store.stats.reads).toBe(reads)
    // A channel whose client is not stored yet is left as it is.
    const orphan = makeChannel({ clientId: 'not-yet-stored' })
    await store.channels.putIfNewer(orphan)
    const writes = store.stats.writes
    await fillLegalName(store, orphan)
    expect(store.stats.writes).toBe(writes)
    expect((await store.channels.get(orphan.channelId))?.clientOrganisation).toBeUndefined()
  })
})

describe('the legal-name lookup of facts written without a read (the webhook applier)', () => {
  const live = upstreamChannelSchema.parse(fixtures.channels.live)
  const upClient = upstreamClientSchema.parse({ ...fixtures.clients[0], id: live.client_id })
  const at = (day: number) => ({ ...live, modified_at: `2025-03-0${day}T00:00:00Z` })
  const setup = () => {
    const store = new MemoryStore()
    const deps = { store, clock: new FakeClock('2025-04-01T00:00:00Z') }
    const clientReads = vi.spyOn(store.clients, 'get')
    const fact = (day: number) =>
      applyChannel(deps, at(day), { source: 'webhook', kind: 'channel_live', withoutRead: true })
    return { store, deps, clientReads, fact }
  }

  it('reads a client that is not stored once per channel, and its later first write still gives the copy', async () => {
    const { store, deps, clientReads, fact } = setup()
    const writes0 = store.stats.writes
    expect((await fact(1)).outcome).toBe('written')
    expect((await fact(2)).outcome).toBe('written')
    expect((await fact(3)).outcome).toBe('written')
    expect(clientReads).toHaveBeenCalledTimes(1)
    // One write per fact: the placeholder costs none, and nothing is copied while the client is unknown.
    expect(store.stats.writes - writes0).toBe(3)
    const stored = (await store.channels.get(live.id)) as Channel
    expect(stored.clientOrganisation).toEqual(NO_COPY_YET)
    // Never served, and no search finds it.
    expect(toChannelView(stored)).not.toHaveProperty('clientOrganisation')
    expect((await store.channels.list({ q: 'null', limit: 10 })).items).toEqual([])
    // The client arrives: its first write replaces the placeholder, and later facts keep the copy.
    await applyClient(deps, upClient, { source: 'webhook', kind: 'client_created', withoutRead: true })
    expect((await store.channels.get(live.id))?.clientOrganisation).toEqual({
      value: upClient.organisation,
      clientOrderKey: expect.any(String),
    })
    expect((await fact(4)).record.clientOrganisation?.value).toBe(upClient.organisation)
    expect((await store.channels.get(live.id))?.clientOrganisation?.value).toBe(upClient.organisation)
    expect(clientReads).toHaveBeenCalledTimes(1)
  })

  it('copies a stored client on the channel’s first fact only', async () => {
    const { store, deps, clientReads, fact } = setup()
    await applyClient(deps, upClient, { source: 'poll', kind: 'snapshot' })
    clientReads.mockClear()
    await fact(1)
    await fact(2)
    expect(clientReads).toHaveBeenCalledTimes(1)
    expect((await store.channels.get(live.id))?.clientOrganisation?.value).toBe(upClient.organisation)
  })

  it('looks up a channel stored without a copy (an older version) at its next fact, even an unchanged one', async () => {
    const { store, clientReads, fact } = setup()
    await fact(1)
    // As stored before the copy existed, with an older order key.
    const { clientOrganisation: _co, ...stored } = (await store.channels.get(live.id)) as Channel
    const old = { ...stored, orderKey: '2025-01-01T00:00:00.000Z#01' }
    expect(await store.channels.putIfVersion(old, stored.orderKey)).toBe('written')
    await store.clients.putIfNewer(
      makeClient({ clientId: live.client_id, organisation: 'Nordlicht Logistik GmbH' }),
    )
    clientReads.mockClear()
    // The same fact again: same content, later order key, so only the order key advances (unchanged)
    // and the fact's write sets the placeholder; the lookup runs all the same.
    const same = await fact(1)
    expect(same.outcome).toBe('unchanged')
    expect(clientReads).toHaveBeenCalledTimes(1)
    expect((await store.channels.get(live.id))?.clientOrganisation?.value).toBe('Nordlicht Logistik GmbH')
  })

  it('a guarded write (poll) of a channel with the placeholder still looks its client up', async () => {
    const { store, deps, clientReads, fact } = setup()
    await fact(1)
    await store.clients.putIfNewer(makeClient({ clientId: live.client_id, organisation: 'Aurora S.r.l.' }))
    clientReads.mockClear()
    const r = await applyChannel(deps, at(2), { source: 'poll', kind: 'snapshot' })
    expect(r.outcome).toBe('written')
    expect(clientReads).toHaveBeenCalledTimes(1)
    expect((await store.channels.get(live.id))?.clientOrganisation?.value).toBe('Aurora S.r.l.')
  })
})

describe('a failure between a fact and its legal-name lookup', () => {
  it('is made good by the retry of the same fact, though the first attempt set the placeholder', async () => {
    const store = new MemoryStore()
    const deps = { store, clock: new FakeClock('2025-04-01T00:00:00Z') }
    const live = upstreamChannelSchema.parse(fixtures.channels.live)
    await store.clients.putIfNewer(makeClient({ clientId: live.client_id, organisation: 'Aurora S.r.l.' }))
    const clientReads = vi.spyOn(store.clients, 'get').mockRejectedValueOnce(new Error('throttled'))
    const fact = () =>
      applyChannel(deps, live, { source: 'webhook', kind: 'channel_live', withoutRead: true })
    await expect(fact()).rejects.toThrow('throttled')
    expect((await store.channels.get(live.id))?.clientOrganisation).toEqual(NO_COPY_YET)
    // The event stays pending and is applied again: the fact is refused as stored, the lookup runs.
    expect((await fact()).outcome).toBe('unchanged')
    expect(clientReads).toHaveBeenCalledTimes(2)
    expect((await store.channels.get(live.id))?.clientOrganisation?.value).toBe('Aurora S.r.l.')
    // Once the copy is there, a redelivery reads nothing.
    await fact()
    expect(clientReads).toHaveBeenCalledTimes(2)
  })
})

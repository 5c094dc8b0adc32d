import { describe, expect, it } from 'vitest'
import { channelMatches } from '../../../shared/domain/filters'
import type { Channel, Client } from '../../../shared/domain/types'
import { fillLegalName, propagateLegalName } from '../../../shared/services/state/legal-name'
import { MemoryStore } from '../../fakes/memory-store'
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

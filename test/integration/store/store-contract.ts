import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../../shared/domain/errors'
import { type ChannelFilter, channelMatches } from '../../../shared/domain/filters'
import { emptyHealthCounts, type HealthSweepSummary } from '../../../shared/domain/health'
import { isNewer } from '../../../shared/domain/ordering'
import type { Channel, Lifecycle } from '../../../shared/domain/types'
import { LIFECYCLES } from '../../../shared/domain/types'
import type { Digest, DigestPage, StateStore } from '../../../shared/ports'
import {
  makeAudit,
  makeCancellation,
  makeChannel,
  makeClient,
  makeEvent,
  makeIdem,
  makeRun,
  uid,
} from './fixtures'

/** Builds a fresh, empty store (its own tables) for one test. */
export type StoreFactory = () => Promise<StateStore>

async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = []
  for await (const page of pages) all.push(...page)
  return all
}

/**
 * Every digest a repository's scan yields: each of `segments` segments read page by page from its
 * beginning, `limit` items a page, as missing detection reads them (positions passed on as strings).
 */
async function scanAll(
  repo: Pick<StateStore['channels'], 'scanDigests'>,
  segments = 1,
  limit?: number,
): Promise<Digest[]> {
  const all: Digest[] = []
  for (let segment = 0; segment < segments; segment++) {
    let start: string | null = null
    do {
      const page: DigestPage = await repo.scanDigests({
        segment,
        segments,
        start,
        ...(limit ? { limit } : {}),
      })
      all.push(...page.items)
      start = page.next
    } while (start !== null)
  }
  return all
}

async function expectInvalidCursor(run: () => Promise<unknown>): Promise<void> {
  const error = await run().then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ValidationError)
  expect((error as ValidationError).code).toBe('invalid_cursor')
}

/** Walks every page of a list, checking page sizes; returns the items in order and the page count. */
async function walk<T>(
  list: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>,
  limit: number,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = []
  let cursor: string | undefined
  for (let pages = 1; pages <= 1000; pages++) {
    const page = await list(cursor)
    expect(page.items.length).toBeLessThanOrEqual(limit)
    if (page.nextCursor !== null) expect(page.items.length).toBe(limit)
    items.push(...page.items)
    if (page.nextCursor === null) return { items, pages }
    cursor = page.nextCursor
  }
  throw new Error('pagination did not end')
}

const sorted = (ids: string[]): string[] => [...ids].sort()

/** How the key tests write facts without a read (fields a fact may leave as stored). */
const FACT_SPEC = { carried: ['violation', 'contactEmail', 'companyName'], sticky: ['cancellationProcessed'] }

/** What an engine under test does not promise, so the contract does not ask it of that engine. */
export interface EngineLimits {
  /**
   * Why concurrent conditional updates of one item may both pass their condition on this engine
   * (moto serves requests on threads without an item lock), or undefined when they are atomic, as
   * in DynamoDB itself, dynalite and the fake.
   */
  nonAtomicConditionalWrites?: string
}

/** The one behavioural contract of a StateStore; run against the fake and every DynamoDB engine. */
export function storeContract(factory: StoreFactory, limits: EngineLimits = {}): void {
  describe('clients', () => {
    it('round-trips a client exactly, nulls included', async () => {
      const store = await factory()
      const client = makeClient({ status: null, contactEmail: null, maxChannels: null, missingSince: null })
      expect(await store.clients.putIfNewer(client)).toBe('written')
      expect(await store.clients.get(client.clientId)).toEqual(client)
      expect(await store.clients.get('nope')).toBeNull()
    })

    it('guards writes by orderKey and contentHash', async () => {
      const store = await factory()
      const base = makeClient({ orderKey: '2024-01-02T00:00:00.000Z#50', contentHash: 'a' })
      expect(await store.clients.putIfNewer(base)).toBe('written')
      expect(
        await store.clients.putIfNewer({ ...base, name: 'older', orderKey: '2024-01-01T00:00:00.000Z#90' }),
      ).toBe('stale')
      expect(await store.clients.putIfNewer({ ...base, name: 'same' })).toBe('stale')
      expect(await store.clients.putIfNewer({ ...base, name: 'rehash', contentHash: 'b' })).toBe('written')
      expect((await store.clients.get(base.clientId))?.name).toBe('rehash')
      expect(
        await store.clients.putIfNewer({ ...base, name: 'newer', orderKey: '2024-01-02T00:00:00.000Z#60' }),
      ).toBe('written')
      expect(await store.clients.get(base.clientId)).toMatchObject({
        name: 'newer',
        orderKey: '2024-01-02T00:00:00.000Z#60',
      })
    })

    it('guards a newer write on the content it read (compare-and-set)', async () => {
      const store = await factory()
      const base = makeClient({ orderKey: '2024-01-02T00:00:00.000Z#50', contentHash: 'a' })
      const newer = { ...base, orderKey: '2024-01-03T00:00:00.000Z#90', contentHash: 'b', name: 'newer' }
      expect(await store.clients.putIfNewer(base, 'a')).toBe('stale')
      expect(await store.clients.putIfNewer(base, null)).toBe('written')
      expect(await store.clients.putIfNewer(newer, null)).toBe('stale')
      expect(await store.clients.putIfNewer(newer, 'x')).toBe('stale')
      expect(await store.clients.putIfNewer({ ...newer, orderKey: '2024-01-01T00:00:00.000Z#90' }, 'a')).toBe(
        'stale',
      )
      expect(await store.clients.putIfNewer(newer, 'a')).toBe('written')
      expect(await store.clients.get(base.clientId)).toMatchObject({ name: 'newer', contentHash: 'b' })
    })

    it('writes by expected version only', async () => {
      const store = await factory()
      const client = makeClient({ orderKey: 'k1' })
      expect(await store.clients.putIfVersion(client, 'k0')).toBe('stale')
      expect(await store.clients.putIfVersion(client, null)).toBe('written')
      expect(await store.clients.putIfVersion({ ...client, orderKey: 'k2' }, null)).toBe('stale')
      expect(await store.clients.putIfVersion({ ...client, orderKey: 'k2', name: 'v2' }, 'k0')).toBe('stale')
      expect(await store.clients.putIfVersion({ ...client, orderKey: 'k2', name: 'v2' }, 'k1')).toBe(
        'written',
      )
      expect(await store.clients.get(client.clientId)).toMatchObject({ orderKey: 'k2', name: 'v2' })
    })

    it('lists every client exactly once across pages, with and without a status filter', async () => {
      const store = await factory()
      const clients = Array.from({ length: 23 }, (_, i) =>
        makeClient({ status: i % 3 === 0 ? 'blocked' : 'active' }),
      )
      for (const c of clients) await store.clients.putIfNewer(c)
      const all = await walk((cursor) => store.clients.list({ limit: 5, cursor }), 5)
      expect(all.pages).toBe(5)
      expect(sorted(all.items.map((c) => c.clientId))).toEqual(sorted(clients.map((c) => c.clientId)))
      const blocked = await walk((cursor) => store.clients.list({ status: 'blocked', limit: 4, cursor }), 4)
      expect(sorted(blocked.items.map((c) => c.clientId))).toEqual(
        sorted(clients.filter((c) => c.status === 'blocked').map((c) => c.clientId)),
      )
      expect(blocked.items.every((c) => c.status === 'blocked')).toBe(true)
      const exact = await store.clients.list({ limit: 23 })
      expect(exact.items).toHaveLength(23)
      expect(exact.nextCursor).toBeNull()
      expect((await store.clients.list({ status: 'unknown', limit: 10 })).items).toEqual([])
    })

    it('refuses malformed, tampered and foreign cursors', async () => {
      const store = await factory()
      for (let i = 0; i < 4; i++) await store.clients.putIfNewer(makeClient({ status: 'active' }))
      const first = await store.clients.list({ limit: 2 })
      const cursor = first.nextCursor as string
      expect(cursor).toEqual(expect.any(String))
      await expectInvalidCursor(() => store.clients.list({ limit: 2, cursor: 'not a cursor' }))
      await expectInvalidCursor(() => store.clients.list({ limit: 2, cursor: '' }))
      await expectInvalidCursor(() =>
        store.clients.list({ limit: 2, cursor: `${cursor.startsWith('A') ? 'B' : 'A'}${cursor.slice(1)}` }),
      )
      await expectInvalidCursor(() => store.clients.list({ limit: 2, cursor: `${cursor}x` }))
      await expectInvalidCursor(() =>
        store.clients.list({ limit: 2, cursor: Buffer.from('{"clientId":"x"}').toString('base64url') }),
      )
      // A cursor of another query (filter or repository) is foreign.
      await expectInvalidCursor(() => store.clients.list({ status: 'active', limit: 2, cursor }))
      await expectInvalidCursor(() => store.channels.list({ limit: 2, cursor }))
      const second = await store.clients.list({ limit: 2, cursor })
      expect(second.items).toHaveLength(2)
    })

    it('yields cheap digests of every client', async () => {
      const store = await factory()
      expect(await scanAll(store.clients)).toEqual([])
      const clients = [makeClient({ missingSince: '2024-03-01T00:00:00.000Z' }), makeClient(), makeClient()]
      for (const c of clients) await store.clients.putIfNewer(c)
      const digests = await scanAll(store.clients)
      expect(digests.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
        clients
          .map((c) => ({
            id: c.clientId,
            orderKey: c.orderKey,
            contentHash: c.contentHash,
            absentRuns: 0,
            missingSince: c.missingSince,
          }))
          .sort((a, b) => (a.id < b.id ? -1 : 1)),
      )
    })
  })

  describe('channels', () => {
    it('round-trips a channel with nested values', async () => {
      const store = await factory()
      const channel = makeChannel({
        phoneNumber: null,
        violation: { type: null, restricted: true, at: '2024-02-02T00:00:00.000Z' },
      })
      expect(await store.channels.putIfNewer(channel)).toBe('written')
      expect(await store.channels.get(channel.channelId)).toEqual(channel)
    })

    it('never moves a channel backwards, whatever the write order (property)', async () => {
      const store = await factory()
      const keys = [
        '2024-01-01T00:00:00.000Z#10',
        '2024-01-01T00:00:00.000Z#50',
        '2024-01-02T00:00:00.000Z#10',
        '0000-00-00T00:00:00.000Z#01',
      ]
      const write = fc.record({ key: fc.constantFrom(...keys), hash: fc.constantFrom('a', 'b', 'c') })
      await fc.assert(
        fc.asyncProperty(fc.array(write, { minLength: 1, maxLength: 6 }), async (writes) => {
          const channelId = uid('prop')
          let model: { orderKey: string; contentHash: string } | null = null
          for (const [i, w] of writes.entries()) {
            const candidate = makeChannel({
              channelId,
              orderKey: w.key,
              contentHash: w.hash,
              displayName: `w${i}`,
            })
            const expected = isNewer(candidate, model) ? 'written' : 'stale'
            expect(await store.channels.putIfNewer(candidate)).toBe(expected)
            const before: string | null = model?.orderKey ?? null
            if (expected === 'written') model = { orderKey: w.key, contentHash: w.hash }
            const stored = await store.channels.get(channelId)
            expect(stored?.orderKey).toBe(model?.orderKey)
            expect(stored?.contentHash).toBe(model?.contentHash)
            if (before !== null) expect((stored?.orderKey ?? '') >= before).toBe(true)
          }
        }),
        { numRuns: 200 },
      )
    })

    it('sets the health of a live channel only, leaving order key and content hash as they were', async () => {
      const store = await factory()
      const live = makeChannel({ lifecycle: 'live', orderKey: 'k1' })
      const draft = makeChannel({ lifecycle: 'draft' })
      await store.channels.putIfNewer(live)
      await store.channels.putIfNewer(draft)
      const health = {
        status: 'BLOCKED' as const,
        checkedAt: '2024-05-01T10:00:00.000Z',
        errors: [{ code: 'meta_141006', message: 'PHONE_NUMBER: payment' }],
        numberCheckedAt: '2024-05-01T10:00:00.000Z',
      }
      const touch = { updatedAt: '2024-05-01T10:00:00.000Z', source: 'poll' as const }
      expect(await store.channels.setHealth(live.channelId, health, touch)).toBe('written')
      expect(await store.channels.get(live.channelId)).toEqual({ ...live, health, ...touch })
      expect(
        await store.channels.setHealth(live.channelId, { ...health, status: 'AVAILABLE', errors: [] }),
      ).toBe('written')
      expect((await store.channels.get(live.channelId))?.updatedAt).toBe(touch.updatedAt)
      expect(await store.channels.setHealth(draft.channelId, health)).toBe('stale')
      expect(await store.channels.setHealth('missing-channel', health)).toBe('stale')
      expect((await store.channels.get(draft.channelId))?.health).toBeUndefined()
      expect(await store.channels.get('missing-channel')).toBeNull()
    })

    it('sets keyStatus on the content it read only, leaving order key and content hash as they were', async () => {
      const store = await factory()
      const live = makeChannel({ lifecycle: 'live' })
      await store.channels.putIfNewer(live)
      const active = { keyStatus: 'active' as const, keyNeeded: false }
      expect(await store.channels.setKeyStatus(live.channelId, active, 'another-hash')).toBe('stale')
      expect(await store.channels.get(live.channelId)).toEqual(live)
      expect(await store.channels.setKeyStatus(live.channelId, active, live.contentHash)).toBe('written')
      expect(await store.channels.get(live.channelId)).toEqual({ ...live, keyStatus: 'active' })
      // Never creates a channel.
      expect(await store.channels.setKeyStatus('missing-channel', active, 'h1')).toBe('stale')
      expect(await store.channels.get('missing-channel')).toBeNull()
      // A later upstream write (put after a read, or a fact without a read) keeps it.
      const renamed = { ...live, keyStatus: 'active' as const, displayName: 'Renamed', contentHash: 'h2' }
      renamed.orderKey = '2024-01-03T00:00:00.000Z#50'
      expect(await store.channels.putIfNewer(renamed, live.contentHash)).toBe('written')
      const fact = {
        ...live,
        displayName: 'Again',
        orderKey: '2024-01-04T00:00:00.000Z#50',
        contentHash: 'h3',
      }
      expect((await store.channels.writeFact(fact, FACT_SPEC)).outcome).toBe('written')
      expect(await store.channels.get(live.channelId)).toMatchObject({
        displayName: 'Again',
        keyStatus: 'active',
      })
    })

    it('lists the ready channels without a key, in step with setKeyStatus and with fact writes', async () => {
      const store = await factory()
      const needing = async (): Promise<string[]> => sorted(await collect(store.channels.keyNeededIds()))
      const live = makeChannel({ lifecycle: 'live' })
      const draft = makeChannel({ lifecycle: 'draft', status: 'draft' })
      const gone = makeChannel({ lifecycle: 'live', missingSince: '2024-01-05T00:00:00.000Z' })
      for (const c of [live, draft, gone]) await store.channels.putIfNewer(c)
      expect(await needing()).toEqual([live.channelId])

      // Provisioning stores a key: the channel leaves the list; a refusal (permission_missing) too.
      const status = (
        keyStatus: 'none' | 'active' | 'permission_missing' | 'invalid',
        keyNeeded: boolean,
      ) => ({
        keyStatus,
        keyNeeded,
      })
      expect(
        await store.channels.setKeyStatus(live.channelId, status('active', false), live.contentHash),
      ).toBe('written')
      expect(await needing()).toEqual([])
      // Back to `none` (a new permission): listed again.
      expect(await store.channels.setKeyStatus(live.channelId, status('none', true), live.contentHash)).toBe(
        'written',
      )
      expect(await needing()).toEqual([live.channelId])
      expect(
        await store.channels.setKeyStatus(live.channelId, status('active', false), live.contentHash),
      ).toBe('written')

      // Facts written without a read: a fact on a channel with a key leaves it out of the list...
      const fact = {
        ...live,
        displayName: 'Renamed',
        orderKey: '2024-01-04T00:00:00.000Z#50',
        contentHash: 'h2',
      }
      expect((await store.channels.writeFact(fact, FACT_SPEC)).outcome).toBe('written')
      expect(await needing()).toEqual([])
      // ...a channel that becomes ready by a fact (no key yet) enters it, and leaves it when terminated.
      const onboarding = makeChannel({ lifecycle: 'onboarding', status: 'submitted' })
      expect((await store.channels.writeFact(onboarding, FACT_SPEC)).outcome).toBe('written')
      expect(await needing()).toEqual([])
      const ready = {
        ...onboarding,
        lifecycle: 'live' as const,
        status: 'running',
        orderKey: '2024-01-04T00:00:00.000Z#50',
        contentHash: 'h-ready',
      }
      expect((await store.channels.writeFact(ready, FACT_SPEC)).outcome).toBe('written')
      expect(await needing()).toEqual([onboarding.channelId])
      const ended = {
        ...ready,
        lifecycle: 'terminated' as const,
        terminatedAt: '2024-01-06T00:00:00.000Z',
        orderKey: '2024-01-06T00:00:00.000Z#50',
        contentHash: 'h-ended',
      }
      expect((await store.channels.writeFact(ended, FACT_SPEC)).outcome).toBe('written')
      expect(await needing()).toEqual([])
    })

    it("keeps the client's legal name on its channels: the newest client write wins, q finds it, a fact keeps it", async () => {
      const store = await factory()
      const a = makeChannel({
        companyName: 'Nordlicht',
        displayName: 'Support',
        clientId: 'client-a',
        partnerPayload: 'crm-1',
      })
      const other = makeChannel({ companyName: 'Aurora', displayName: 'Shop', clientId: 'client-b' })
      await store.channels.putIfNewer(a)
      await store.channels.putIfNewer(other)
      const copy = (value: string | null, clientOrderKey: string) => ({ value, clientOrderKey })
      const q = async (text: string): Promise<string[]> =>
        sorted(
          (await walk((cursor) => store.channels.list({ q: text, limit: 1, cursor }), 1)).items.map(
            (c) => c.channelId,
          ),
        )

      expect(
        await store.channels.setClientOrganisation(
          a.channelId,
          'client-a',
          copy('Nordlicht Logistik GmbH', 'k2'),
        ),
      ).toBe('written')
      // Order key and content hash untouched: a poll of the same channel sees no change.
      expect(await store.channels.get(a.channelId)).toEqual({
        ...a,
        clientOrganisation: copy('Nordlicht Logistik GmbH', 'k2'),
      })
      expect(await q('LOGISTIK gmbh')).toEqual([a.channelId])
      expect(await q('logistik gmbh')).toEqual(sorted([a.channelId]))
      // An older client write's copy arrives late: refused. Another client's, or a missing channel: refused.
      expect(
        await store.channels.setClientOrganisation(a.channelId, 'client-a', copy('Old Name AG', 'k1')),
      ).toBe('stale')
      expect(
        await store.channels.setClientOrganisation(a.channelId, 'client-b', copy('Aurora S.r.l.', 'k9')),
      ).toBe('stale')
      expect(await store.channels.setClientOrganisation('missing-channel', 'client-a', copy('X', 'k9'))).toBe(
        'stale',
      )
      expect(await store.channels.get('missing-channel')).toBeNull()
      expect(await q('old name')).toEqual([])
      expect(await q('aurora')).toEqual([other.channelId])

      // A newer fact written without a read (it knows nothing of the legal name) keeps it, and so
      // does a guarded put of a record read with it.
      const spec = { carried: ['companyName', 'partnerPayload'], sticky: [] }
      const fact = {
        ...a,
        displayName: 'Renamed',
        orderKey: '2024-01-05T00:00:00.000Z#50',
        contentHash: 'h2',
      }
      expect((await store.channels.writeFact(fact, spec)).outcome).toBe('written')
      const stored = (await store.channels.get(a.channelId)) as Channel
      expect(stored.clientOrganisation).toEqual(copy('Nordlicht Logistik GmbH', 'k2'))
      const put = {
        ...stored,
        displayName: 'Renamed again',
        orderKey: '2024-01-06T00:00:00.000Z#50',
        contentHash: 'h3',
      }
      expect(await store.channels.putIfNewer(put, stored.contentHash)).toBe('written')
      expect(await q('logistik gmbh')).toEqual([a.channelId])

      // A newer client write without an organisation: the legal name is gone from the search.
      expect(await store.channels.setClientOrganisation(a.channelId, 'client-a', copy(null, 'k3'))).toBe(
        'written',
      )
      expect(await q('logistik gmbh')).toEqual([])
      expect(await q('nordlicht')).toEqual([a.channelId])
    })

    it('sets an initial field only where the item has none: the legal-name placeholder never replaces a copy', async () => {
      const store = await factory()
      const spec = { carried: ['companyName', 'partnerPayload'], sticky: [], initial: ['clientOrganisation'] }
      const none = { value: null, clientOrderKey: '' }
      const copy = { value: 'Nordlicht Logistik GmbH', clientOrderKey: '2024-01-03T00:00:00.000Z#90' }
      // With the fact's own company name and payload (the search text needs no read).
      const a = makeChannel({
        clientId: 'client-a',
        partnerPayload: 'crm-1',
        orderKey: '2024-01-01T00:00:00.000Z#50',
      })
      const fact = (n: number) => ({
        ...a,
        displayName: `Support ${n}`,
        orderKey: `2024-01-0${n}T00:00:00.000Z#50`,
        contentHash: `h${n}`,
        clientOrganisation: none,
      })
      // A new item takes the placeholder; the old image says there was no item.
      const first = await store.channels.writeFact(fact(2), spec)
      expect(first).toMatchObject({ outcome: 'written', previous: null })
      expect((await store.channels.get(a.channelId))?.clientOrganisation).toEqual(none)
      // The next fact leaves it as stored, and its old image shows it was there.
      const second = await store.channels.writeFact(fact(3), spec)
      expect(second.outcome === 'written' && second.previous?.clientOrganisation).toEqual(none)
      // A client write's copy replaces the placeholder (lowest order key) …
      expect(await store.channels.setClientOrganisation(a.channelId, 'client-a', copy)).toBe('written')
      // … and a later fact, which carries the placeholder, keeps the copy.
      const third = await store.channels.writeFact(fact(4), spec)
      expect(third.outcome === 'written' && third.record.clientOrganisation).toEqual(copy)
      expect(await store.channels.get(a.channelId)).toEqual({ ...fact(4), clientOrganisation: copy })
      // The placeholder holds no name: no search finds it.
      expect((await store.channels.list({ q: 'nordlicht logistik', limit: 10 })).items).toHaveLength(1)
      const b = makeChannel({
        clientId: 'client-b',
        displayName: 'Shop',
        companyName: 'Aurora',
        partnerPayload: 'p',
      })
      await store.channels.writeFact({ ...b, clientOrganisation: none }, spec)
      expect((await store.channels.list({ q: 'null', limit: 10 })).items).toEqual([])
      expect((await store.channels.list({ q: 'aurora', limit: 10 })).items.map((c) => c.channelId)).toEqual([
        b.channelId,
      ])
    })

    it('writes by expected version and marks absence only on the expected version', async () => {
      const store = await factory()
      const channel = makeChannel({ orderKey: 'k1' })
      expect(await store.channels.putIfVersion(channel, null)).toBe('written')
      expect(await store.channels.putIfVersion({ ...channel, orderKey: 'k2' }, 'k0')).toBe('stale')
      expect(await store.channels.markAbsence(channel.channelId, 'k0', 1, null)).toBe('stale')
      expect(await store.channels.markAbsence('missing-channel', 'k1', 1, null)).toBe('stale')
      expect(await store.channels.markAbsence(channel.channelId, 'k1', 2, '2024-04-01T00:00:00.000Z')).toBe(
        'written',
      )
      expect(await store.channels.get(channel.channelId)).toEqual({
        ...channel,
        absentRuns: 2,
        missingSince: '2024-04-01T00:00:00.000Z',
      })
    })

    it('lists by client, lifecycle, both, or all; every channel exactly once', async () => {
      const store = await factory()
      const channels: Channel[] = []
      for (let i = 0; i < 21; i++) {
        const lifecycle = LIFECYCLES[i % LIFECYCLES.length] as Lifecycle
        channels.push(makeChannel({ clientId: i % 2 === 0 ? 'client-a' : 'client-b', lifecycle }))
      }
      for (const c of channels) await store.channels.putIfNewer(c)
      const ids = (list: Channel[]): string[] => sorted(list.map((c) => c.channelId))
      const cases: { query: { clientId?: string; lifecycle?: Lifecycle }; expected: Channel[] }[] = [
        { query: {}, expected: channels },
        { query: { clientId: 'client-a' }, expected: channels.filter((c) => c.clientId === 'client-a') },
        { query: { lifecycle: 'live' }, expected: channels.filter((c) => c.lifecycle === 'live') },
        {
          query: { clientId: 'client-b', lifecycle: 'draft' },
          expected: channels.filter((c) => c.clientId === 'client-b' && c.lifecycle === 'draft'),
        },
        { query: { clientId: 'nobody' }, expected: [] },
      ]
      for (const { query, expected } of cases) {
        for (const limit of [1, 4, 100]) {
          const { items } = await walk((cursor) => store.channels.list({ ...query, limit, cursor }), limit)
          expect(ids(items)).toEqual(ids(expected))
        }
      }
      const pageA = await store.channels.list({ clientId: 'client-a', limit: 2 })
      await expectInvalidCursor(() =>
        store.channels.list({ clientId: 'client-b', limit: 2, cursor: pageA.nextCursor as string }),
      )
      await expectInvalidCursor(() => store.channels.list({ limit: 2, cursor: pageA.nextCursor as string }))
      expect(ids(await store.channels.listByClient('client-b'))).toEqual(
        ids(channels.filter((c) => c.clientId === 'client-b')),
      )
      expect(await store.channels.listByClient('nobody')).toEqual([])
    })

    it('filters by quality, tier, account mode, health and search, alone and combined, every page', async () => {
      const store = await factory()
      const ratings = ['GREEN', 'GREEN', 'YELLOW', 'RED', 'NA', null, 'UNKNOWN'] as const
      const limits = ['TIER_1K', 'TIER_10K', null, 'TIER_250'] as const
      const health = [{ status: 'AVAILABLE' }, { status: 'BLOCKED' }, { status: 'connected' }, null]
      const channels: Channel[] = []
      for (let i = 0; i < 28; i++) {
        const ch = makeChannel({
          clientId: i % 3 === 0 ? 'client-a' : 'client-b',
          lifecycle: i % 4 === 0 ? 'onboarding' : 'live',
          accountMode: i % 5 === 0 ? 'sandbox' : 'live',
          qualityRating: ratings[i % ratings.length] ?? null,
          messagingLimit: limits[i % limits.length] ?? null,
          phoneNumber: i % 6 === 0 ? null : `+49 151 ${String(1000 + i)}`,
          displayName: i % 7 === 0 ? 'Harbour Café' : `Shop ${i}`,
          companyName: i % 2 === 0 ? 'Nordlicht GmbH' : 'Aurora S.r.l.',
          partnerPayload: i % 9 === 0 ? `crm-${i}` : null,
        })
        channels.push({ ...ch, health: health[i % health.length] } as Channel)
      }
      for (const c of channels) await store.channels.putIfNewer(c)
      const ids = (list: Channel[]): string[] => sorted(list.map((c) => c.channelId))
      const filters: ChannelFilter[] = [
        { quality: 'GREEN' },
        { quality: 'RED' },
        { quality: 'UNKNOWN' },
        { messagingLimit: 'tier_1k' },
        { accountMode: 'sandbox' },
        { health: 'available' },
        { health: 'CONNECTED' },
        { q: '491511003' },
        { q: '+49 151 1005' },
        { q: 'harbour' },
        { q: 'AURORA' },
        { q: 'crm-9' },
        { quality: 'GREEN', lifecycle: 'live' },
        { clientId: 'client-b', quality: 'GREEN', accountMode: 'live' },
        { quality: 'YELLOW', messagingLimit: 'TIER_10K', q: 'shop' },
        { health: 'BLOCKED', accountMode: 'live', q: 'nordlicht' },
        { lifecycle: 'live', accountMode: 'sandbox', q: 'shop' },
        { quality: 'RED', q: 'nobody' },
      ]
      for (const filter of filters) {
        const expected = channels.filter((c) => channelMatches(c, filter))
        for (const limit of [1, 3, 100]) {
          const { items } = await walk((cursor) => store.channels.list({ ...filter, limit, cursor }), limit)
          expect({ filter, ids: ids(items) }).toEqual({ filter, ids: ids(expected) })
        }
      }
      expect(channels.filter((c) => channelMatches(c, { quality: 'GREEN' })).length).toBeGreaterThan(3)
      // A cursor belongs to its filters: another value of the same filter refuses it.
      const page = await store.channels.list({ quality: 'GREEN', limit: 1 })
      await expectInvalidCursor(() =>
        store.channels.list({ quality: 'RED', limit: 1, cursor: page.nextCursor as string }),
      )
      await expectInvalidCursor(() =>
        store.channels.list({ quality: 'GREEN', q: 'shop', limit: 1, cursor: page.nextCursor as string }),
      )
      expect(await store.channels.countByQuality()).toEqual({
        GREEN: channels.filter((c) => c.qualityRating === 'GREEN').length,
        YELLOW: channels.filter((c) => c.qualityRating === 'YELLOW').length,
        RED: channels.filter((c) => c.qualityRating === 'RED').length,
        UNKNOWN: channels.filter((c) => c.qualityRating === 'NA' || c.qualityRating === 'UNKNOWN').length,
      })
      // The storage-only keys never leak into what is read back.
      expect(Object.keys((await store.channels.get(channels[1]?.channelId as string)) ?? {}).sort()).toEqual(
        Object.keys(channels[1] as Channel).sort(),
      )
    })

    it('searches clients in name, organisation, contact email and payload, with and without status', async () => {
      const store = await factory()
      const clients = [
        makeClient({ name: 'Harbour Cafe', organisation: 'Harbour Gastro GmbH', status: 'active' }),
        makeClient({
          name: 'Aurora',
          organisation: null,
          contactEmail: 'Owner@Aurora.example',
          status: 'active',
        }),
        makeClient({ name: 'Nordlicht', partnerPayload: 'crm-42', status: 'inactive' }),
        makeClient({
          name: null,
          organisation: null,
          contactEmail: null,
          partnerPayload: null,
          status: null,
        }),
      ]
      for (const c of clients) await store.clients.putIfNewer(c)
      const ids = async (query: { status?: string; q?: string }): Promise<string[]> => {
        const { items } = await walk((cursor) => store.clients.list({ ...query, limit: 1, cursor }), 1)
        return sorted(items.map((c) => c.clientId))
      }
      const [harbour, aurora, nordlicht] = clients.map((c) => c.clientId)
      expect(await ids({ q: 'gastro' })).toEqual([harbour])
      expect(await ids({ q: 'owner@aurora' })).toEqual([aurora])
      expect(await ids({ q: 'CRM-42' })).toEqual([nordlicht])
      expect(await ids({ q: 'crm-42', status: 'active' })).toEqual([])
      expect(await ids({ q: 'a', status: 'active' })).toEqual(sorted([harbour, aurora] as string[]))
      expect(Object.keys((await store.clients.get(harbour as string)) ?? {}).sort()).toEqual(
        Object.keys(clients[0] as object).sort(),
      )
    })

    it('finds channels by phone number and counts them by lifecycle', async () => {
      const store = await factory()
      expect(await store.channels.countByLifecycle()).toEqual(
        Object.fromEntries(LIFECYCLES.map((l) => [l, 0])),
      )
      const a = makeChannel({ phoneNumber: '+491', lifecycle: 'live' })
      const b = makeChannel({ phoneNumber: '+491', lifecycle: 'terminated' })
      const c = makeChannel({ phoneNumber: null, lifecycle: 'live' })
      const d = makeChannel({ phoneNumber: '+492', lifecycle: 'onboarding' })
      for (const ch of [a, b, c, d]) await store.channels.putIfNewer(ch)
      expect(sorted((await store.channels.findByPhoneNumber('+491')).map((x) => x.channelId))).toEqual(
        sorted([a.channelId, b.channelId]),
      )
      expect(await store.channels.findByPhoneNumber('+499')).toEqual([])
      expect(await store.channels.findByPhoneNumber('+492')).toEqual([d])
      expect(await store.channels.countByLifecycle()).toEqual({
        draft: 0,
        onboarding: 1,
        error: 0,
        live: 2,
        pending_deletion: 0,
        terminated: 1,
      })
      // A lifecycle change moves the channel between counts.
      await store.channels.putIfNewer({ ...c, lifecycle: 'terminated', orderKey: `${c.orderKey}z` })
      expect((await store.channels.countByLifecycle()).live).toBe(1)
      expect((await store.channels.countByLifecycle()).terminated).toBe(2)
    })

    it('scans every channel and yields digests with absence bookkeeping', async () => {
      const store = await factory()
      const channels = Array.from({ length: 7 }, (_, i) => makeChannel({ absentRuns: i % 3 }))
      for (const c of channels) await store.channels.putIfNewer(c)
      const pages: Channel[][] = []
      for await (const page of store.channels.scan(3)) pages.push(page)
      expect(pages.every((p) => p.length > 0 && p.length <= 3)).toBe(true)
      expect(sorted(pages.flat().map((c) => c.channelId))).toEqual(sorted(channels.map((c) => c.channelId)))
      expect(pages.flat().find((c) => c.channelId === channels[0]?.channelId)).toEqual(channels[0])
      const digests = await scanAll(store.channels)
      expect(digests).toHaveLength(7)
      for (const c of channels) {
        expect(digests).toContainEqual({
          id: c.channelId,
          orderKey: c.orderKey,
          contentHash: c.contentHash,
          absentRuns: c.absentRuns,
          missingSince: null,
        })
      }
    })
  })

  describe('digest scan (missing detection)', () => {
    it('splits the stored channels between parallel segments, each read once, resumable from any position', async () => {
      const store = await factory()
      const channels = Array.from({ length: 23 }, () => makeChannel())
      for (const c of channels) await store.channels.putIfNewer(c)
      const ids = sorted(channels.map((c) => c.channelId))
      // One segment, pages of 5: every channel once, each page continuing at the position before it.
      expect(sorted((await scanAll(store.channels, 1, 5)).map((d) => d.id))).toEqual(ids)
      // Four segments, pages of 3: together every channel exactly once.
      expect(sorted((await scanAll(store.channels, 4, 3)).map((d) => d.id))).toEqual(ids)
      // A position saved as a string continues where its page ended, in another call.
      const first = await store.channels.scanDigests({ segment: 0, segments: 1, start: null, limit: 4 })
      expect(first.items).toHaveLength(4)
      expect(typeof first.next).toBe('string')
      const rest: Digest[] = []
      let start = JSON.parse(JSON.stringify(first.next)) as string | null
      while (start !== null) {
        const page = await store.channels.scanDigests({ segment: 0, segments: 1, start, limit: 4 })
        rest.push(...page.items)
        start = page.next
      }
      expect(sorted([...first.items, ...rest].map((d) => d.id))).toEqual(ids)
    })
  })

  describe('fact writes without a read (writeFact)', () => {
    const spec = { carried: ['violation', 'contactEmail', 'companyName'], sticky: ['cancellationProcessed'] }

    it('creates, then accepts only a newer fact, keeping carried fields the fact does not know', async () => {
      const store = await factory()
      const first = makeChannel({ violation: null, contactEmail: 'ops@acme.example' })
      expect(await store.channels.writeFact(first, spec)).toEqual({
        outcome: 'written',
        previous: null,
        record: first,
      })
      // A notice marks the channel; the next fact knows nothing of it, nor of the company name.
      const marked = {
        ...first,
        violation: { type: 'spam', restricted: false, at: '2024-01-03T00:00:00.000Z' },
      }
      expect(await store.channels.putIfNewer({ ...marked, contentHash: 'h-marked' }, first.contentHash)).toBe(
        'written',
      )
      const next = {
        ...first,
        contactEmail: null,
        phoneNumber: null,
        displayName: 'Renamed',
        orderKey: '2024-01-05T00:00:00.000Z#50',
        contentHash: 'h2',
      }
      const w = await store.channels.writeFact(next, spec)
      expect(w.outcome).toBe('written')
      const expected = { ...next, contactEmail: 'ops@acme.example', violation: marked.violation }
      expect(w).toMatchObject({ record: expected, previous: { displayName: 'Acme Support' } })
      expect(await store.channels.get(first.channelId)).toEqual(expected)
      // The emptied phone number left the phone index.
      expect(await store.channels.findByPhoneNumber('+4915100000001')).toEqual([])

      // Older, or the same key and content: refused, with the stored item and no change.
      const older = {
        ...next,
        displayName: 'Old',
        orderKey: '2024-01-04T00:00:00.000Z#90',
        contentHash: 'h3',
      }
      expect(await store.channels.writeFact(older, spec)).toEqual({ outcome: 'refused', current: expected })
      expect(await store.channels.writeFact(next, spec)).toEqual({ outcome: 'refused', current: expected })
      // A fact without the company name cannot compute the stored search text: refused with the
      // stored item, for the caller to merge (the read way).
      const nameless = {
        ...next,
        companyName: null,
        orderKey: '2024-01-06T00:00:00.000Z#50',
        contentHash: 'h5',
      }
      expect(await store.channels.writeFact(nameless, spec)).toMatchObject({ outcome: 'refused' })
      // The same key with other content (time changed a derived field) is accepted.
      expect(
        (await store.channels.writeFact({ ...next, lifecycle: 'terminated', contentHash: 'h4' }, spec))
          .outcome,
      ).toBe('written')
    })

    it('refuses a fact that derives a sticky flag unset while it is stored set', async () => {
      const store = await factory()
      const done = makeChannel({ cancellationProcessed: true, lifecycle: 'terminated' })
      await store.channels.writeFact(done, spec)
      const later = {
        ...done,
        cancellationProcessed: false,
        lifecycle: 'live' as const,
        orderKey: '2024-02-01T00:00:00.000Z#50',
        contentHash: 'h9',
      }
      expect(await store.channels.writeFact(later, spec)).toEqual({ outcome: 'refused', current: done })
      const laterDone = { ...later, cancellationProcessed: true, lifecycle: 'terminated' as const }
      expect((await store.channels.writeFact(laterDone, spec)).outcome).toBe('written')
    })

    it('writes clients the same way', async () => {
      const store = await factory()
      const client = makeClient()
      expect(await store.clients.writeFact(client, { carried: [], sticky: [] })).toEqual({
        outcome: 'written',
        previous: null,
        record: client,
      })
      expect(await store.clients.writeFact(client, { carried: [], sticky: [] })).toEqual({
        outcome: 'refused',
        current: client,
      })
      expect(await store.clients.get(client.clientId)).toEqual(client)
    })
  })

  describe('digests by id', () => {
    it('reads the digests of given ids in batches, leaving unknown ids out', async () => {
      const store = await factory()
      const channels = Array.from({ length: 130 }, (_, i) => makeChannel({ absentRuns: i % 2 }))
      for (const c of channels) await store.channels.putIfNewer(c)
      const client = makeClient()
      await store.clients.putIfNewer(client)
      // More than one batch (100 keys), a duplicate and an unknown id.
      const ask = [...channels.map((c) => c.channelId), channels[0]?.channelId as string, 'nope-unknown']
      const got = await store.channels.digestsOf(ask)
      expect(sorted(got.map((d) => d.id))).toEqual(sorted(channels.map((c) => c.channelId)))
      const one = channels[1] as Channel
      expect(got.find((d) => d.id === one.channelId)).toEqual({
        id: one.channelId,
        orderKey: one.orderKey,
        contentHash: one.contentHash,
        absentRuns: one.absentRuns,
        missingSince: null,
      })
      expect(await store.channels.digestsOf([])).toEqual([])
      expect((await store.clients.digestsOf([client.clientId, 'nope'])).map((d) => d.id)).toEqual([
        client.clientId,
      ])
    })
  })

  describe('reconciliation state', () => {
    it('saves the state with compare-and-set on its version', async () => {
      const store = await factory()
      expect(await store.ops.getReconcileState()).toBeNull()
      const state = { version: 1, watermark: '2026-01-15T10:00:00.000Z', lastFullSweep: null, sweep: null }
      expect(await store.ops.saveReconcileState(state, 1)).toBe(false)
      expect(await store.ops.saveReconcileState(state, null)).toBe(true)
      expect(await store.ops.saveReconcileState({ ...state, version: 2 }, null)).toBe(false)
      expect(await store.ops.getReconcileState()).toEqual(state)
      const next = {
        ...state,
        version: 2,
        lastFullSweep: { sweepId: 's1', startedAt: state.watermark, completedAt: state.watermark },
      }
      expect(await store.ops.saveReconcileState(next, 1)).toBe(true)
      expect(await store.ops.saveReconcileState({ ...next, version: 3 }, 1)).toBe(false)
      expect(await store.ops.getReconcileState()).toEqual(next)
    })

    it('keeps the seen-id chunks of a sweep per list, binary intact', async () => {
      const store = await factory()
      const a = new Uint8Array(new Uint32Array([1, 2, 0xffffffff]).buffer)
      const b = new Uint8Array(new Uint32Array([7]).buffer)
      await store.ops.saveSeenChunk('sw1', 'channels', 0, a, 2_000_000_000)
      await store.ops.saveSeenChunk('sw1', 'channels', 1, b, 2_000_000_000)
      await store.ops.saveSeenChunk('sw1', 'clients', 0, b, 2_000_000_000)
      // Saving a chunk index again replaces it (a resumed invocation redoing its last pages).
      await store.ops.saveSeenChunk('sw1', 'channels', 1, b, 2_000_000_000)
      const chunks: number[][] = []
      for await (const c of store.ops.seenChunks('sw1', 'channels')) chunks.push([...c])
      expect(chunks.sort()).toEqual([[...a], [...b]].sort())
      const none: Uint8Array[] = []
      for await (const c of store.ops.seenChunks('sw2', 'channels')) none.push(c)
      expect(none).toEqual([])
    })
  })

  describe('webhook events', () => {
    it('creates once and counts duplicate deliveries', async () => {
      const store = await factory()
      const event = makeEvent()
      expect(await store.events.putNew(event)).toEqual({ outcome: 'created' })
      // A duplicate comes back as stored (first body), after its own delivery count.
      expect(await store.events.putNew({ ...event, body: 'other body' })).toEqual({
        outcome: 'duplicate',
        existing: { ...event, deliveries: 2 },
      })
      expect(await store.events.putNew(event)).toEqual({
        outcome: 'duplicate',
        existing: { ...event, deliveries: 3 },
      })
      expect(await store.events.get(event.eventKey)).toEqual({ ...event, deliveries: 3 })
      expect(await store.events.get('missing')).toBeNull()
    })

    it('lists pending events received before a time, oldest first, up to a limit', async () => {
      const store = await factory()
      const at = (m: number): string => `2024-05-01T10:${String(m).padStart(2, '0')}:00.000Z`
      const events = [5, 1, 3, 9, 7].map((m) => makeEvent({ receivedAt: at(m) }))
      const applied = makeEvent({ receivedAt: at(0), status: 'applied', appliedAt: at(0) })
      for (const e of [...events, applied]) await store.events.putNew(e)
      const pending = await store.events.listPending(at(8), 10)
      expect(pending.map((e) => e.receivedAt)).toEqual([at(1), at(3), at(5), at(7)])
      expect(pending[0]).toEqual(events[1])
      expect((await store.events.listPending(at(8), 2)).map((e) => e.receivedAt)).toEqual([at(1), at(3)])
      expect(await store.events.countPending(at(8), 10)).toBe(4)
      expect(await store.events.countPending(at(8), 3)).toBe(3)
      expect(await store.events.countPending(at(0), 10)).toBe(0)

      await store.events.markOutcome(events[1]?.eventKey as string, 'applied', null, at(20))
      await store.events.markOutcome(events[2]?.eventKey as string, 'rejected', 'bad payload', at(21))
      expect((await store.events.listPending(at(8), 10)).map((e) => e.receivedAt)).toEqual([at(5), at(7)])
      expect(await store.events.countPending(at(8), 10)).toBe(2)
      expect(await store.events.get(events[2]?.eventKey as string)).toEqual({
        ...events[2],
        status: 'rejected',
        reason: 'bad payload',
        appliedAt: at(21),
      })
      expect(await store.events.markOutcome('never-stored', 'applied', null, at(22))).toBe(false)
      expect(await store.events.get('never-stored')).toBeNull()
    })

    it('records an outcome only while the event is pending when asked to (the first completion wins)', async () => {
      const store = await factory()
      const event = makeEvent({ receivedAt: '2024-05-01T10:00:00.000Z' })
      await store.events.putNew(event)
      const at = '2024-05-01T10:00:01.000Z'
      expect(
        await store.events.markOutcome(event.eventKey, 'applied', null, at, { onlyIfPending: true }),
      ).toBe(true)
      expect(
        await store.events.markOutcome(event.eventKey, 'stale', null, '2024-05-01T10:00:02.000Z', {
          onlyIfPending: true,
        }),
      ).toBe(false)
      expect(await store.events.get(event.eventKey)).toMatchObject({ status: 'applied', appliedAt: at })
      expect(await store.events.countPending('2024-05-02T00:00:00.000Z', 10)).toBe(0)
      // Without the option (replay), whatever the status.
      expect(await store.events.markOutcome(event.eventKey, 'stale', null, at)).toBe(true)
      expect(
        await store.events.markOutcome('never-stored', 'applied', null, at, { onlyIfPending: true }),
      ).toBe(false)
    })

    it('lists events received since a time, page by page', async () => {
      const store = await factory()
      const events = Array.from({ length: 12 }, (_, i) =>
        makeEvent({
          receivedAt: `2024-05-0${1 + (i % 3)}T00:00:00.000Z`,
          status: i % 2 ? 'applied' : 'pending',
        }),
      )
      for (const e of events) await store.events.putNew(e)
      const since = await collect(store.events.listSince('2024-05-02T00:00:00.000Z'))
      expect(sorted(since.map((e) => e.eventKey))).toEqual(
        sorted(events.filter((e) => e.receivedAt >= '2024-05-02T00:00:00.000Z').map((e) => e.eventKey)),
      )
      expect(since.find((e) => e.eventKey === events[1]?.eventKey)).toEqual(events[1])
      expect(await collect(store.events.listSince('2025-01-01T00:00:00.000Z'))).toEqual([])
    })
  })

  describe('cancellations', () => {
    it('writes with optimistic concurrency on version', async () => {
      const store = await factory()
      const record = makeCancellation()
      expect(await store.cancellations.get(record.channelId)).toBeNull()
      expect(await store.cancellations.put(record, 1)).toBe(false)
      expect(await store.cancellations.put(record, null)).toBe(true)
      expect(await store.cancellations.put(record, null)).toBe(false)
      const next = {
        ...record,
        state: 'confirmed' as const,
        version: 2,
        inFlight: { owner: 'w1', until: '2024-05-01T10:01:00.000Z' },
      }
      expect(await store.cancellations.put(next, 1)).toBe(true)
      expect(await store.cancellations.put({ ...next, version: 3, state: 'failed' }, 1)).toBe(false)
      expect(await store.cancellations.get(record.channelId)).toEqual(next)
    })
  })

  describe('audit', () => {
    it('appends and lists one subject in time order, page by page', async () => {
      const store = await factory()
      const entries = Array.from({ length: 11 }, (_, i) => makeAudit('channel#A', i))
      for (const e of [...entries].reverse()) await store.audit.append(e)
      await store.audit.append(makeAudit('channel#B', 99))
      const all = await walk((cursor) => store.audit.list('channel#A', 4, cursor), 4)
      expect(all.pages).toBe(3)
      expect(all.items).toEqual(entries)
      expect((await store.audit.list('channel#B', 10)).items).toEqual([makeAudit('channel#B', 99)])
      expect(await store.audit.list('channel#none', 10)).toEqual({ items: [], nextCursor: null })
      const page = await store.audit.list('channel#A', 4)
      await expectInvalidCursor(() => store.audit.list('channel#B', 4, page.nextCursor as string))
      await expectInvalidCursor(() => store.audit.list('channel#A', 4, 'garbage.garbage'))
    })
  })

  describe('idempotency', () => {
    it('begins once and returns the existing record afterwards', async () => {
      const store = await factory()
      const record = makeIdem()
      expect(await store.idempotency.begin(record)).toEqual({ created: true })
      expect(await store.idempotency.begin({ ...record, requestHash: 'other' })).toEqual({
        created: false,
        existing: record,
      })
    })

    it('takes over an in_flight record only on the previous lock', async () => {
      const store = await factory()
      const record = makeIdem()
      await store.idempotency.begin(record)
      const taken = { ...record, lockedUntil: '2024-05-01T10:05:00.000Z' }
      expect(await store.idempotency.takeOver(taken, '2024-05-01T09:00:00.000Z')).toBe(false)
      expect(await store.idempotency.takeOver(makeIdem(), record.lockedUntil)).toBe(false)
      expect(await store.idempotency.takeOver(taken, record.lockedUntil)).toBe(true)
      expect(await store.idempotency.takeOver({ ...taken, lockedUntil: 'x' }, record.lockedUntil)).toBe(false)
      expect(await store.idempotency.begin(record)).toEqual({ created: false, existing: taken })
    })

    it('completes with the stored response and never takes over a completed record', async () => {
      const store = await factory()
      const record = makeIdem()
      await store.idempotency.begin(record)
      const response = {
        statusCode: 202,
        headers: { 'content-type': 'application/json' },
        body: '{"state":"requested"}',
      }
      await store.idempotency.complete(record.scope, record.key, response)
      expect(await store.idempotency.begin(record)).toEqual({
        created: false,
        existing: { ...record, state: 'completed', response },
      })
      expect(await store.idempotency.takeOver(record, record.lockedUntil)).toBe(false)
      // Releasing a completed record keeps it: it still answers replays.
      await store.idempotency.release(record.scope, record.key)
      expect(await store.idempotency.begin(record)).toMatchObject({
        created: false,
        existing: { state: 'completed' },
      })
      await store.idempotency.complete('no-scope', 'no-key', response)
      expect(await store.idempotency.begin(makeIdem({ scope: 'no-scope', key: 'no-key' }))).toEqual({
        created: true,
      })
    })

    it('releases an in_flight record so the key can begin again', async () => {
      const store = await factory()
      const record = makeIdem()
      await store.idempotency.begin(record)
      await store.idempotency.release(record.scope, record.key)
      expect(await store.idempotency.begin(record)).toEqual({ created: true })
      await store.idempotency.release('no-scope', 'no-key')
    })
  })

  describe('ops', () => {
    it('holds a lease exclusively until it expires or is released', async () => {
      const store = await factory()
      const t0 = new Date('2024-05-01T10:00:00.000Z')
      const at = (ms: number): Date => new Date(t0.getTime() + ms)
      expect(await store.ops.acquireLease('poll', 'a', t0, 60_000)).toBe(true)
      expect(await store.ops.acquireLease('poll', 'b', at(1_000), 60_000)).toBe(false)
      expect(await store.ops.acquireLease('other', 'b', at(1_000), 60_000)).toBe(true)
      expect(await store.ops.acquireLease('poll', 'a', at(30_000), 60_000)).toBe(true)
      expect(await store.ops.acquireLease('poll', 'b', at(60_000), 60_000)).toBe(false)
      expect(await store.ops.acquireLease('poll', 'b', at(90_000), 60_000)).toBe(true)
      await store.ops.releaseLease('poll', 'a')
      expect(await store.ops.acquireLease('poll', 'c', at(91_000), 60_000)).toBe(false)
      await store.ops.releaseLease('poll', 'b')
      expect(await store.ops.acquireLease('poll', 'c', at(92_000), 60_000)).toBe(true)
      await store.ops.releaseLease('never', 'x')
    })

    it('keeps the last run and the last successful run', async () => {
      const store = await factory()
      expect(await store.ops.getRunSummaries()).toEqual({ last: null, lastSuccess: null })
      await store.ops.saveRunSummary(makeRun('failed', 'r1'))
      expect(await store.ops.getRunSummaries()).toEqual({ last: makeRun('failed', 'r1'), lastSuccess: null })
      await store.ops.saveRunSummary(makeRun('succeeded', 'r2'))
      await store.ops.saveRunSummary(makeRun('skipped', 'r3'))
      expect(await store.ops.getRunSummaries()).toEqual({
        last: makeRun('skipped', 'r3'),
        lastSuccess: makeRun('succeeded', 'r2'),
      })
    })

    it('keeps the last health sweep and the last one that ran', async () => {
      const store = await factory()
      expect(await store.ops.getHealthSweeps()).toEqual({ last: null, lastRun: null })
      const sweep = (sweepId: string, outcome: HealthSweepSummary['outcome']): HealthSweepSummary => ({
        sweepId,
        startedAt: '2024-05-01T10:00:00.000Z',
        endedAt: null,
        outcome,
        reason: null,
        live: 2,
        checked: 1,
        withoutKey: 1,
        written: 1,
        changed: 1,
        becameUnhealthy: 0,
        failed: 0,
        keysRejected: 0,
        late: 0,
        numberChecks: 1,
        calls: 2,
        byStatus: { ...emptyHealthCounts(), AVAILABLE: 1, unchecked: 1 },
      })
      await store.ops.saveHealthSweep(sweep('s1', 'running'))
      await store.ops.saveHealthSweep(sweep('s2', 'skipped'))
      expect(await store.ops.getHealthSweeps()).toEqual({
        last: sweep('s2', 'skipped'),
        lastRun: sweep('s1', 'running'),
      })
      await store.ops.saveHealthSweep(sweep('s1', 'succeeded'))
      expect(await store.ops.getHealthSweeps()).toEqual({
        last: sweep('s1', 'succeeded'),
        lastRun: sweep('s1', 'succeeded'),
      })
    })

    it('lets one caller take a call slot per window, and only its owner settle it', async () => {
      const store = await factory()
      const t0 = new Date('2026-05-01T10:00:00.000Z')
      const end = t0.getTime() + 30_000
      expect(await store.ops.getCallSlot('balance', 'c1')).toBeNull()
      const raced = await Promise.all(
        ['a', 'b', 'c', 'd'].map((owner) => store.ops.takeCallSlot('balance', 'c1', owner, t0, end)),
      )
      expect(raced.filter(Boolean)).toHaveLength(1)
      const owner = ['a', 'b', 'c', 'd'][raced.indexOf(true)] as string
      expect(await store.ops.getCallSlot('balance', 'c1')).toEqual({
        owner,
        takenAt: t0.getTime(),
        nextCallAt: end,
        state: 'pending',
        outcome: null,
      })
      expect(
        await store.ops.settleCallSlot('balance', 'c1', 'intruder', {
          state: 'ok',
          outcome: '{}',
          nextCallAt: end,
        }),
      ).toBe(false)
      expect(
        await store.ops.settleCallSlot('balance', 'c1', owner, {
          state: 'ok',
          outcome: '{"v":1}',
          nextCallAt: end,
        }),
      ).toBe(true)
      expect(await store.ops.getCallSlot('balance', 'c1')).toMatchObject({ state: 'ok', outcome: '{"v":1}' })
      // Still inside the window: nobody takes it; another key is independent.
      expect(await store.ops.takeCallSlot('balance', 'c1', 'e', new Date(end - 1), end + 30_000)).toBe(false)
      expect(await store.ops.takeCallSlot('balance', 'c2', 'e', t0, end)).toBe(true)
      // At the end of the window the next caller takes it, pending again.
      expect(await store.ops.takeCallSlot('balance', 'c1', 'e', new Date(end), end + 30_000)).toBe(true)
      expect(await store.ops.getCallSlot('balance', 'c1')).toMatchObject({
        owner: 'e',
        state: 'pending',
        outcome: null,
      })
      expect(
        await store.ops.settleCallSlot('balance', 'c1', owner, {
          state: 'ok',
          outcome: '{}',
          nextCallAt: end,
        }),
      ).toBe(false)
    })

    it('keeps the last partner settings check and the failure noted since', async () => {
      const store = await factory()
      expect(await store.ops.getPartnerSettings()).toEqual({ check: null, failure: null })
      const check = {
        partnerId: 'examplePA',
        webhookUrl: 'https://ops.example.com/webhooks/360dialog',
        redirectUrl: null,
        checkedAt: '2026-05-01T10:00:00.000Z',
      }
      await store.ops.savePartnerSettingsCheck(check)
      const failure = { at: '2026-05-01T10:15:00.000Z', code: 'upstream_timeout', message: 'timed out' }
      await store.ops.savePartnerSettingsFailure(failure)
      expect(await store.ops.getPartnerSettings()).toEqual({ check, failure })
      await store.ops.savePartnerSettingsCheck({ ...check, checkedAt: '2026-05-01T10:30:00.000Z' })
      expect(await store.ops.getPartnerSettings()).toEqual({
        check: { ...check, checkedAt: '2026-05-01T10:30:00.000Z' },
        failure: null,
      })
    })

    it('binds a key to the first value only, and answers true again for that value', async () => {
      const store = await factory()
      expect(await store.ops.bindOnce('ref', 'k1', 'clientA', 2_000_000_000)).toBe(true)
      expect(await store.ops.bindOnce('ref', 'k1', 'clientB', 2_000_000_000)).toBe(false)
      expect(await store.ops.bindOnce('ref', 'k1', 'clientA', 2_000_000_000)).toBe(true)
      expect(await store.ops.bindOnce('other', 'k1', 'clientB', 2_000_000_000)).toBe(true)
      const raced = await Promise.all(
        ['x', 'y', 'z'].map((v) => store.ops.bindOnce('ref', 'k2', v, 2_000_000_000)),
      )
      expect(raced.filter(Boolean)).toHaveLength(1)
    })

    it('keeps one quarantine record per kind and key, refreshing it and hiding expired ones', async () => {
      const store = await factory()
      const now = new Date('2026-05-01T10:00:00.000Z')
      const nowS = now.getTime() / 1000
      const record = {
        kind: 'channel' as const,
        id: 'ch1',
        key: 'ch1',
        reason: 'client_id: expected string',
        raw: '{"id":"ch1"}',
        runId: 'r1',
        firstSeenAt: '2026-05-01T09:00:00.000Z',
        lastSeenAt: '2026-05-01T09:00:00.000Z',
      }
      await store.ops.saveQuarantined(record, nowS + 60)
      await store.ops.saveQuarantined(
        {
          ...record,
          runId: 'r2',
          firstSeenAt: '2026-05-01T09:30:00.000Z',
          lastSeenAt: '2026-05-01T09:30:00.000Z',
        },
        nowS + 60,
      )
      await store.ops.saveQuarantined({ ...record, kind: 'client', id: null, key: 'sha256:abc' }, nowS - 1)
      expect(await store.ops.listQuarantined(now, 10)).toEqual([
        { ...record, runId: 'r2', lastSeenAt: '2026-05-01T09:30:00.000Z' },
      ])
      expect(await store.ops.listQuarantined(new Date((nowS - 10) * 1000), 10)).toHaveLength(2)
      expect(await store.ops.listQuarantined(new Date((nowS - 10) * 1000), 1)).toHaveLength(1)
    })

    it('adds to named counters atomically', async () => {
      const store = await factory()
      expect(await store.ops.getCounters('webhook')).toEqual({})
      await store.ops.incrementCounters('webhook', { received: 1, 'duplicate#x': 2 })
      await Promise.all([
        store.ops.incrementCounters('webhook', { received: 1 }),
        store.ops.incrementCounters('webhook', { received: 3, stale: 1 }),
        store.ops.incrementCounters('webhook', {}),
        store.ops.incrementCounters('poll', { pk: 5, expiresAt: 1 }),
      ])
      expect(await store.ops.getCounters('webhook')).toEqual({ received: 5, 'duplicate#x': 2, stale: 1 })
      expect(await store.ops.getCounters('poll')).toEqual({ pk: 5, expiresAt: 1 })
    })

    it("keeps the change-event publisher's last mark and sums what it published", async () => {
      const store = await factory()
      expect(await store.ops.getChangesPublished()).toBeNull()
      await store.ops.markChangesPublished({ changeAt: 't1', publishedAt: 't2', events: 3 })
      await store.ops.markChangesPublished({ changeAt: 't3', publishedAt: 't4', events: 2 })
      expect(await store.ops.getChangesPublished()).toEqual({
        changeAt: 't3',
        publishedAt: 't4',
        published: 5,
      })
    })

    it('consumes fixed-window budgets', async () => {
      const store = await factory()
      const hour = 3_600_000
      const now = new Date('2024-05-01T10:15:00.000Z')
      const results = []
      for (let i = 0; i < 4; i++) results.push(await store.ops.consumeBudget('cancel|ops', now, hour, 3))
      expect(results.map((r) => r.allowed)).toEqual([true, true, true, false])
      expect(results[0]?.retryAfterSeconds).toBe(0)
      expect(results[3]?.retryAfterSeconds).toBe(45 * 60)
      expect(
        await store.ops.consumeBudget('cancel|ops', new Date('2024-05-01T10:59:59.500Z'), hour, 3),
      ).toEqual({
        allowed: false,
        retryAfterSeconds: 1,
      })
      expect(await store.ops.consumeBudget('cancel|other', now, hour, 3)).toEqual({
        allowed: true,
        retryAfterSeconds: 0,
      })
      expect(
        await store.ops.consumeBudget('cancel|ops', new Date('2024-05-01T11:00:00.000Z'), hour, 3),
      ).toEqual({
        allowed: true,
        retryAfterSeconds: 0,
      })
    })

    it.skipIf(limits.nonAtomicConditionalWrites !== undefined)(
      'never grants more than the budget to concurrent callers',
      async () => {
        const store = await factory()
        const now = new Date('2024-05-01T10:15:00.000Z')
        const concurrent = await Promise.all(
          Array.from({ length: 8 }, () => store.ops.consumeBudget('burst', now, 60 * 60 * 1000, 5)),
        )
        expect(concurrent.filter((r) => r.allowed)).toHaveLength(5)
      },
    )
  })
}

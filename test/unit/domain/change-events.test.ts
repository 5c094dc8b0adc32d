import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CHANGE_RULES,
  type ChangeRule,
  changeEventId,
  deriveChangeEvents,
  type ItemImage,
} from '../../../shared/domain/change-events'
import { LIFECYCLES } from '../../../shared/domain/types'

const channel = (over: ItemImage = {}): ItemImage => ({
  channelId: 'Ch1',
  clientId: 'Cl1',
  lifecycle: 'onboarding',
  orderKey: '2026-01-01T00:00:00.000Z#10',
  contentHash: 'h1',
  updatedAt: '2026-01-01T00:00:01.000Z',
  source: 'webhook',
  absentRuns: 0,
  ...over,
})

const cancellation = (over: ItemImage = {}): ItemImage => ({
  channelId: 'Ch1',
  clientId: 'Cl1',
  state: 'requested',
  version: 1,
  updatedAt: '2026-01-02T00:00:00.000Z',
  ...over,
})

describe('deriveChangeEvents', () => {
  it('publishes Channel Discovered for a channel seen for the first time', () => {
    const [e, ...rest] = deriveChangeEvents({ table: 'channels', oldImage: null, newImage: channel() })
    expect(rest).toEqual([])
    expect(e).toEqual({
      detailType: 'Channel Discovered',
      detail: {
        eventId: changeEventId('channels', 'Ch1', 'Channel Discovered', '2026-01-01T00:00:00.000Z#10|h1'),
        clientId: 'Cl1',
        channelId: 'Ch1',
        from: null,
        to: 'onboarding',
        source: 'webhook',
        at: '2026-01-01T00:00:01.000Z',
        version: '2026-01-01T00:00:00.000Z#10',
      },
    })
  })

  it('publishes Client Discovered with the status, or unknown without one', () => {
    const client = {
      clientId: 'Cl1',
      status: null,
      orderKey: 'k',
      contentHash: 'h',
      updatedAt: 't',
      source: 'poll',
    }
    const [e] = deriveChangeEvents({ table: 'clients', oldImage: null, newImage: client })
    expect(e?.detailType).toBe('Client Discovered')
    expect(e?.detail).toMatchObject({ clientId: 'Cl1', from: null, to: 'unknown', source: 'poll' })
    expect(e?.detail.channelId).toBeUndefined()
    const modified = deriveChangeEvents({
      table: 'clients',
      oldImage: client,
      newImage: { ...client, status: 'active', orderKey: 'k2' },
    })
    expect(modified).toEqual([])
  })

  it('publishes Channel Lifecycle Changed with from and to when the lifecycle changes', () => {
    const events = deriveChangeEvents({
      table: 'channels',
      oldImage: channel(),
      newImage: channel({ lifecycle: 'live', orderKey: '2026-01-01T00:05:00.000Z#50', contentHash: 'h2' }),
    })
    expect(events.map((e) => [e.detailType, e.detail.from, e.detail.to])).toEqual([
      ['Channel Lifecycle Changed', 'onboarding', 'live'],
    ])
  })

  it('publishes nothing for a write that changes no fact an event carries', () => {
    const old = channel()
    for (const newImage of [
      channel({ displayName: 'Shop', contentHash: 'h2' }),
      channel({ orderKey: '2026-01-02T00:00:00.000Z#90' }),
      channel({ absentRuns: 1, missingSince: '2026-01-03T00:00:00.000Z' }),
    ]) {
      expect(deriveChangeEvents({ table: 'channels', oldImage: old, newImage })).toEqual([])
    }
    expect(deriveChangeEvents({ table: 'channels', oldImage: old, newImage: null })).toEqual([])
  })

  it('publishes quality and messaging limit changes once those attributes exist on the item', () => {
    const backfill = deriveChangeEvents({
      table: 'channels',
      oldImage: channel(),
      newImage: channel({ qualityRating: 'GREEN', messagingLimit: 'TIER_1K', contentHash: 'h2' }),
    })
    expect(backfill).toEqual([])
    const events = deriveChangeEvents({
      table: 'channels',
      oldImage: channel({ qualityRating: 'GREEN', messagingLimit: null }),
      newImage: channel({ qualityRating: 'RED', messagingLimit: 'TIER_1K', contentHash: 'h3' }),
    })
    expect(events.map((e) => [e.detailType, e.detail.from, e.detail.to])).toEqual([
      ['Channel Quality Changed', 'GREEN', 'RED'],
      ['Channel Messaging Limit Changed', null, 'TIER_1K'],
    ])
    expect(new Set(events.map((e) => e.detail.eventId)).size).toBe(2)
  })

  it('publishes Cancellation State Changed when a record is created or its state moves', () => {
    const created = deriveChangeEvents({ table: 'cancellations', oldImage: null, newImage: cancellation() })
    expect(created.map((e) => [e.detailType, e.detail.from, e.detail.to, e.detail.source])).toEqual([
      ['Cancellation State Changed', null, 'requested', 'api'],
    ])
    const confirmed = deriveChangeEvents({
      table: 'cancellations',
      oldImage: cancellation(),
      newImage: cancellation({ state: 'confirmed', version: 2, source: 'poll' }),
    })
    expect(confirmed.map((e) => [e.detail.from, e.detail.to, e.detail.source, e.detail.version])).toEqual([
      ['requested', 'confirmed', 'poll', '000000000002'],
    ])
    const lockOnly = deriveChangeEvents({
      table: 'cancellations',
      oldImage: cancellation(),
      newImage: cancellation({ version: 2, inFlight: { owner: 'x', until: 'y' } }),
    })
    expect(lockOnly).toEqual([])
  })

  it('takes the rules from the table it is given, so a new event is one more row', () => {
    const rules: ChangeRule[] = [
      ...CHANGE_RULES,
      {
        table: 'channels',
        detailType: 'Channel Health Changed',
        on: 'changed',
        fact: (i) => i.health as string,
      },
    ]
    const events = deriveChangeEvents(
      {
        table: 'channels',
        oldImage: channel({ health: 'AVAILABLE' }),
        newImage: channel({ health: 'BLOCKED' }),
      },
      rules,
    )
    expect(events.map((e) => [e.detailType, e.detail.to])).toEqual([['Channel Health Changed', 'BLOCKED']])
  })

  it('gives the same write the same ids, and a later version of the fact other ids', () => {
    const image = fc.record({
      lifecycle: fc.constantFrom(...LIFECYCLES),
      orderKey: fc.string({ minLength: 1, maxLength: 30 }),
      contentHash: fc.string({ minLength: 4, maxLength: 8 }),
    })
    fc.assert(
      fc.property(image, image, (a, b) => {
        const change = { table: 'channels' as const, oldImage: channel(a), newImage: channel(b) }
        const first = deriveChangeEvents(change).map((e) => e.detail.eventId)
        const again = deriveChangeEvents(structuredClone(change)).map((e) => e.detail.eventId)
        expect(again).toEqual(first)
        expect(first.length).toBe(a.lifecycle === b.lifecycle ? 0 : 1)
        const later = deriveChangeEvents({
          ...change,
          newImage: channel({ ...b, orderKey: `${b.orderKey}~` }),
        }).map((e) => e.detail.eventId)
        for (const id of later) expect(first).not.toContain(id)
      }),
    )
  })
})

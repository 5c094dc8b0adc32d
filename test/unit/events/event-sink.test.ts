import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'
import { createEventBridgeSink } from '../../../shared/adapters/event-sink'
import type { ChangeEvent } from '../../../shared/domain/types'

const eb = mockClient(EventBridgeClient)
afterEach(() => eb.reset())

const event = (i: number): ChangeEvent => ({
  detailType: 'Channel Lifecycle Changed',
  detail: {
    eventId: `id-${i}`,
    clientId: 'Cl1',
    channelId: `Ch${i}`,
    from: 'onboarding',
    to: 'live',
    source: 'webhook',
    at: '2026-01-01T00:00:00.000Z',
    version: 'k',
  },
})
const sink = () => createEventBridgeSink({ busName: 'bus', client: new EventBridgeClient({}) })

describe('EventBridge sink', () => {
  it('sends 10 entries per call, in order, with the change time and the detail as is', async () => {
    eb.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] })
    const events = Array.from({ length: 23 }, (_, i) => event(i))
    expect(await sink().publish(events)).toEqual({ published: 23 })
    const calls = eb.commandCalls(PutEventsCommand).map((c) => c.args[0].input.Entries ?? [])
    expect(calls.map((c) => c.length)).toEqual([10, 10, 3])
    expect(calls[0]?.[0]).toEqual({
      EventBusName: 'bus',
      Source: 'partnerops',
      DetailType: 'Channel Lifecycle Changed',
      Detail: JSON.stringify(event(0).detail),
      Time: new Date('2026-01-01T00:00:00.000Z'),
    })
    expect(calls.flat().map((e) => JSON.parse(e.Detail ?? '{}').eventId)).toEqual(
      events.map((e) => e.detail.eventId),
    )
  })

  it('sends entries refused by FailedEntryCount once more, and only those', async () => {
    eb.on(PutEventsCommand)
      .resolvesOnce({
        FailedEntryCount: 2,
        Entries: [{}, { ErrorCode: 'ThrottlingException' }, {}, { ErrorCode: 'X' }],
      })
      .resolves({ FailedEntryCount: 0, Entries: [{}, {}] })
    expect(await sink().publish([event(0), event(1), event(2), event(3)])).toEqual({ published: 4 })
    const second = eb.commandCalls(PutEventsCommand)[1]?.args[0].input.Entries ?? []
    expect(second.map((e) => JSON.parse(e.Detail ?? '{}').eventId)).toEqual(['id-1', 'id-3'])
  })

  it('answers how many leading events were accepted when an entry is refused twice or a call fails', async () => {
    eb.on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 0, Entries: [] })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{}, {}, { ErrorCode: 'ThrottlingException' }] })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] })
    const events = Array.from({ length: 13 }, (_, i) => event(i))
    const outcome = await sink().publish(events)
    expect(outcome.published).toBe(12)
    expect(String(outcome.error)).toMatch(/ThrottlingException/)
    // Nothing after the refused entry's call was sent: order is kept.
    expect(eb.commandCalls(PutEventsCommand)).toHaveLength(3)

    eb.reset()
    eb.on(PutEventsCommand).rejects(Object.assign(new Error('down'), { name: 'ServiceUnavailable' }))
    const down = await sink().publish(events)
    expect(down.published).toBe(0)
    expect(String(down.error)).toMatch(/ServiceUnavailable/)
  })
})

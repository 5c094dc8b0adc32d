import { marshall } from '@aws-sdk/util-dynamodb'
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { buildEventPublisherHandler } from '../../../functions/event-publisher/handler'
import { localLambdaContext } from '../../../local/handlers'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { noFailureQueue } from '../../../shared/adapters/failure-queue'
import type { AppDeps } from '../../../shared/deps'
import type { ChangeEvent } from '../../../shared/domain/types'
import { loadConfig } from '../../../shared/env'
import { createLogger, createMetrics } from '../../../shared/observability'
import type { EventSink } from '../../../shared/ports'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'

const arn = (table: string): string => `arn:aws:dynamodb:eu-central-1:1:table/${table}/stream/label`
const image = (v: Record<string, unknown>): Record<string, AttributeValue> =>
  marshall(v) as Record<string, AttributeValue>
const channel = (id: string, lifecycle: string, n: number): Record<string, unknown> => ({
  channelId: id,
  clientId: 'Cl1',
  lifecycle,
  orderKey: `k${n}`,
  contentHash: `h${n}`,
  updatedAt: '2026-01-15T09:59:00.000Z',
  source: 'poll',
})
const record = (
  seq: number,
  table: string,
  newImage: Record<string, unknown>,
  oldImage?: Record<string, unknown>,
): DynamoDBRecord => ({
  eventName: oldImage ? 'MODIFY' : 'INSERT',
  eventSourceARN: arn(table),
  dynamodb: {
    ApproximateCreationDateTime: Date.parse('2026-01-15T09:59:58.000Z') / 1000,
    SequenceNumber: String(seq),
    NewImage: image(newImage),
    ...(oldImage ? { OldImage: image(oldImage) } : {}),
  },
})

function harness(events: EventSink) {
  const store = new MemoryStore()
  const deps = {
    config: loadConfig({ PARTNER_ID: 'testPA' }),
    store,
    events,
    failureQueue: noFailureQueue,
    clock: new FakeClock('2026-01-15T10:00:00.000Z'),
    logger: createLogger('publisher-test'),
    metrics: createMetrics('publisher-test'),
  } as unknown as AppDeps
  const handler = buildEventPublisherHandler(deps)
  return {
    store,
    call: (records: DynamoDBRecord[]) =>
      handler({ Records: records }, localLambdaContext('eventPublisher', 1000)),
  }
}

describe('event publisher handler', () => {
  it('publishes the events of each state table in stream order and marks the lag', async () => {
    const sink = createMemoryEventSink()
    const h = harness(sink)
    const out = await h.call([
      record(1, 'partnerops-channels', channel('Ch1', 'onboarding', 1)),
      record(2, 'partnerops-channels', channel('Ch1', 'onboarding', 2), channel('Ch1', 'onboarding', 1)),
      record(3, 'partnerops-channels', channel('Ch1', 'live', 3), channel('Ch1', 'onboarding', 2)),
      record(4, 'partnerops-clients', { clientId: 'Cl1', status: 'active', orderKey: 'k', contentHash: 'h' }),
      record(5, 'partnerops-webhook-events', { eventKey: 'e' }),
    ])
    expect(out).toEqual({ batchItemFailures: [] })
    expect(sink.events.map((e) => [e.detailType, e.detail.from, e.detail.to])).toEqual([
      ['Channel Discovered', null, 'onboarding'],
      ['Channel Lifecycle Changed', 'onboarding', 'live'],
      ['Client Discovered', null, 'active'],
    ])
    expect(await h.store.ops.getChangesPublished()).toEqual({
      changeAt: '2026-01-15T09:59:58.000Z',
      publishedAt: '2026-01-15T10:00:00.000Z',
      published: 3,
    })
  })

  it('reports the record of the first event not accepted, so Lambda retries from there', async () => {
    const accepted: ChangeEvent[] = []
    const sink: EventSink = {
      async publish(events) {
        accepted.push(events[0] as ChangeEvent)
        return { published: 1, error: new Error('ThrottlingException') }
      },
    }
    const h = harness(sink)
    const out = await h.call([
      record(7, 'partnerops-channels', channel('Ch1', 'draft', 1)),
      record(8, 'partnerops-channels', channel('Ch2', 'draft', 1)),
      record(9, 'partnerops-channels', channel('Ch3', 'draft', 1)),
    ])
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: '8' }] })
    expect(accepted.map((e) => e.detail.channelId)).toEqual(['Ch1'])
  })

  it('publishes nothing and asks for no retry when no record changes a fact', async () => {
    let calls = 0
    const h = harness({
      publish: async () => {
        calls++
        return { published: 0 }
      },
    })
    const out = await h.call([
      record(1, 'partnerops-channels', channel('Ch1', 'live', 2), channel('Ch1', 'live', 1)),
    ])
    expect(out).toEqual({ batchItemFailures: [] })
    expect(calls).toBe(0)
    expect(await h.store.ops.getChangesPublished()).toBeNull()
  })
})

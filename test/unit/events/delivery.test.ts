import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as SdkStreamRecord,
} from '@aws-sdk/client-dynamodb-streams'
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge'
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { marshall } from '@aws-sdk/util-dynamodb'
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'
import { buildEventPublisherHandler } from '../../../functions/event-publisher/handler'
import { redriveChangeEvents } from '../../../infra/redrive-change-events'
import { createEventBridgeSink } from '../../../shared/adapters/event-sink'
import { noFailureQueue } from '../../../shared/adapters/failure-queue'
import type { AppDeps } from '../../../shared/deps'
import { deriveChangeEvents } from '../../../shared/domain/change-events'
import { LIFECYCLES } from '../../../shared/domain/types'
import { loadConfig } from '../../../shared/env'
import { createLogger, createMetrics } from '../../../shared/observability'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'

/**
 * The publisher against an EventBridge that fails: 20 % of PutEvents calls throw and another 10 %
 * refuse part of their entries (FailedEntryCount), all from a seeded generator; then every call fails
 * for a stretch, and recovers. The stream's event source mapping is modelled as Lambda runs it: one
 * batch at a time per shard, a partial batch response retries from the reported record (checkpointing
 * the records before it), at most RETRIES retries, then the rest of the batch goes to the on-failure
 * queue, from which the redrive (npm run redrive-events) publishes after the recovery.
 */

const TABLE = 'partnerops-channels'
const STREAM_ARN = `arn:aws:dynamodb:eu-central-1:123456789012:table/${TABLE}/stream/2026-01-01T00:00:00.000`
const SHARD = 'shardId-00000001'
const BATCH = 100
const RETRIES = 5

/** mulberry32: a small seeded generator, so a failure is reproducible. */
function seeded(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Writes to 40 channels: new ones, lifecycle moves, and updates that change nothing an event carries. */
function writes(random: () => number, n: number): DynamoDBRecord[] {
  const items = new Map<string, Record<string, unknown>>()
  const records: DynamoDBRecord[] = []
  for (let i = 1; i <= n; i++) {
    const id = `Ch${String(Math.floor(random() * 40)).padStart(3, '0')}`
    const old = items.get(id) ?? null
    const lifecycle =
      old && random() < 0.4 ? old.lifecycle : LIFECYCLES[Math.floor(random() * LIFECYCLES.length)]
    const next = {
      channelId: id,
      clientId: 'Cl1',
      lifecycle,
      orderKey: `2026-01-01T00:00:${String(i).padStart(5, '0')}Z#50`,
      contentHash: `h${i}`,
      updatedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      source: 'webhook',
    }
    items.set(id, next)
    const image = (v: Record<string, unknown>): Record<string, AttributeValue> =>
      marshall(v) as Record<string, AttributeValue>
    records.push({
      eventName: old ? 'MODIFY' : 'INSERT',
      eventSourceARN: STREAM_ARN,
      dynamodb: {
        ApproximateCreationDateTime: Date.UTC(2026, 0, 1, 0, 0, i) / 1000,
        SequenceNumber: String(i).padStart(21, '0'),
        Keys: image({ channelId: id }),
        NewImage: image(next),
        ...(old ? { OldImage: image(old) } : {}),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    })
  }
  return records
}

const eb = mockClient(EventBridgeClient)
const sqs = mockClient(SQSClient)
const streams = mockClient(DynamoDBStreamsClient)
afterEach(() => {
  eb.reset()
  sqs.reset()
  streams.reset()
})

describe('change events under a failing EventBridge', () => {
  it('publishes every stored change at least once, with repeats only where records were retried', async () => {
    const random = seeded(20_260_101)
    const records = writes(random, 1500)
    const expected = new Map<string, string>()
    for (const r of records) {
      const change = {
        table: 'channels' as const,
        oldImage: r.dynamodb?.OldImage
          ? (unmarshallImage(r.dynamodb.OldImage) as Record<string, unknown>)
          : null,
        newImage: unmarshallImage(r.dynamodb?.NewImage ?? {}),
      }
      for (const e of deriveChangeEvents(change))
        expected.set(e.detail.eventId, r.dynamodb?.SequenceNumber ?? '')
    }
    expect(expected.size).toBeGreaterThan(500)

    // EventBridge: 20 % of calls throw, 10 % refuse some entries, calls 400–999 all throw (the outage).
    const accepted = new Map<string, number>()
    let calls = 0
    let outage = true
    eb.on(PutEventsCommand).callsFake((input: { Entries: PutEventsRequestEntry[] }) => {
      calls++
      if (outage && calls >= 400 && calls < 1000)
        throw Object.assign(new Error('down'), { name: 'ServiceUnavailable' })
      const roll = random()
      if (roll < 0.2) throw Object.assign(new Error('throttled'), { name: 'ThrottlingException' })
      const refuse = roll < 0.3
      const entries = input.Entries.map((entry) => {
        if (refuse && random() < 0.5) return { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }
        const id = (JSON.parse(entry.Detail ?? '{}') as { eventId: string }).eventId
        accepted.set(id, (accepted.get(id) ?? 0) + 1)
        return { EventId: `eb-${calls}` }
      })
      return { FailedEntryCount: entries.filter((e) => 'ErrorCode' in e).length, Entries: entries }
    })

    const store = new MemoryStore()
    const deps = {
      config: loadConfig({ PARTNER_ID: 'testPA', TABLE_CHANNELS: TABLE }),
      store,
      events: createEventBridgeSink({ busName: 'bus', client: new EventBridgeClient({}) }),
      failureQueue: noFailureQueue,
      clock: new FakeClock('2026-01-01T01:00:00.000Z'),
      logger: createLogger('publisher-test'),
      metrics: createMetrics('publisher-test'),
    } as unknown as AppDeps
    const handler = buildEventPublisherHandler(deps)

    // The event source mapping, one shard.
    const deliveries = new Map<string, number>()
    const failureQueue: { start: string; end: string }[] = []
    let pos = 0
    let attempts = 0
    let invocations = 0
    while (pos < records.length) {
      const batch = records.slice(pos, pos + BATCH)
      for (const r of batch) {
        const s = r.dynamodb?.SequenceNumber ?? ''
        deliveries.set(s, (deliveries.get(s) ?? 0) + 1)
      }
      invocations++
      const out = await handler({ Records: batch }, context())
      const failed = out.batchItemFailures[0]?.itemIdentifier
      if (failed === undefined) {
        pos += batch.length
        attempts = 0
        continue
      }
      const at = batch.findIndex((r) => r.dynamodb?.SequenceNumber === failed)
      expect(at).toBeGreaterThanOrEqual(0)
      pos += at
      if (++attempts > RETRIES) {
        const rest = batch.slice(at)
        failureQueue.push({
          start: rest[0]?.dynamodb?.SequenceNumber ?? '',
          end: rest.at(-1)?.dynamodb?.SequenceNumber ?? '',
        })
        pos += rest.length
        attempts = 0
      }
    }
    expect(failureQueue.length).toBeGreaterThan(0)
    const lostBeforeRedrive = [...expected.keys()].filter((id) => !accepted.has(id))
    expect(lostBeforeRedrive.length).toBeGreaterThan(0)

    // EventBridge recovers; the operator runs the redrive: SQS holds the on-failure messages and the
    // stream still holds the records (mocked from the same records, as GetRecords returns them).
    outage = false
    const queue = failureQueue.map((range, i) => ({
      MessageId: `m${i}`,
      ReceiptHandle: `r${i}`,
      Body: JSON.stringify({
        DDBStreamBatchInfo: {
          shardId: SHARD,
          startSequenceNumber: range.start,
          endSequenceNumber: range.end,
          streamArn: STREAM_ARN,
          batchSize: 0,
        },
      }),
    }))
    sqs.on(ReceiveMessageCommand).callsFake(() => ({ Messages: queue.slice(0, 10) }))
    sqs.on(DeleteMessageCommand).callsFake((input: { ReceiptHandle: string }) => {
      queue.splice(
        queue.findIndex((m) => m.ReceiptHandle === input.ReceiptHandle),
        1,
      )
      return {}
    })
    streams.on(GetShardIteratorCommand).callsFake((input: { SequenceNumber: string }) => ({
      ShardIterator: `at:${input.SequenceNumber}`,
    }))
    streams.on(GetRecordsCommand).callsFake((input: { ShardIterator: string; Limit: number }) => {
      const from = records.findIndex((r) => r.dynamodb?.SequenceNumber === input.ShardIterator.slice(3))
      const page = records.slice(from, from + Math.min(input.Limit, 37))
      for (const r of page) {
        const s = r.dynamodb?.SequenceNumber ?? ''
        deliveries.set(s, (deliveries.get(s) ?? 0) + 1)
      }
      const next = records[from + page.length]?.dynamodb?.SequenceNumber
      return {
        Records: page.map(toSdkRecord),
        ...(next ? { NextShardIterator: `at:${next}` } : {}),
      }
    })
    for (let round = 0; round < 20 && queue.length > 0; round++) {
      await redriveChangeEvents({
        sqs: new SQSClient({}),
        streams: new DynamoDBStreamsClient({}),
        sink: deps.events,
        queueUrl: 'https://sqs.example/failures',
        tables: { clients: 'partnerops-clients', channels: TABLE, cancellations: 'partnerops-cancellations' },
        maxMessages: 10,
      })
    }
    expect(queue).toEqual([])

    // None lost; repeats only where the record was delivered more than once (retries, redrive reads).
    const lost = [...expected.keys()].filter((id) => !accepted.has(id))
    expect(lost).toEqual([])
    for (const [id, count] of accepted) {
      const sequence = expected.get(id)
      expect(sequence, `unexpected event ${id}`).toBeDefined()
      expect(count, id).toBeLessThanOrEqual(deliveries.get(sequence ?? '') ?? 0)
    }
    const onceDelivered = [...expected].filter(([, s]) => deliveries.get(s) === 1)
    for (const [id] of onceDelivered) expect(accepted.get(id), id).toBe(1)
    expect(invocations).toBeGreaterThan(records.length / BATCH)
  })
})

function unmarshallImage(image: Record<string, AttributeValue>): Record<string, unknown> {
  // Through the handler's own adapter would hide a shared bug; a JSON round trip of the plain values
  // is enough for the test's expectations (strings and numbers only).
  return Object.fromEntries(
    Object.entries(image).map(([k, v]) => [k, v.S ?? (v.N === undefined ? null : Number(v.N))]),
  )
}

function toSdkRecord(r: DynamoDBRecord): SdkStreamRecord {
  return {
    eventName: r.eventName,
    dynamodb: {
      ...(r.dynamodb as object),
      ApproximateCreationDateTime: new Date((r.dynamodb?.ApproximateCreationDateTime ?? 0) * 1000),
    },
  } as SdkStreamRecord
}

function context(): Parameters<ReturnType<typeof buildEventPublisherHandler>>[1] {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'partnerops-event-publisher-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:partnerops-event-publisher-test',
    memoryLimitInMB: '512',
    awsRequestId: 'test',
    logGroupName: '/aws/lambda/partnerops-event-publisher-test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }
}

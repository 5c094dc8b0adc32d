import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  InternalServerError,
} from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import { mockClient } from 'aws-sdk-client-mock'
import { beforeEach, describe, expect, it } from 'vitest'
import { createDynamoStore } from '../../../../shared/adapters/dynamo/dynamo-store'
import { tableNamesFromConfig } from '../../../../shared/adapters/dynamo/tables'
import { DependencyUnavailableError, ValidationError } from '../../../../shared/domain/errors'
import type { WebhookEventRecord } from '../../../../shared/domain/types'
import { makeChannel, makeClient } from '../../../integration/store/fixtures'

const client = new DynamoDBClient({
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
})
const ddb = mockClient(DynamoDBDocumentClient)
const tables = tableNamesFromConfig({
  TABLE_CLIENTS: 't-clients',
  TABLE_CHANNELS: 't-channels',
  TABLE_EVENTS: 't-events',
  TABLE_CANCELLATIONS: 't-cancellations',
  TABLE_AUDIT: 't-audit',
  TABLE_OPS: 't-ops',
  TABLE_CHANNEL_KEYS: 't-channel-keys',
})
const store = createDynamoStore({ client, tables, cursorSecret: 'unit-secret' })
const conditionFailed = (): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} })

const event: WebhookEventRecord = {
  eventKey: 'ev-1',
  eventType: 'channel_live',
  body: '{"secret":"do-not-log"}',
  receivedAt: '2024-05-01T10:00:00.000Z',
  status: 'pending',
  reason: null,
  appliedAt: null,
  expiresAt: 1_900_000_000,
  deliveries: 1,
}

beforeEach(() => {
  ddb.reset()
})

describe('tableNamesFromConfig', () => {
  it('maps every configured table name to its logical name', () => {
    expect(tables).toEqual({
      clients: 't-clients',
      channels: 't-channels',
      events: 't-events',
      cancellations: 't-cancellations',
      audit: 't-audit',
      ops: 't-ops',
      channelKeys: 't-channel-keys',
    })
  })
})

describe('channels.putIfNewer', () => {
  it('sends one conditional PutItem guarded by orderKey and contentHash', async () => {
    ddb.on(PutCommand).resolves({})
    const channel = makeChannel({ channelId: 'ch1', phoneNumber: '+4915', orderKey: 'k5', contentHash: 'h5' })
    await expect(store.channels.putIfNewer(channel)).resolves.toBe('written')
    expect(ddb.calls()).toHaveLength(1)
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: 't-channels',
      // Storage-only keys: the number's digits, the quality bucket, the tier and the search text;
      // a live channel without a key is listed in the sparse key index.
      Item: {
        ...channel,
        phoneKey: '4915',
        qualityKey: 'GREEN',
        limitKey: 'TIER_1K',
        searchKey: 'acme support\nacme ltd',
        keyNeeded: 'needed',
      },
      ConditionExpression: 'attribute_not_exists(#id) OR (#ok < :k OR (#ok = :k AND #h <> :h))',
      ExpressionAttributeNames: { '#id': 'channelId', '#ok': 'orderKey', '#h': 'contentHash' },
      ExpressionAttributeValues: { ':k': 'k5', ':h': 'h5' },
    })
  })

  it('adds compare-and-set on the content read, or on absence', async () => {
    ddb.on(PutCommand).resolves({})
    const channel = makeChannel({ channelId: 'ch1', phoneNumber: null, orderKey: 'k5', contentHash: 'h5' })
    await store.channels.putIfNewer(channel, 'h4')
    await store.channels.putIfNewer(channel, null)
    const [cas, absent] = ddb.commandCalls(PutCommand).map((c) => c.args[0].input)
    expect(cas).toMatchObject({
      ConditionExpression: '#h = :read AND (#ok < :k OR (#ok = :k AND #h <> :h))',
      ExpressionAttributeNames: { '#ok': 'orderKey', '#h': 'contentHash' },
      ExpressionAttributeValues: { ':k': 'k5', ':h': 'h5', ':read': 'h4' },
    })
    expect(absent).toMatchObject({
      ConditionExpression: 'attribute_not_exists(#id)',
      ExpressionAttributeNames: { '#id': 'channelId' },
    })
    expect(absent?.ExpressionAttributeValues).toBeUndefined()
  })

  it('answers stale when the condition fails', async () => {
    ddb.on(PutCommand).rejects(conditionFailed())
    await expect(store.channels.putIfNewer(makeChannel())).resolves.toBe('stale')
  })

  it('turns any other failure into DependencyUnavailableError without item contents', async () => {
    const cause = new InternalServerError({ message: 'boom', $metadata: {} })
    ddb.on(PutCommand).rejects(cause)
    const client = makeClient({ name: 'Very Secret Name' })
    const error = await store.clients.putIfNewer(client).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as Error).message).toBe('DynamoDB clients.putIfNewer failed (InternalServerError)')
    expect((error as Error).message).not.toContain('Very Secret Name')
    expect((error as Error).cause).toBe(cause)
  })

  it('leaves the index attributes out when there is no phone number, rating, tier, health, text or key need', async () => {
    ddb.on(PutCommand).resolves({})
    const channel = makeChannel({
      phoneNumber: null,
      qualityRating: null,
      messagingLimit: '  ',
      displayName: null,
      companyName: null,
      keyStatus: 'active',
    })
    await store.channels.putIfNewer(channel)
    const item = ddb.commandCalls(PutCommand)[0]?.args[0].input.Item ?? {}
    expect(
      Object.keys(item)
        .filter((k) => item[k] !== undefined)
        .sort(),
    ).toEqual(Object.keys(channel).sort())
  })
})

describe('channels.writeFact and the key-needed index entry', () => {
  const spec = { carried: ['violation'], sticky: ['cancellationProcessed'] }
  const fact = makeChannel({ channelId: 'ch1', orderKey: 'k6', contentHash: 'h6', violation: null })
  const stored = (extra: Record<string, unknown> = {}) => ({
    ...makeChannel({ channelId: 'ch1', orderKey: 'k5', contentHash: 'h5' }),
    ...extra,
  })
  const syncs = () =>
    ddb
      .commandCalls(UpdateCommand)
      .map((c) => c.args[0].input)
      .filter((i) => String(i.UpdateExpression).includes('#kn'))

  it('leaves the entry alone when the item already carries the right one (no second write)', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: stored({ keyNeeded: 'needed' }) })
    expect((await store.channels.writeFact(fact, spec)).outcome).toBe('written')
    expect(syncs()).toEqual([])
    ddb.reset()
    ddb.on(UpdateCommand).resolves({ Attributes: stored({ keyStatus: 'active' }) })
    await store.channels.writeFact(fact, spec)
    expect(syncs()).toEqual([])
  })

  it('adds the entry of a live channel without a key whose item lacks it (written before the index)', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: stored() })
    await store.channels.writeFact(fact, spec)
    expect(syncs()).toEqual([
      expect.objectContaining({
        UpdateExpression: 'SET #kn = :kn',
        ConditionExpression: '#h = :h AND (attribute_not_exists(#ks) OR #ks = :none)',
        ExpressionAttributeValues: { ':h': 'h6', ':none': 'none', ':kn': 'needed' },
      }),
    ])
  })

  it('removes the entry when the fact ends the channel', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: stored({ keyNeeded: 'needed' }) })
    await store.channels.writeFact(
      { ...fact, lifecycle: 'terminated', terminatedAt: '2024-01-06T00:00:00.000Z' },
      spec,
    )
    expect(syncs()).toEqual([expect.objectContaining({ UpdateExpression: 'REMOVE #kn' })])
  })
})

describe('events.putNew', () => {
  it('creates with attribute_not_exists and a pending index attribute', async () => {
    ddb.on(PutCommand).resolves({})
    await expect(store.events.putNew(event)).resolves.toEqual({ outcome: 'created' })
    expect(ddb.calls()).toHaveLength(1)
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input).toEqual({
      TableName: 't-events',
      Item: { ...event, pendingShard: 'p0' },
      ConditionExpression: 'attribute_not_exists(#k)',
      ExpressionAttributeNames: { '#k': 'eventKey' },
    })
  })

  it('counts a duplicate delivery with ADD when the key exists, and returns the stored event from that write', async () => {
    ddb.on(PutCommand).rejects(conditionFailed())
    ddb.on(UpdateCommand).resolves({ Attributes: { ...event, pendingShard: 'p0', deliveries: 2 } })
    await expect(store.events.putNew(event)).resolves.toEqual({
      outcome: 'duplicate',
      existing: { ...event, deliveries: 2 },
    })
    expect(ddb.calls()).toHaveLength(2)
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(1)
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: 't-events',
      Key: { eventKey: 'ev-1' },
      UpdateExpression: 'ADD #d :one',
      ConditionExpression: 'attribute_exists(#k)',
      ExpressionAttributeNames: { '#d': 'deliveries', '#k': 'eventKey' },
      ExpressionAttributeValues: { ':one': 1 },
      ReturnValues: 'ALL_NEW',
    })
  })

  it('stores an already-settled event without the pending index attribute', async () => {
    ddb.on(PutCommand).resolves({})
    const applied = { ...event, status: 'applied' as const, appliedAt: '2024-05-01T10:00:01.000Z' }
    await store.events.putNew(applied)
    expect(ddb.commandCalls(PutCommand)[0]?.args[0].input.Item).toEqual(applied)
  })

  it('gives up with DependencyUnavailableError when the record keeps vanishing (bounded)', async () => {
    ddb.on(PutCommand).rejects(conditionFailed())
    ddb.on(UpdateCommand).rejects(conditionFailed())
    await expect(store.events.putNew(event)).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(ddb.commandCalls(PutCommand)).toHaveLength(3)
  })
})

describe('ops.consumeBudget', () => {
  const now = new Date('2024-05-01T10:15:00.000Z')
  const windowStart = Date.parse('2024-05-01T10:00:00.000Z')

  it('adds one to the window item under the limit condition, with a TTL past the window', async () => {
    ddb.on(UpdateCommand).resolves({})
    await expect(store.ops.consumeBudget('cancel|ops', now, 3_600_000, 20)).resolves.toEqual({
      allowed: true,
      retryAfterSeconds: 0,
    })
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input).toEqual({
      TableName: 't-ops',
      Key: { pk: 'budget#cancel|ops', sk: `window#${windowStart}` },
      UpdateExpression: 'ADD #used :one SET #exp = :exp',
      ConditionExpression: 'attribute_not_exists(#used) OR #used < :limit',
      ExpressionAttributeNames: { '#used': 'used', '#exp': 'expiresAt' },
      ExpressionAttributeValues: {
        ':one': 1,
        ':limit': 20,
        ':exp': (windowStart + 3_600_000) / 1000 + 86_400,
      },
    })
  })

  it('refuses with the seconds left in the window when the limit is reached', async () => {
    ddb.on(UpdateCommand).rejects(conditionFailed())
    await expect(store.ops.consumeBudget('cancel|ops', now, 3_600_000, 20)).resolves.toEqual({
      allowed: false,
      retryAfterSeconds: 2_700,
    })
  })
})

describe('cursors', () => {
  it('refuses a cursor signed with another secret', async () => {
    const other = createDynamoStore({ client, tables, cursorSecret: 'another-secret' })
    ddb
      .on(ScanCommand)
      .resolves({ Items: [{ clientId: 'a' }, { clientId: 'b' }], LastEvaluatedKey: { clientId: 'b' } })
    const page = await other.clients.list({ limit: 1 })
    expect(page.nextCursor).toEqual(expect.any(String))
    const error = await store.clients
      .list({ limit: 1, cursor: page.nextCursor as string })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ValidationError)
    expect(error).toMatchObject({ code: 'invalid_cursor' })
    expect((error as Error).message).toMatch(/^Invalid cursor/)
  })

  it('continues a scan after the last returned item, not after what DynamoDB read ahead', async () => {
    ddb.on(ScanCommand).resolves({ Items: [{ clientId: 'a' }, { clientId: 'b' }, { clientId: 'c' }] })
    const page = await store.clients.list({ limit: 2 })
    expect(page.items).toEqual([{ clientId: 'a' }, { clientId: 'b' }])
    ddb.reset()
    ddb.on(ScanCommand).resolves({ Items: [{ clientId: 'c' }] })
    const next = await store.clients.list({ limit: 2, cursor: page.nextCursor as string })
    expect(next).toEqual({ items: [{ clientId: 'c' }], nextCursor: null })
    expect(ddb.commandCalls(ScanCommand)[0]?.args[0].input).toEqual({
      TableName: 't-clients',
      Limit: 3,
      ExclusiveStartKey: { clientId: 'b' },
    })
  })
})

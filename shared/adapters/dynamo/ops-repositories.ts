import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import { DependencyUnavailableError } from '../../domain/errors'
import type { HealthSweepSummary } from '../../domain/health'
import type { IdempotencyRecord, RunSummary } from '../../domain/types'
import type {
  ChangeFeedMark,
  IdempotencyRepository,
  OpsRepository,
  QuarantineRecord,
  ReconcileState,
} from '../../ports'
import { type Db, type Item, queryAll, queryPage, strip } from './db'
import { createPartnerOpsMethods } from './ops-partner'
import { KEYS } from './tables'

const O = KEYS.ops

/** Keys of the ops table items (one table, several kinds of small records). */
export const opsKeys = {
  idempotency: (scope: string, key: string): Item => ({ [O.pk]: `idem#${scope}`, [O.sk]: `key#${key}` }),
  lease: (name: string): Item => ({ [O.pk]: `lease#${name}`, [O.sk]: 'lease' }),
  runs: (): Item => ({ [O.pk]: 'runs', [O.sk]: 'summary' }),
  changeFeed: (): Item => ({ [O.pk]: 'publisher', [O.sk]: 'changes' }),
  healthSweeps: (): Item => ({ [O.pk]: 'health', [O.sk]: 'sweeps' }),
  counters: (name: string, shard: number): Item => ({ [O.pk]: `counters#${name}`, [O.sk]: `shard#${shard}` }),
  budget: (key: string, windowStart: number): Item => ({
    [O.pk]: `budget#${key}`,
    [O.sk]: `window#${windowStart}`,
  }),
  quarantine: (kind: string, key: string): Item => ({ [O.pk]: 'quarantine', [O.sk]: `${kind}#${key}` }),
  binding: (name: string, key: string): Item => ({ [O.pk]: `bind#${name}`, [O.sk]: `key#${key}` }),
  reconcileState: (): Item => ({ [O.pk]: 'reconcile', [O.sk]: 'state' }),
  /** One partition per sweep and list, so reading a sweep's chunks back is one Query. */
  seenChunk: (sweepId: string, kind: string, index: number): Item => ({
    [O.pk]: `sweep#${sweepId}#${kind}`,
    [O.sk]: `chunk#${String(index).padStart(6, '0')}`,
  }),
}

const QUARANTINE_FIELDS = [
  'kind',
  'id',
  'key',
  'reason',
  'raw',
  'runId',
  'firstSeenAt',
  'lastSeenAt',
] as const

/** Counter attributes carry a prefix so a counter name never collides with a key or TTL attribute. */
const COUNTER_PREFIX = 'c#'
/**
 * Counters are spread over this many items (write sharding): one DynamoDB item takes at most about
 * 1,000 writes/s, and the webhook counters are written on every request. Reads sum the shards.
 */
export const COUNTER_SHARDS = 16
/** Expired leases and budget windows linger this long before TTL removes them (seconds). */
const TTL_SLACK_SECONDS = 86_400

/** Idempotency records in the ops table: conditional create, takeover on the old lock, completion. */
export function createIdempotencyRepository(db: Db, table: string): IdempotencyRepository {
  const itemOf = (record: IdempotencyRecord): Item => ({
    ...opsKeys.idempotency(record.scope, record.key),
    ...record,
  })
  return {
    begin: async (record) => {
      // Bounded: the read only misses when the record was released or expired in between.
      for (let attempt = 0; attempt < 3; attempt++) {
        const created = await db.conditional('idempotency.begin', () =>
          db.doc.send(
            new PutCommand({
              TableName: table,
              Item: itemOf(record),
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': O.pk },
            }),
          ),
        )
        if (created) return { created: true }
        // ReturnValuesOnConditionCheckFailure would save this read, but dynalite lacks it.
        const out = await db.call('idempotency.begin', () =>
          db.doc.send(
            new GetCommand({
              TableName: table,
              Key: opsKeys.idempotency(record.scope, record.key),
              ConsistentRead: true,
            }),
          ),
        )
        if (out.Item) return { created: false, existing: strip<IdempotencyRecord>(out.Item, [O.pk, O.sk]) }
      }
      throw new DependencyUnavailableError('DynamoDB idempotency.begin did not settle')
    },
    takeOver: (record, previousLockedUntil) =>
      db.conditional('idempotency.takeOver', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: itemOf(record),
            ConditionExpression: '#st = :inFlight AND #lu = :previous',
            ExpressionAttributeNames: { '#st': 'state', '#lu': 'lockedUntil' },
            ExpressionAttributeValues: { ':inFlight': 'in_flight', ':previous': previousLockedUntil },
          }),
        ),
      ),
    complete: async (scope, key, response) => {
      await db.conditional('idempotency.complete', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.idempotency(scope, key),
            UpdateExpression: 'SET #st = :completed, #r = :r',
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#st': 'state', '#r': 'response', '#pk': O.pk },
            ExpressionAttributeValues: { ':completed': 'completed', ':r': response },
          }),
        ),
      )
    },
    release: async (scope, key) => {
      // Only an in_flight record may go: a completed one must keep answering replays.
      await db.conditional('idempotency.release', () =>
        db.doc.send(
          new DeleteCommand({
            TableName: table,
            Key: opsKeys.idempotency(scope, key),
            ConditionExpression: '#st = :inFlight',
            ExpressionAttributeNames: { '#st': 'state' },
            ExpressionAttributeValues: { ':inFlight': 'in_flight' },
          }),
        ),
      )
    },
  }
}

/** Operational records in the ops table: the poll lease, run summaries, counters and rate budgets. */
export function createOpsRepository(db: Db, table: string): OpsRepository {
  return {
    getReconcileState: async () => {
      const out = await db.call('ops.getReconcileState', () =>
        db.doc.send(
          new GetCommand({ TableName: table, Key: opsKeys.reconcileState(), ConsistentRead: true }),
        ),
      )
      const state = out.Item?.state as Omit<ReconcileState, 'version'> | undefined
      return state && typeof out.Item?.version === 'number' ? { ...state, version: out.Item.version } : null
    },
    saveReconcileState: (state, expectedVersion) => {
      const { version, ...rest } = state
      return db.conditional('ops.saveReconcileState', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...opsKeys.reconcileState(), version, state: rest },
            ...(expectedVersion === null
              ? {
                  ConditionExpression: 'attribute_not_exists(#pk)',
                  ExpressionAttributeNames: { '#pk': O.pk },
                }
              : {
                  ConditionExpression: '#v = :expected',
                  ExpressionAttributeNames: { '#v': 'version' },
                  ExpressionAttributeValues: { ':expected': expectedVersion },
                }),
          }),
        ),
      )
    },
    saveSeenChunk: async (sweepId, kind, index, hashes, expiresAt) => {
      await db.call('ops.saveSeenChunk', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...opsKeys.seenChunk(sweepId, kind, index), hashes, expiresAt },
          }),
        ),
      )
    },
    seenChunks: (sweepId, kind) => {
      const pk = String(opsKeys.seenChunk(sweepId, kind, 0)[O.pk])
      const pages = queryAll(db, 'ops.seenChunks', { table, partition: [O.pk, pk], consistent: true })
      return (async function* () {
        for await (const items of pages) {
          for (const item of items) if (item.hashes instanceof Uint8Array) yield item.hashes
        }
      })()
    },
    ...createPartnerOpsMethods(db, table),
    acquireLease: (name, owner, now, ttlMs) => {
      const until = now.getTime() + ttlMs
      return db.conditional('ops.acquireLease', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: {
              ...opsKeys.lease(name),
              owner,
              until,
              expiresAt: Math.ceil(until / 1000) + TTL_SLACK_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(#pk) OR #until <= :now OR #owner = :owner',
            ExpressionAttributeNames: { '#pk': O.pk, '#until': 'until', '#owner': 'owner' },
            ExpressionAttributeValues: { ':now': now.getTime(), ':owner': owner },
          }),
        ),
      )
    },
    releaseLease: async (name, owner) => {
      await db.conditional('ops.releaseLease', () =>
        db.doc.send(
          new DeleteCommand({
            TableName: table,
            Key: opsKeys.lease(name),
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: { '#owner': 'owner' },
            ExpressionAttributeValues: { ':owner': owner },
          }),
        ),
      )
    },
    saveRunSummary: async (summary) => {
      // Both summaries live on one item, so one UpdateItem keeps them consistent without a transaction.
      const success = summary.outcome === 'succeeded'
      await db.call('ops.saveRunSummary', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.runs(),
            UpdateExpression: success ? 'SET #last = :s, #ok = :s' : 'SET #last = :s',
            ExpressionAttributeNames: success
              ? { '#last': 'last', '#ok': 'lastSuccess' }
              : { '#last': 'last' },
            ExpressionAttributeValues: { ':s': summary },
          }),
        ),
      )
    },
    getRunSummaries: async () => {
      const out = await db.call('ops.getRunSummaries', () =>
        db.doc.send(new GetCommand({ TableName: table, Key: opsKeys.runs(), ConsistentRead: true })),
      )
      return {
        last: (out.Item?.last as RunSummary | undefined) ?? null,
        lastSuccess: (out.Item?.lastSuccess as RunSummary | undefined) ?? null,
      }
    },
    incrementCounters: async (name, deltas) => {
      const entries = Object.entries(deltas)
      if (entries.length === 0) return
      const names: Record<string, string> = {}
      const values: Record<string, number> = {}
      const clauses = entries.map(([counter, delta], i) => {
        names[`#c${i}`] = `${COUNTER_PREFIX}${counter}`
        values[`:c${i}`] = delta
        return `#c${i} :c${i}`
      })
      await db.call('ops.incrementCounters', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.counters(name, Math.floor(Math.random() * COUNTER_SHARDS)),
            UpdateExpression: `ADD ${clauses.join(', ')}`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        ),
      )
    },
    getCounters: async (name) => {
      const out = await queryPage(
        db,
        'ops.getCounters',
        { table, partition: [O.pk, `counters#${name}`], consistent: true },
        undefined,
      )
      const counters: Record<string, number> = {}
      for (const item of out.items) {
        for (const [attribute, value] of Object.entries(item)) {
          if (attribute.startsWith(COUNTER_PREFIX) && typeof value === 'number') {
            const counter = attribute.slice(COUNTER_PREFIX.length)
            counters[counter] = (counters[counter] ?? 0) + value
          }
        }
      }
      return counters
    },
    consumeBudget: async (key, now, windowMs, limit) => {
      const windowStart = Math.floor(now.getTime() / windowMs) * windowMs
      const windowEnd = windowStart + windowMs
      const retryAfterSeconds = Math.max(1, Math.ceil((windowEnd - now.getTime()) / 1000))
      if (limit < 1) return { allowed: false, retryAfterSeconds }
      const allowed = await db.conditional('ops.consumeBudget', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.budget(key, windowStart),
            UpdateExpression: 'ADD #used :one SET #exp = :exp',
            ConditionExpression: 'attribute_not_exists(#used) OR #used < :limit',
            ExpressionAttributeNames: { '#used': 'used', '#exp': 'expiresAt' },
            ExpressionAttributeValues: {
              ':one': 1,
              ':limit': limit,
              ':exp': Math.ceil(windowEnd / 1000) + TTL_SLACK_SECONDS,
            },
          }),
        ),
      )
      return allowed ? { allowed: true, retryAfterSeconds: 0 } : { allowed: false, retryAfterSeconds }
    },
    saveQuarantined: async (record, expiresAt) => {
      await db.call('ops.saveQuarantined', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.quarantine(record.kind, record.key),
            UpdateExpression:
              'SET #kind = :kind, #id = :id, #key = :key, #reason = :reason, #raw = :raw, #run = :run, ' +
              '#last = :last, #exp = :exp, #first = if_not_exists(#first, :first)',
            ExpressionAttributeNames: {
              '#kind': 'kind',
              '#id': 'id',
              '#key': 'key',
              '#reason': 'reason',
              '#raw': 'raw',
              '#run': 'runId',
              '#last': 'lastSeenAt',
              '#first': 'firstSeenAt',
              '#exp': 'expiresAt',
            },
            ExpressionAttributeValues: {
              ':kind': record.kind,
              ':id': record.id,
              ':key': record.key,
              ':reason': record.reason,
              ':raw': record.raw,
              ':run': record.runId,
              ':last': record.lastSeenAt,
              ':first': record.firstSeenAt,
              ':exp': expiresAt,
            },
          }),
        ),
      )
    },
    listQuarantined: async (now, cap) => {
      const out: QuarantineRecord[] = []
      const nowSeconds = Math.floor(now.getTime() / 1000)
      for await (const items of queryAll(db, 'ops.listQuarantined', {
        table,
        partition: [O.pk, 'quarantine'],
      })) {
        for (const item of items) {
          // TTL deletes expired items only eventually (and dynalite never): expired ones are skipped here.
          if (typeof item['expiresAt'] === 'number' && item['expiresAt'] <= nowSeconds) continue
          out.push(
            Object.fromEntries(
              QUARANTINE_FIELDS.map((f) => [f, item[f] ?? null]),
            ) as unknown as QuarantineRecord,
          )
          if (out.length >= cap) return out
        }
      }
      return out
    },
    bindOnce: (name, key, value, expiresAt) =>
      db.conditional('ops.bindOnce', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: { ...opsKeys.binding(name, key), value, expiresAt },
            ConditionExpression: 'attribute_not_exists(#pk) OR #value = :value',
            ExpressionAttributeNames: { '#pk': O.pk, '#value': 'value' },
            ExpressionAttributeValues: { ':value': value },
          }),
        ),
      ),
    markChangesPublished: async (mark) => {
      // Unconditional: shards publish in parallel, and the last batch to finish tells the lag.
      await db.call('ops.markChangesPublished', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.changeFeed(),
            UpdateExpression: 'SET #c = :c, #p = :p ADD #n :n',
            ExpressionAttributeNames: { '#c': 'changeAt', '#p': 'publishedAt', '#n': 'published' },
            ExpressionAttributeValues: { ':c': mark.changeAt, ':p': mark.publishedAt, ':n': mark.events },
          }),
        ),
      )
    },
    getChangesPublished: async () => {
      const out = await db.call('ops.getChangesPublished', () =>
        db.doc.send(new GetCommand({ TableName: table, Key: opsKeys.changeFeed() })),
      )
      const item = out.Item
      if (!item) return null
      const mark: ChangeFeedMark = {
        changeAt: String(item.changeAt),
        publishedAt: String(item.publishedAt),
        published: typeof item.published === 'number' ? item.published : 0,
      }
      return mark
    },
    saveHealthSweep: async (summary) => {
      // Both summaries on one item: one UpdateItem keeps them consistent.
      const ran = summary.outcome !== 'skipped'
      await db.call('ops.saveHealthSweep', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: opsKeys.healthSweeps(),
            UpdateExpression: ran ? 'SET #last = :s, #run = :s' : 'SET #last = :s',
            ExpressionAttributeNames: ran ? { '#last': 'last', '#run': 'lastRun' } : { '#last': 'last' },
            ExpressionAttributeValues: { ':s': summary },
          }),
        ),
      )
    },
    getHealthSweeps: async () => {
      const out = await db.call('ops.getHealthSweeps', () =>
        db.doc.send(new GetCommand({ TableName: table, Key: opsKeys.healthSweeps(), ConsistentRead: true })),
      )
      return {
        last: (out.Item?.last as HealthSweepSummary | undefined) ?? null,
        lastRun: (out.Item?.lastRun as HealthSweepSummary | undefined) ?? null,
      }
    },
  }
}

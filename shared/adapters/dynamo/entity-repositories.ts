import { BatchGetCommand, GetCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import { needsKey } from '../../domain/channel-key'
import { DependencyUnavailableError } from '../../domain/errors'
import {
  type ChannelFilter,
  channelSearchText,
  clientSearchText,
  healthKey,
  legalNameText,
  phoneDigits,
  phoneSearch,
  textSearch,
} from '../../domain/filters'
import type { FactSpec } from '../../domain/mapping'
import { limitKey, QUALITY_RATINGS, type QualityRating, qualityBucket } from '../../domain/signals'
import type { Channel, Client, Lifecycle, Page } from '../../domain/types'
import { LIFECYCLES } from '../../domain/types'
import type {
  ChannelRepository,
  ClientRepository,
  Digest,
  DigestPage,
  DigestScan,
  FactWrite,
  GuardedWrite,
} from '../../ports'
import {
  type Db,
  type Item,
  listPage,
  pageSize,
  type QuerySpec,
  queryAll,
  queryCount,
  readAll,
  scanPage,
  strip,
} from './db'
import { KEYS } from './tables'

type ScanFilter = Pick<QuerySpec, 'filter' | 'contains'>

const C = KEYS.clients
const H = KEYS.channels

const nonEmpty = (v: string | null): string | undefined => (v === null || v === '' ? undefined : v)

const orAbsent = (v: string | null): string | undefined => v ?? undefined

/** A client as stored: plus the status index key and the lower-cased search text (storage-only). */
export function clientItem(client: Client): Item {
  return {
    ...client,
    [C.statusKey]: nonEmpty(client.status),
    [C.searchKey]: orAbsent(clientSearchText(client)),
  }
}

/**
 * A channel as stored, plus storage-only attributes computed by shared/domain/filters.ts: the keys
 * of the sparse indexes (phone digits, quality bucket, tier, health status; absent when the channel
 * has none), the lower-cased texts `q` searches (names and payload; the client's legal name), and
 * `keyNeeded` (present only on a ready channel
 * without a key: shared/domain/channel-key.ts `needsKey`, reconciliation's key work list).
 */
export function channelItem(channel: Channel): Item {
  return {
    ...channel,
    [H.phoneKey]: orAbsent(phoneDigits(channel.phoneNumber)),
    [H.qualityKey]: orAbsent(qualityBucket(channel.qualityRating)),
    [H.limitKey]: orAbsent(limitKey(channel.messagingLimit)),
    [H.healthKey]: orAbsent(healthKey(channel)),
    [H.searchKey]: orAbsent(channelSearchText(channel)),
    [H.legalNameKey]: orAbsent(legalNameText(channel)),
    [H.keyNeeded]: needsKey(channel) ? 'needed' : undefined,
  }
}

const CHANNEL_STORAGE_ONLY = [
  H.phoneKey,
  H.qualityKey,
  H.limitKey,
  H.healthKey,
  H.searchKey,
  H.legalNameKey,
  H.keyNeeded,
]

/**
 * How one channel list is read: the most selective index a filter names, the other filters applied
 * by DynamoDB on the items that index reads. The order is a fixed guess of selectivity: a client's
 * channels, one phone number, a quality bucket (most channels are GREEN; the ones people look for are
 * not), a health status, a tier, a lifecycle. accountMode (two values, about half each) and text
 * search never pick an index: read through another index, or by a Scan (README, Finding channels).
 */
export function planChannelList(
  table: string,
  f: ChannelFilter,
): { index: string; keyNames: string[]; query?: QuerySpec; scanFilter?: ScanFilter } {
  const phone = f.q === undefined ? null : phoneSearch(f.q)
  const equals: Record<string, string> = {}
  if (f.clientId !== undefined) equals['clientId'] = f.clientId
  if (phone !== null) equals[H.phoneKey] = phone
  if (f.quality !== undefined) equals[H.qualityKey] = f.quality
  if (f.health !== undefined) equals[H.healthKey] = f.health.trim().toUpperCase()
  const limit = f.messagingLimit === undefined ? null : limitKey(f.messagingLimit)
  if (limit !== null) equals[H.limitKey] = limit
  if (f.lifecycle !== undefined) equals['lifecycle'] = f.lifecycle
  if (f.accountMode !== undefined) equals['accountMode'] = f.accountMode
  // Text is found in the names and payload, or in the client's legal name (two attributes, one filter).
  const contains: readonly [readonly string[], string] | undefined =
    f.q !== undefined && phone === null ? [[H.searchKey, H.legalNameKey], textSearch(f.q)] : undefined
  const indexes: [attribute: string, index: string][] = [
    ['clientId', H.byClient],
    [H.phoneKey, H.byPhone],
    [H.qualityKey, H.byQuality],
    [H.healthKey, H.byHealth],
    [H.limitKey, H.byLimit],
    ['lifecycle', H.byLifecycle],
  ]
  const pick = indexes.find(([attribute]) => equals[attribute] !== undefined)
  if (!pick) {
    return {
      index: 'scan',
      keyNames: [H.pk],
      scanFilter: { filter: equals, ...(contains ? { contains } : {}) },
    }
  }
  const [attribute, index] = pick
  const { [attribute]: value, ...rest } = equals
  return {
    index,
    keyNames: [attribute, H.pk],
    query: {
      table,
      index,
      partition: [attribute, value as string],
      ...(Object.keys(rest).length > 0 ? { filter: rest } : {}),
      ...(contains ? { contains } : {}),
    },
  }
}

/** Keys per BatchGetItem request (DynamoDB's maximum). */
const BATCH_GET_KEYS = 100
/** Rounds of retrying unprocessed keys (throttling) before a batch read counts as failed. */
const BATCH_GET_ROUNDS = 6

const digestNames = (idName: string): Record<string, string> => ({
  '#id': idName,
  '#ok': 'orderKey',
  '#h': 'contentHash',
  '#ar': 'absentRuns',
  '#ms': 'missingSince',
})

const toDigest = (i: Item, idName: string): Digest => ({
  id: String(i[idName]),
  orderKey: String(i.orderKey),
  contentHash: String(i.contentHash),
  absentRuns: typeof i.absentRuns === 'number' ? i.absentRuns : 0,
  missingSince: typeof i.missingSince === 'string' ? i.missingSince : null,
})

/**
 * The item a fact write leaves: the stored one with the fact's fields, where `carried` fields the
 * fact has no value for (null) keep their stored value, and `initial` fields the stored one has keep it.
 */
function mergeFact<T extends object>(previous: T | null, record: T, spec: FactSpec): T {
  if (previous === null) return record
  const merged = { ...previous, ...record } as Record<string, unknown>
  const before = previous as Record<string, unknown>
  for (const name of spec.carried) {
    if (merged[name] === null && before[name] !== undefined) merged[name] = before[name]
  }
  for (const name of spec.initial ?? []) {
    if (before[name] !== undefined) merged[name] = before[name]
  }
  return merged as T
}

/** Guarded writes, digests shared by the clients and channels tables. */
function versioned<T extends { orderKey: string; contentHash: string }>(
  db: Db,
  table: string,
  idName: string,
  toItem: (record: T) => Item,
  what: string,
  /** From a stored item to the record (storage-only attributes stripped). */
  fromItem: (item: Item) => T,
  /**
   * The storage-only attributes (index keys, search text) and the carried fields each derives from:
   * `[]` = from the fact's own fields (absent when empty); a list of carried fields = computable by a
   * fact only when it knows them (else the fact is written after a read); null = never written by a
   * fact (another job owns its source field).
   */
  storage: Record<string, readonly string[] | null>,
) {
  const read = async (id: string): Promise<T | null> => {
    const out = await db.call(`${what}.get`, () =>
      db.doc.send(new GetCommand({ TableName: table, Key: { [idName]: id }, ConsistentRead: true })),
    )
    return out.Item ? fromItem(out.Item) : null
  }
  return {
    get: read,
    writeFact: async (record: T, spec: FactSpec): Promise<FactWrite<T>> => {
      // One UpdateItem, built from the record as a put would store it: every field the fact sets,
      // carried fields it does not know left as stored, initial ones set only where absent, emptied
      // mirrors removed.
      const names: Record<string, string> = { '#id': idName, '#ok': 'orderKey', '#h': 'contentHash' }
      const values: Record<string, unknown> = { ':k': record.orderKey, ':h': record.contentHash }
      const sets: string[] = []
      const removes: string[] = []
      const guards: string[] = []
      let n = 0
      const fields = record as Record<string, unknown>
      const id = String(fields[idName])
      for (const inputs of Object.values(storage)) {
        // A storage attribute derived from a field the fact leaves as stored cannot be computed
        // without the stored item: this fact goes the read way (the caller merges and writes).
        if (inputs?.some((f) => spec.carried.includes(f) && fields[f] === null)) {
          return { outcome: 'refused', current: await read(id) }
        }
      }
      for (const [name, value] of Object.entries(toItem(record))) {
        if (name === idName || storage[name] === null) continue
        const a = `#a${n}`
        const v = `:v${n}`
        n++
        if (value === undefined) {
          if (name in storage) {
            names[a] = name
            removes.push(a)
          }
          continue
        }
        names[a] = name
        values[v] = value
        if (spec.initial?.includes(name) || (value === null && spec.carried.includes(name))) {
          sets.push(`${a} = if_not_exists(${a}, ${v})`)
        } else if (value === false && spec.sticky.includes(name)) {
          sets.push(`${a} = if_not_exists(${a}, ${v})`)
          guards.push(`(attribute_not_exists(${a}) OR ${a} = ${v})`)
        } else {
          sets.push(`${a} = ${v}`)
        }
      }
      // DynamoDB refuses redundant parentheses: wrap the order test only when guards follow it.
      const order = '#ok < :k OR (#ok = :k AND #h <> :h)'
      const newer = guards.length === 0 ? order : [`(${order})`, ...guards].join(' AND ')
      const w = await db.conditionalItem(`${what}.writeFact`, () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [idName]: id },
            UpdateExpression: `SET ${sets.join(', ')}${removes.length > 0 ? ` REMOVE ${removes.join(', ')}` : ''}`,
            ConditionExpression: `attribute_not_exists(#id) OR (${newer})`,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            // The item before, whether the write was accepted or refused: no read either way.
            ReturnValues: 'ALL_OLD',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      )
      if (w.written) {
        const previous = w.out.Attributes ? fromItem(w.out.Attributes) : null
        return { outcome: 'written', previous, record: mergeFact(previous, record, spec) }
      }
      // An engine that does not return the refusing item (dynalite without the local runner's
      // emulation, older moto) costs a consistent read here instead.
      return { outcome: 'refused', current: w.item ? fromItem(w.item) : await read(id) }
    },
    putIfNewer: async (record: T, readHash?: string | null): Promise<GuardedWrite> => {
      const newer = '(#ok < :k OR (#ok = :k AND #h <> :h))'
      const condition =
        readHash === undefined
          ? `attribute_not_exists(#id) OR ${newer}`
          : readHash === null
            ? 'attribute_not_exists(#id)'
            : `#h = :read AND ${newer}`
      const written = await db.conditional(`${what}.putIfNewer`, () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: toItem(record),
            ConditionExpression: condition,
            // DynamoDB rejects names an expression does not use, so each form declares its own.
            ExpressionAttributeNames:
              readHash === null
                ? { '#id': idName }
                : {
                    ...(readHash === undefined ? { '#id': idName } : {}),
                    '#ok': 'orderKey',
                    '#h': 'contentHash',
                  },
            ...(readHash === null
              ? {}
              : {
                  ExpressionAttributeValues: {
                    ':k': record.orderKey,
                    ':h': record.contentHash,
                    ...(readHash === undefined ? {} : { ':read': readHash }),
                  },
                }),
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
    putIfVersion: async (record: T, expectedOrderKey: string | null): Promise<GuardedWrite> => {
      const written = await db.conditional(`${what}.putIfVersion`, () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: toItem(record),
            ...(expectedOrderKey === null
              ? {
                  ConditionExpression: 'attribute_not_exists(#id)',
                  ExpressionAttributeNames: { '#id': idName },
                }
              : {
                  ConditionExpression: '#ok = :expected',
                  ExpressionAttributeNames: { '#ok': 'orderKey' },
                  ExpressionAttributeValues: { ':expected': expectedOrderKey },
                }),
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
    digestsOf: async (ids: readonly string[]): Promise<Digest[]> => {
      // One BatchGetItem per 100 ids (eventually consistent, like the digest Scan: a digest only
      // decides whether an item needs the guarded write, which reads consistently itself).
      const unique = [...new Set(ids)]
      const found: Digest[] = []
      for (let i = 0; i < unique.length; i += BATCH_GET_KEYS) {
        let keys: Item[] = unique.slice(i, i + BATCH_GET_KEYS).map((id) => ({ [idName]: id }))
        for (let round = 0; keys.length > 0; round++) {
          if (round >= BATCH_GET_ROUNDS) {
            throw new DependencyUnavailableError(`DynamoDB ${what}.digestsOf left keys unprocessed`)
          }
          if (round > 0) await new Promise((ok) => setTimeout(ok, 25 * 2 ** round))
          const request = keys
          const out = await db.call(`${what}.digestsOf`, () =>
            db.doc.send(
              new BatchGetCommand({
                RequestItems: {
                  [table]: {
                    Keys: request,
                    ProjectionExpression: '#id, #ok, #h, #ar, #ms',
                    ExpressionAttributeNames: digestNames(idName),
                  },
                },
              }),
            ),
          )
          for (const item of out.Responses?.[table] ?? []) found.push(toDigest(item, idName))
          keys = (out.UnprocessedKeys?.[table]?.Keys as Item[] | undefined) ?? []
        }
      }
      return found
    },
    scanDigests: async ({ segment, segments, start, limit }: DigestScan): Promise<DigestPage> => {
      // One Scan request (up to 1 MB of items read; the projection trims what is sent, not the read
      // units, which count whole items). The position is the page's LastEvaluatedKey as JSON.
      const out = await db.call(`${what}.scanDigests`, () =>
        db.doc.send(
          new ScanCommand({
            TableName: table,
            ProjectionExpression: '#id, #ok, #h, #ar, #ms',
            ExpressionAttributeNames: digestNames(idName),
            ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
            ...(limit === undefined ? {} : { Limit: limit }),
            ...(start === null ? {} : { ExclusiveStartKey: JSON.parse(start) as Item }),
          }),
        ),
      )
      return {
        items: (out.Items ?? []).map((i) => toDigest(i, idName)),
        next: out.LastEvaluatedKey ? JSON.stringify(out.LastEvaluatedKey) : null,
      }
    },
  }
}

/** Clients in DynamoDB: guarded single-item writes, status index, signed cursors. */
export function createClientRepository(db: Db, table: string): ClientRepository {
  const fromItem = (item: Item): Client => strip<Client>(item, [C.statusKey, C.searchKey])
  return {
    // Every storage-only attribute of a client derives from the fact's own fields.
    ...versioned<Client>(db, table, C.pk, clientItem, 'clients', fromItem, {
      [C.statusKey]: [],
      [C.searchKey]: [],
    }),
    list: async ({ status, q, limit, cursor }): Promise<Page<Client>> => {
      // Text search has no index: a filter on the status index, else on a Scan (README, Finding clients).
      const contains: readonly [string, string] | undefined =
        q === undefined ? undefined : [C.searchKey, textSearch(q)]
      const filters = JSON.stringify([status ?? null, q === undefined ? null : textSearch(q)])
      const page = await listPage(db, 'clients.list', {
        table,
        limit,
        cursor,
        ...(status === undefined
          ? {
              binding: `${table}|scan|${filters}`,
              keyNames: [C.pk],
              ...(contains ? { scanFilter: { contains } } : {}),
            }
          : {
              binding: `${table}|${C.byStatus}|${filters}`,
              keyNames: [C.statusKey, C.pk],
              query: {
                table,
                index: C.byStatus,
                partition: [C.statusKey, status],
                ...(contains ? { contains } : {}),
              },
            }),
      })
      return { items: page.items.map(fromItem), nextCursor: page.nextCursor }
    },
  }
}

/** Channels in DynamoDB: guarded single-item writes, indexes by client, lifecycle and phone number. */
export function createChannelRepository(db: Db, table: string): ChannelRepository {
  // Whether a stored item read back carried the key-needed index entry (it is stripped from the
  // record): lets a fact write correct an entry that disagrees with the record (see syncKeyNeeded).
  const listedForKey = new WeakMap<Channel, boolean>()
  const fromItem = (item: Item): Channel => {
    const channel = strip<Channel>(item, CHANNEL_STORAGE_ONLY)
    listedForKey.set(channel, item[H.keyNeeded] !== undefined)
    return channel
  }

  const listAll = async (
    what: string,
    index: string,
    attribute: string,
    value: string,
  ): Promise<Channel[]> => {
    const found: Channel[] = []
    for await (const items of queryAll(db, what, { table, index, partition: [attribute, value] })) {
      found.push(...items.map(fromItem))
    }
    return found
  }

  // The index keys derive from the fact, except health (written by the health sweep, never by a
  // fact), the search text, which also covers the carried company name and partner payload, the
  // legal name (written by the client's writes, setClientOrganisation), and keyNeeded, which also
  // depends on keyStatus (key provisioning's, never in a fact): see writeFact.
  const base = versioned<Channel>(db, table, H.pk, channelItem, 'channels', fromItem, {
    [H.phoneKey]: [],
    [H.qualityKey]: [],
    [H.limitKey]: [],
    [H.healthKey]: null,
    [H.searchKey]: ['companyName', 'partnerPayload'],
    [H.legalNameKey]: null,
    [H.keyNeeded]: null,
  })

  /**
   * Moves the key-needed index entry after a fact write when the item's entry disagrees with the
   * record now (it became ready, or stopped being ready, while it has no key; or the item predates
   * the index). The fact's own UpdateItem cannot set it: it does not know the stored keyStatus. Its
   * ALL_OLD image does, so this second write happens only then (about once per channel), guarded by
   * the written content and the key status it assumed; when either moved meanwhile, the writer that
   * moved it (a put after a read, setKeyStatus) set the index entry itself.
   */
  const syncKeyNeeded = async (previous: Channel | null, record: Channel): Promise<void> => {
    const now = needsKey(record)
    // What the item carried before this write (its ALL_OLD image), not what it should have carried:
    // an entry missing on an item written before the index existed is added by the next fact too.
    const listed = previous === null ? false : (listedForKey.get(previous) ?? needsKey(previous))
    if (listed === now) return
    await db.conditional('channels.syncKeyNeeded', () =>
      db.doc.send(
        new UpdateCommand({
          TableName: table,
          Key: { [H.pk]: record.channelId },
          UpdateExpression: now ? 'SET #kn = :kn' : 'REMOVE #kn',
          ConditionExpression: record.keyStatus
            ? '#h = :h AND #ks = :ks'
            : '#h = :h AND (attribute_not_exists(#ks) OR #ks = :none)',
          ExpressionAttributeNames: { '#kn': H.keyNeeded, '#h': 'contentHash', '#ks': 'keyStatus' },
          ExpressionAttributeValues: {
            ':h': record.contentHash,
            ...(record.keyStatus ? { ':ks': record.keyStatus } : { ':none': 'none' }),
            ...(now ? { ':kn': 'needed' } : {}),
          },
        }),
      ),
    )
  }

  return {
    ...base,
    writeFact: async (record, spec): Promise<FactWrite<Channel>> => {
      const w = await base.writeFact(record, spec)
      if (w.outcome === 'written') await syncKeyNeeded(w.previous, w.record)
      return w
    },
    list: async ({ limit, cursor, ...filter }): Promise<Page<Channel>> => {
      const plan = planChannelList(table, filter)
      const values = [
        filter.clientId,
        filter.lifecycle,
        filter.quality,
        filter.messagingLimit === undefined ? undefined : limitKey(filter.messagingLimit),
        filter.accountMode,
        filter.health?.trim().toUpperCase(),
        filter.q?.trim().toLowerCase(),
      ].map((v) => v ?? null)
      const page = await listPage(db, 'channels.list', {
        table,
        limit,
        cursor,
        // The cursor is bound to the index read and every filter value: it fits no other query.
        binding: `${table}|${plan.index}|${JSON.stringify(values)}`,
        keyNames: plan.keyNames,
        query: plan.query,
        scanFilter: plan.scanFilter,
      })
      return { items: page.items.map(fromItem), nextCursor: page.nextCursor }
    },
    listByClient: (clientId) => listAll('channels.listByClient', H.byClient, 'clientId', clientId),
    findByPhoneNumber: async (phoneNumber) => {
      // The index holds the number's digits: `+49 151…` and `49151…` are the same number.
      const digits = phoneDigits(phoneNumber)
      return digits === null ? [] : listAll('channels.findByPhoneNumber', H.byPhone, H.phoneKey, digits)
    },
    countByQuality: async () => {
      const counts = await Promise.all(
        QUALITY_RATINGS.map((rating) =>
          queryCount(db, 'channels.countByQuality', {
            table,
            index: H.byQuality,
            partition: [H.qualityKey, rating],
          }),
        ),
      )
      return Object.fromEntries(QUALITY_RATINGS.map((r, i) => [r, counts[i] ?? 0])) as Record<
        QualityRating,
        number
      >
    },
    keyNeededIds: () => {
      const pages = queryAll(db, 'channels.keyNeededIds', {
        table,
        index: H.byKeyNeeded,
        partition: [H.keyNeeded, 'needed'],
      })
      return (async function* () {
        for await (const items of pages) yield items.map((i) => String(i[H.pk]))
      })()
    },
    countByLifecycle: async () => {
      const counts = await Promise.all(
        LIFECYCLES.map((lifecycle) =>
          queryCount(db, 'channels.countByLifecycle', {
            table,
            index: H.byLifecycle,
            partition: ['lifecycle', lifecycle],
          }),
        ),
      )
      return Object.fromEntries(LIFECYCLES.map((l, i) => [l, counts[i] ?? 0])) as Record<Lifecycle, number>
    },
    scan: (size = 100) => {
      const pages = readAll((start) => scanPage(db, 'channels.scan', table, start, pageSize(size)))
      return (async function* () {
        for await (const items of pages) yield items.map(fromItem)
      })()
    },
    setHealth: async (channelId, health, touch): Promise<GuardedWrite> => {
      const written = await db.conditional('channels.setHealth', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [H.pk]: channelId },
            // The byHealth index key moves with the status (GET /channels?health=).
            UpdateExpression: touch
              ? 'SET #hl = :hl, #hk = :hk, #u = :u, #s = :s'
              : 'SET #hl = :hl, #hk = :hk',
            ConditionExpression: 'attribute_exists(#id) AND #lc = :live',
            ExpressionAttributeNames: {
              '#hl': 'health',
              '#hk': H.healthKey,
              '#id': H.pk,
              '#lc': 'lifecycle',
              ...(touch ? { '#u': 'updatedAt', '#s': 'source' } : {}),
            },
            ExpressionAttributeValues: {
              ':hl': health,
              ':hk': health.status.toUpperCase(),
              ':live': 'live',
              ...(touch ? { ':u': touch.updatedAt, ':s': touch.source } : {}),
            },
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
    setKeyRejected: async (channelId, rejection): Promise<GuardedWrite> => {
      const written = await db.conditional('channels.setKeyRejected', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [H.pk]: channelId },
            UpdateExpression: 'SET #kr = :kr',
            ConditionExpression: 'attribute_exists(#id) AND #lc = :live',
            ExpressionAttributeNames: { '#kr': 'keyRejected', '#id': H.pk, '#lc': 'lifecycle' },
            ExpressionAttributeValues: { ':kr': rejection, ':live': 'live' },
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
    setKeyStatus: async (channelId, update, readHash): Promise<GuardedWrite> => {
      const written = await db.conditional('channels.setKeyStatus', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [H.pk]: channelId },
            UpdateExpression: update.keyNeeded ? 'SET #ks = :ks, #kn = :kn' : 'SET #ks = :ks REMOVE #kn',
            ConditionExpression: 'attribute_exists(#id) AND #h = :read',
            ExpressionAttributeNames: {
              '#ks': 'keyStatus',
              '#kn': H.keyNeeded,
              '#id': H.pk,
              '#h': 'contentHash',
            },
            ExpressionAttributeValues: {
              ':ks': update.keyStatus,
              ':read': readHash,
              ...(update.keyNeeded ? { ':kn': 'needed' } : {}),
            },
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
    setClientOrganisation: async (channelId, clientId, organisation): Promise<GuardedWrite> => {
      const text = legalNameText({ clientOrganisation: organisation })
      const written = await db.conditional('channels.setClientOrganisation', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [H.pk]: channelId },
            UpdateExpression: text === null ? 'SET #co = :co REMOVE #lk' : 'SET #co = :co, #lk = :lk',
            // Still this client's channel, and no later client write got here first.
            ConditionExpression:
              'attribute_exists(#id) AND #cid = :cid AND (attribute_not_exists(#co) OR #co.#k <= :k)',
            ExpressionAttributeNames: {
              '#co': 'clientOrganisation',
              '#lk': H.legalNameKey,
              '#id': H.pk,
              '#cid': 'clientId',
              '#k': 'clientOrderKey',
            },
            ExpressionAttributeValues: {
              ':co': organisation,
              ':cid': clientId,
              ':k': organisation.clientOrderKey,
              ...(text === null ? {} : { ':lk': text }),
            },
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
    markAbsence: async (channelId, expectedOrderKey, absentRuns, missingSince): Promise<GuardedWrite> => {
      const written = await db.conditional('channels.markAbsence', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: { [H.pk]: channelId },
            UpdateExpression: 'SET #ar = :ar, #ms = :ms',
            ConditionExpression: '#ok = :k',
            ExpressionAttributeNames: { '#ar': 'absentRuns', '#ms': 'missingSince', '#ok': 'orderKey' },
            ExpressionAttributeValues: { ':ar': absentRuns, ':ms': missingSince, ':k': expectedOrderKey },
          }),
        ),
      )
      return written ? 'written' : 'stale'
    },
  }
}

import type { AttributeValue } from '@aws-sdk/client-dynamodb'
import { type DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { DependencyUnavailableError, errorName, PartnerOpsError } from '../../domain/errors'
import type { CursorCodec, StringKey } from './cursor'

/** A stored item as the DocumentClient returns it. */
export type Item = Record<string, unknown>

const CONDITION_FAILED = 'ConditionalCheckFailedException'

/**
 * The DocumentClient plus the translation of SDK failures: a failed condition is an answer, every other
 * failure a DependencyUnavailableError naming the operation only (never item contents).
 */
export class Db {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly cursors: CursorCodec,
  ) {}

  /** Runs one call; any failure becomes DependencyUnavailableError. */
  async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run()
    } catch (e) {
      throw this.translate(what, e)
    }
  }

  /** Runs one conditional write: true when written, false when the condition failed. */
  async conditional(what: string, run: () => Promise<unknown>): Promise<boolean> {
    try {
      await run()
      return true
    } catch (e) {
      if (errorName(e) === CONDITION_FAILED) return false
      throw this.translate(what, e)
    }
  }

  /**
   * Runs one conditional write that asks for the item on failure (ReturnValuesOnConditionCheckFailure
   * ALL_OLD): its output, or the stored item that refused it (null when nothing is stored or the
   * engine does not return it).
   */
  async conditionalItem<O>(
    what: string,
    run: () => Promise<O>,
  ): Promise<{ written: true; out: O } | { written: false; item: Item | null }> {
    try {
      return { written: true, out: await run() }
    } catch (e) {
      if (errorName(e) !== CONDITION_FAILED) throw this.translate(what, e)
      const raw = (e as { Item?: Record<string, AttributeValue> }).Item
      return { written: false, item: raw ? (unmarshall(raw) as Item) : null }
    }
  }

  private translate(what: string, e: unknown): Error {
    if (e instanceof PartnerOpsError) return e
    return new DependencyUnavailableError(`DynamoDB ${what} failed (${errorName(e)})`, { cause: e })
  }
}

/** Normalizes a caller's page size to what DynamoDB accepts (never throws). */
export function pageSize(limit: number, fallback = 100): number {
  if (!Number.isFinite(limit)) return fallback
  return Math.min(1000, Math.max(1, Math.floor(limit)))
}

/** The key attributes `names` of an item, as a cursor key. */
export function keyOf(item: Item, names: readonly string[]): StringKey {
  return Object.fromEntries(names.map((n) => [n, String(item[n])]))
}

/** One raw page read from DynamoDB. */
export interface RawPage {
  items: Item[]
  lastKey: Item | undefined
}

/**
 * Reads one caller page of `limit` items with an opaque cursor. Reads until it holds one item more than
 * the page (or the data ends), so `next` is null exactly when nothing follows; the cursor is the key of
 * the page's last item, which DynamoDB accepts as ExclusiveStartKey for a Scan or Query alike.
 */
export async function readPage(
  db: Db,
  q: {
    binding: string
    keyNames: readonly string[]
    limit: number
    cursor: string | undefined
    /** Reads raw pages; `want` is how many more items are needed, `round` counts from 0. */
    read: (start: Item | undefined, want: number, round: number) => Promise<RawPage>
    /**
     * At most this many requests per page (filtered reads): a sparse filter then answers a short
     * page, possibly empty, whose cursor continues after what was read, instead of reading the
     * whole table in one API call.
     */
    maxRounds?: number
  },
): Promise<{ items: Item[]; nextCursor: string | null }> {
  const limit = pageSize(q.limit)
  let start: Item | undefined =
    q.cursor === undefined ? undefined : db.cursors.decode(q.binding, q.cursor, q.keyNames)
  const items: Item[] = []
  // Bounded by the data: every round trip either ends the data or moves the start key forward.
  for (let round = 0; round < 100_000; round++) {
    const page = await q.read(start, limit + 1 - items.length, round)
    items.push(...page.items)
    if (items.length > limit || page.lastKey === undefined) break
    start = page.lastKey
    if (q.maxRounds !== undefined && round + 1 >= q.maxRounds) {
      return { items, nextCursor: db.cursors.encode(q.binding, keyOf(start, q.keyNames)) }
    }
  }
  if (items.length <= limit) return { items, nextCursor: null }
  const pageItems = items.slice(0, limit)
  const last = pageItems[limit - 1] as Item
  return { items: pageItems, nextCursor: db.cursors.encode(q.binding, keyOf(last, q.keyNames)) }
}

/** Follows LastEvaluatedKey through every raw page. */
export async function* readAll(read: (start: Item | undefined) => Promise<RawPage>): AsyncGenerator<Item[]> {
  let start: Item | undefined
  for (let round = 0; round < 1_000_000; round++) {
    const page = await read(start)
    if (page.items.length > 0) yield page.items
    if (page.lastKey === undefined) return
    start = page.lastKey
  }
}

/**
 * One Query, as data: a partition key value on a table or index, optionally a bound below which the
 * sort key must stay, and equality filters. Every Query of the repositories is one of these.
 */
export interface QuerySpec {
  table: string
  index?: string
  /** Partition key attribute and value. */
  partition: readonly [name: string, value: string]
  /** Only items whose sort key is less than this value. */
  sortBelow?: readonly [name: string, value: string]
  /** Keep only items with these attribute values (DynamoDB applies it after Limit). */
  filter?: Readonly<Record<string, string>>
  /** Keep only items where one of these attributes contains this text (after Limit too). */
  contains?: readonly [names: string | readonly string[], value: string]
  /** Strongly consistent (tables only). */
  consistent?: boolean
}

/** Equality and contains filters of a Query or Scan; adds their names and values. */
function filterExpression(
  spec: Pick<QuerySpec, 'filter' | 'contains'>,
  names: Record<string, string>,
  values: Record<string, unknown>,
): string | undefined {
  const parts = Object.entries(spec.filter ?? {}).map(([name, value], i) => {
    names[`#f${i}`] = name
    values[`:f${i}`] = value
    return `#f${i} = :f${i}`
  })
  if (spec.contains) {
    const [attributes, text] = spec.contains
    const any = (typeof attributes === 'string' ? [attributes] : attributes).map((name, i) => {
      names[`#c${i}`] = name
      return `contains(#c${i}, :c)`
    })
    values[':c'] = text
    parts.push(any.length === 1 ? (any[0] as string) : `(${any.join(' OR ')})`)
  }
  return parts.length > 0 ? parts.join(' AND ') : undefined
}

/** The QueryCommand of a spec for one request: from `start`, at most `limit` items, or only a count. */
function queryCommand(
  spec: QuerySpec,
  request: { start?: Item | undefined; limit?: number; count?: boolean },
): QueryCommand {
  const names: Record<string, string> = { '#pk': spec.partition[0] }
  const values: Record<string, unknown> = { ':pk': spec.partition[1] }
  let condition = '#pk = :pk'
  if (spec.sortBelow) {
    names['#sk'] = spec.sortBelow[0]
    values[':sk'] = spec.sortBelow[1]
    condition += ' AND #sk < :sk'
  }
  const filters = filterExpression(spec, names, values)
  return new QueryCommand({
    TableName: spec.table,
    ...(spec.index ? { IndexName: spec.index } : {}),
    KeyConditionExpression: condition,
    ...(filters ? { FilterExpression: filters } : {}),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ...(spec.consistent ? { ConsistentRead: true } : {}),
    ...(request.count ? { Select: 'COUNT' } : {}),
    ...(request.limit !== undefined ? { Limit: request.limit } : {}),
    ...(request.start ? { ExclusiveStartKey: request.start } : {}),
  })
}

/** One raw page of a query from `start`; `what` names the operation in errors. */
export async function queryPage(
  db: Db,
  what: string,
  spec: QuerySpec,
  start: Item | undefined,
  limit?: number,
): Promise<RawPage> {
  const out = await db.call(what, () =>
    db.doc.send(queryCommand(spec, { start, ...(limit === undefined ? {} : { limit }) })),
  )
  return { items: out.Items ?? [], lastKey: out.LastEvaluatedKey }
}

/** Every item of a query, page by page. */
export function queryAll(db: Db, what: string, spec: QuerySpec): AsyncGenerator<Item[]> {
  return readAll((start) => queryPage(db, what, spec, start))
}

/** How many items a query matches (Select COUNT: only the number travels), stopping at `cap`. */
export async function queryCount(
  db: Db,
  what: string,
  spec: QuerySpec,
  cap = Number.POSITIVE_INFINITY,
): Promise<number> {
  let count = 0
  let start: Item | undefined
  // Bounded by the data: every round trip either ends it or moves the start key forward.
  for (let round = 0; round < 100_000 && count < cap; round++) {
    const out = await db.call(what, () =>
      db.doc.send(
        queryCommand(spec, { start, count: true, ...(Number.isFinite(cap) ? { limit: cap - count } : {}) }),
      ),
    )
    count += out.Count ?? 0
    if (out.LastEvaluatedKey === undefined) break
    start = out.LastEvaluatedKey
  }
  return Math.min(count, cap)
}

/**
 * One caller page (readPage) of a table: through `query` when given, else a Scan. A filtered query
 * reads pages of at least 100, since DynamoDB drops filtered-out items after applying Limit.
 */
export function listPage(
  db: Db,
  what: string,
  q: {
    table: string
    binding: string
    keyNames: readonly string[]
    query?: QuerySpec | undefined
    /** Filters of a Scan (when there is no query). */
    scanFilter?: Pick<QuerySpec, 'filter' | 'contains'> | undefined
    limit: number
    cursor: string | undefined
  },
): Promise<{ items: Item[]; nextCursor: string | null }> {
  const { query, scanFilter } = q
  const isFiltered = (f: Pick<QuerySpec, 'filter' | 'contains'> | undefined): boolean =>
    Object.keys(f?.filter ?? {}).length > 0 || f?.contains !== undefined
  const filtered = query ? isFiltered(query) : isFiltered(scanFilter)
  // DynamoDB filters after Limit: a filtered read asks for twice what the page still needs (at least
  // 100), doubling each request (matches are sparser than hoped) up to 1,000 items.
  const size = (want: number, round: number): number =>
    filtered ? Math.min(FILTERED_MAX_READ, Math.max(2 * want, 100) * 2 ** round) : want
  return readPage(db, {
    binding: q.binding,
    keyNames: q.keyNames,
    limit: q.limit,
    cursor: q.cursor,
    ...(filtered ? { maxRounds: FILTERED_MAX_ROUNDS } : {}),
    read: (start, want, round) =>
      query
        ? queryPage(db, what, query, start, size(want, round))
        : scanPage(db, what, q.table, start, size(want, round), scanFilter),
  })
}

/** Most items one request of a filtered read asks for (DynamoDB also stops at 1 MB). */
export const FILTERED_MAX_READ = 1000
/** Most requests one page of a filtered read makes: about 10,000 items read at most. */
export const FILTERED_MAX_ROUNDS = 12

/** One raw page of a table Scan from `start`. */
export async function scanPage(
  db: Db,
  what: string,
  table: string,
  start: Item | undefined,
  limit?: number,
  filter?: Pick<QuerySpec, 'filter' | 'contains'>,
): Promise<RawPage> {
  const names: Record<string, string> = {}
  const values: Record<string, unknown> = {}
  const expression = filter ? filterExpression(filter, names, values) : undefined
  const out = await db.call(what, () =>
    db.doc.send(
      new ScanCommand({
        TableName: table,
        ...(expression
          ? {
              FilterExpression: expression,
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }
          : {}),
        ...(limit === undefined ? {} : { Limit: limit }),
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    ),
  )
  return { items: out.Items ?? [], lastKey: out.LastEvaluatedKey }
}

/** A copy of an item without the storage-only attributes. */
export function strip<T>(item: Item, storageOnly: readonly string[]): T {
  const copy: Item = { ...item }
  for (const name of storageOnly) delete copy[name]
  return copy as T
}

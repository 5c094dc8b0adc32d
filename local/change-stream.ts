import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb'
import { marshall } from '@aws-sdk/util-dynamodb'
import type { AttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda'
import type { ChangeTable, ItemImage } from '../shared/domain/change-events'
import { localLambdaContext, type StreamHandler } from './handlers'

/** The publisher's timeout in the stack. */
const PUBLISHER_TIMEOUT_MS = 60_000

/** One captured write: the table and the item's images before and after, as the stream would carry them. */
export interface CapturedChange {
  table: ChangeTable
  tableName: string
  keys: ItemImage
  oldImage: ItemImage | null
  newImage: ItemImage | null
  /** Epoch ms of the write. */
  at: number
}

/** Options of the local change stream (the tables' streams and the publisher's event source mapping). */
export interface ChangeStreamOptions {
  /** The publisher, as Lambda would invoke it. */
  handler: StreamHandler
  /** Largest number of records per invocation. */
  batchSize: number
  /** Retries of a failing batch before it goes to the failure queue (like `retryAttempts`). */
  retryAttempts: number
  /** First wait before a retry, doubled on each (capped at `maxRetryDelayMs`). */
  retryDelayMs: number
  maxRetryDelayMs: number
  /** Hold records until settle() (benchmarks, like the applier's stand-in). */
  held?: boolean
  /** Called when a batch is given up (moved to the failure queue). */
  onGiveUp?: (records: number) => void
}

/** The local stand-in for the three streams and the publisher's event source mapping. */
export interface ChangeStream {
  /** Queues one captured write (ignored once closed). */
  push(change: CapturedChange): void
  /** Releases held records; resolves when everything queued is published or given up. */
  settle(): Promise<void>
  /** Batches given up after the retries: the local on-failure queue. */
  failureDepth(): number
  /** Puts the given-up records back at the head of the stream (the local redrive). */
  redrive(): number
  /** Invocations made so far (for the benchmark's cost figures). */
  invocations(): number
  close(): Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms).unref())

/**
 * The local runner's stand-in for the clients, channels and cancellations tables' streams
 * (NEW_AND_OLD_IMAGES) and the publisher's event source mapping: captured writes are kept in write
 * order and handed to the same publisher handler Lambda runs, one batch at a time (so per item in
 * order, as a stream shard does). A partial batch failure is retried from the reported record with a
 * growing delay; after `retryAttempts` the rest of the batch moves to the failure queue, like the
 * mapping's on-failure destination, and `redrive()` puts it back. Records live in memory: a process
 * that stops with records queued loses them (DynamoDB keeps them for 24 hours in AWS).
 */
export function createChangeStream(opts: ChangeStreamOptions): ChangeStream {
  const queue: DynamoDBRecord[] = []
  const failed: DynamoDBRecord[][] = []
  const waiters: (() => void)[] = []
  let sequence = 0
  let invocations = 0
  let running: Promise<void> | null = null
  let closed = false
  let held = opts.held ?? false

  const toRecord = (c: CapturedChange): DynamoDBRecord => {
    const m = (image: ItemImage | null): Record<string, AttributeValue> | undefined =>
      image ? (marshall(image, { removeUndefinedValues: true }) as Record<string, AttributeValue>) : undefined
    const newImage = m(c.newImage)
    const oldImage = m(c.oldImage)
    return {
      eventID: String(sequence + 1),
      eventName: c.oldImage ? (c.newImage ? 'MODIFY' : 'REMOVE') : 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${c.tableName}/stream/local`,
      dynamodb: {
        // Milliseconds as a fraction: Lambda gives whole seconds, the local delay figures want better.
        ApproximateCreationDateTime: c.at / 1000,
        Keys: marshall(c.keys) as Record<string, AttributeValue>,
        ...(newImage ? { NewImage: newImage } : {}),
        ...(oldImage ? { OldImage: oldImage } : {}),
        SequenceNumber: String(++sequence).padStart(21, '0'),
        SizeBytes: 0,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    }
  }

  const idle = (): boolean => queue.length === 0 && running === null
  const wake = (): void => {
    if (idle() || closed) for (const w of waiters.splice(0)) w()
  }

  /** Invokes the publisher until the batch is done or given up; returns how many records it took. */
  const runBatch = async (batch: DynamoDBRecord[]): Promise<void> => {
    let rest = batch
    for (let attempt = 0; rest.length > 0; attempt++) {
      invocations++
      let from: string | null
      try {
        const out = await opts.handler(
          { Records: rest } as DynamoDBStreamEvent,
          localLambdaContext('eventPublisher', PUBLISHER_TIMEOUT_MS),
        )
        from = out.batchItemFailures[0]?.itemIdentifier ?? null
      } catch {
        from = rest[0]?.dynamodb?.SequenceNumber ?? null
      }
      if (from === null) return
      const at = rest.findIndex((r) => r.dynamodb?.SequenceNumber === from)
      rest = rest.slice(Math.max(0, at))
      if (attempt >= opts.retryAttempts || closed) {
        failed.push(rest)
        opts.onGiveUp?.(rest.length)
        return
      }
      await sleep(Math.min(opts.maxRetryDelayMs, opts.retryDelayMs * 2 ** attempt))
    }
  }

  const pump = (): void => {
    if (running || held || closed || queue.length === 0) {
      wake()
      return
    }
    running = runBatch(queue.splice(0, opts.batchSize)).finally(() => {
      running = null
      pump()
    })
  }

  return {
    push(change) {
      if (closed) return
      queue.push(toRecord(change))
      pump()
    },
    settle() {
      held = false
      pump()
      if (idle()) return Promise.resolve()
      return new Promise<void>((resolve) => waiters.push(resolve))
    },
    failureDepth: () => failed.length,
    redrive() {
      const records = failed.splice(0).flat()
      queue.unshift(...records)
      pump()
      return records.length
    },
    invocations: () => invocations,
    async close() {
      closed = true
      queue.length = 0
      await running
      wake()
    },
  }
}

/**
 * Captures the writes of a DynamoDB client to the clients, channels and cancellations tables, as
 * their streams see them: every PutItem or UpdateItem that succeeds is one change with the item's
 * image before and after. PutItem asks DynamoDB for the old image (`ReturnValues: ALL_OLD`, atomic
 * with the write) and the new image is the item written; UpdateItem asks for the old image too and
 * reads the new one right after (consistently, through `reader`). The caller's answer is unchanged.
 * The repositories write these tables through the DocumentClient, so items are in document form here.
 */
export function captureChanges(
  client: DynamoDBClient,
  tables: Record<ChangeTable, string>,
  keyOf: Record<ChangeTable, string>,
  reader: DynamoDBDocumentClient,
  push: (change: CapturedChange) => void,
): void {
  const byName = new Map<string, ChangeTable>(
    (Object.entries(tables) as [ChangeTable, string][]).map(([t, name]) => [name, t]),
  )
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as {
        TableName?: string
        Item?: ItemImage
        Key?: ItemImage
        ReturnValues?: string
      }
      const table = input.TableName ? byName.get(input.TableName) : undefined
      const kind = context.commandName
      if (!table || (kind !== 'PutItemCommand' && kind !== 'UpdateItemCommand')) return next(args)
      if (input.ReturnValues !== undefined && input.ReturnValues !== 'ALL_OLD') {
        // Without the old image the stream stand-in cannot tell a change from a first sighting.
        throw new Error(
          `local change stream: ${kind} on ${input.TableName} asks ReturnValues ${input.ReturnValues}`,
        )
      }
      const askedOld = input.ReturnValues === undefined
      if (askedOld) input.ReturnValues = 'ALL_OLD'
      const out = await next(args)
      const output = out.output as { Attributes?: ItemImage }
      const oldImage = output.Attributes ?? null
      if (askedOld) delete output.Attributes
      const key = keyOf[table]
      const keys = { [key]: (input.Item ?? input.Key)?.[key] }
      const newImage =
        kind === 'PutItemCommand'
          ? (input.Item ?? null)
          : ((
              await reader.send(
                new GetCommand({ TableName: input.TableName, Key: keys, ConsistentRead: true }),
              )
            ).Item ?? null)
      push({ table, tableName: input.TableName as string, keys, oldImage, newImage, at: Date.now() })
      return out
    },
    { step: 'initialize', name: 'partnerOpsLocalChangeStream' },
  )
}

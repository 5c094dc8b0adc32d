import { randomUUID } from 'node:crypto'
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { marshall } from '@aws-sdk/util-dynamodb'
import type { DynamoDBStreamEvent, AttributeValue as LambdaAttributeValue } from 'aws-lambda'
import { localLambdaContext, type StreamHandler } from './handlers'

/** Options of the local stand-in for a DynamoDB stream and its event source mapping. */
export interface StreamQueueOptions {
  /** The consumer, as Lambda would invoke it. */
  handler: StreamHandler
  /** Name of the key attribute of the table. */
  keyAttribute: string
  /** Stream ARN put on every record (informational). */
  eventSourceARN: string
  /** Invocations in flight at once. */
  concurrency: number
  /** Largest number of records per invocation. */
  batchSize: number
  /** Called with the keys an invocation could not complete (they stay pending for the sweep). */
  onFailure?: (keys: string[], error: unknown) => void
  /**
   * Hold records until settle() is called. Benchmarks use it: in AWS the applier runs on other
   * machines, so its work must not share the request path's event loop while the load is measured.
   */
  held?: boolean
}

/** One inserted item as the stream carries it: its key and its new image (marshalled). */
export interface InsertedItem {
  key: string
  newImage: Record<string, AttributeValue>
}

/** An in-process queue of newly inserted items, drained into stream-shaped invocations. */
export interface StreamQueue {
  /** Queues one inserted item (ignored once closed). */
  push(item: InsertedItem): void
  /** Releases held records, then resolves when nothing is queued and no invocation is in flight. */
  settle(): Promise<void>
  /** Stops taking keys, drops what has not started (left pending: the sweep completes it) and waits for the invocations in flight. */
  close(): Promise<void>
}

/**
 * The local runner's stand-in for DynamoDB Streams (dynalite has none): each queued item becomes an
 * INSERT record (NEW_IMAGE, as the events table streams) and records are handed to the same handler Lambda runs, in batches, with
 * bounded concurrency. Failed records are not retried here; they stay pending and the sweep of the
 * next reconciliation run completes them, as after a stream's retries run out.
 */
export function createStreamQueue(opts: StreamQueueOptions): StreamQueue {
  const queue: InsertedItem[] = []
  const waiters: (() => void)[] = []
  const running = new Set<Promise<void>>()
  let sequence = 0
  let closed = false
  let held = opts.held ?? false

  const idle = (): boolean => queue.length === 0 && running.size === 0

  const toEvent = (items: InsertedItem[]): DynamoDBStreamEvent => ({
    Records: items.map(({ key, newImage }) => ({
      eventID: randomUUID(),
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: opts.eventSourceARN,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: { [opts.keyAttribute]: { S: key } },
        NewImage: newImage as Record<string, LambdaAttributeValue>,
        SequenceNumber: String(++sequence).padStart(21, '0'),
        SizeBytes: key.length + opts.keyAttribute.length,
        StreamViewType: 'NEW_IMAGE',
      },
    })),
  })

  const invoke = async (items: InsertedItem[]): Promise<void> => {
    const event = toEvent(items)
    const keys = items.map((i) => i.key)
    try {
      const { batchItemFailures } = await opts.handler(event, localLambdaContext('webhookApplier'))
      if (batchItemFailures.length > 0) {
        const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier))
        const keysFailed = event.Records.filter((r) => failed.has(r.dynamodb?.SequenceNumber ?? '')).map(
          (r) => r.dynamodb?.Keys?.[opts.keyAttribute]?.S ?? '',
        )
        opts.onFailure?.(keysFailed, null)
      }
    } catch (err: unknown) {
      opts.onFailure?.(keys, err)
    }
  }

  const pump = (): void => {
    while (!closed && !held && running.size < opts.concurrency && queue.length > 0) {
      const task = invoke(queue.splice(0, opts.batchSize)).finally(() => {
        running.delete(task)
        pump()
      })
      running.add(task)
    }
    if (idle() || (closed && running.size === 0)) for (const w of waiters.splice(0)) w()
  }

  return {
    push(item) {
      if (closed) return
      queue.push(item)
      pump()
    },
    settle() {
      held = false
      pump()
      if (idle() || (closed && running.size === 0)) return Promise.resolve()
      return new Promise<void>((resolve) => waiters.push(resolve))
    },
    async close() {
      closed = true
      queue.length = 0
      await Promise.all([...running])
      for (const w of waiters.splice(0)) w()
    },
  }
}

/**
 * Feeds a stream stand-in from a DynamoDB client, as a table's stream sees writes: every PutItem on
 * `table` that succeeds is an INSERT of its item (conditional puts that fail are no insert). Whatever
 * function writes through the client, and whatever it answers, the stream sees the storage write.
 * (PartnerOps creates events only with PutItem.)
 */
export function captureInserts(
  client: DynamoDBClient,
  table: string,
  keyAttribute: string,
  push: (item: InsertedItem) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args)
      const input = args.input as { TableName?: string; Item?: Record<string, unknown> }
      if (context.commandName === 'PutItemCommand' && input.TableName === table) {
        // The item may still be in document form or already marshalled ({ S: … }) at this step.
        const item = input.Item ?? {}
        const raw = item[keyAttribute]
        const key = typeof raw === 'string' ? raw : (raw as { S?: unknown } | undefined)?.S
        const newImage =
          typeof raw === 'string'
            ? marshall(item, { removeUndefinedValues: true })
            : (item as Record<string, AttributeValue>)
        if (typeof key === 'string') push({ key, newImage })
      }
      return out
    },
    { step: 'initialize', name: 'partnerOpsLocalStream' },
  )
}

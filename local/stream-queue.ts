import { randomUUID } from 'node:crypto'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import type { DynamoDBStreamEvent } from 'aws-lambda'
import { localLambdaContext, type StreamHandler } from './handlers'

/** Options of the local stand-in for a DynamoDB stream and its event source mapping. */
export interface StreamQueueOptions {
  /** The consumer, as Lambda would invoke it. */
  handler: StreamHandler
  /** Name of the key attribute of the table (KEYS_ONLY records carry only that). */
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

/** An in-process queue of newly inserted keys, drained into stream-shaped invocations. */
export interface StreamQueue {
  /** Queues one inserted key (ignored once closed). */
  push(key: string): void
  /** Releases held records, then resolves when nothing is queued and no invocation is in flight. */
  settle(): Promise<void>
  /** Stops taking keys, drops what has not started (left pending: the sweep completes it) and waits for the invocations in flight. */
  close(): Promise<void>
}

/**
 * The local runner's stand-in for DynamoDB Streams (dynalite has none): each queued key becomes an
 * INSERT record (KEYS_ONLY) and keys are handed to the same handler Lambda runs, in batches, with
 * bounded concurrency. Failed records are not retried here; they stay pending and the sweep of the
 * next reconciliation run completes them, as after a stream's retries run out.
 */
export function createStreamQueue(opts: StreamQueueOptions): StreamQueue {
  const queue: string[] = []
  const waiters: (() => void)[] = []
  const running = new Set<Promise<void>>()
  let sequence = 0
  let closed = false
  let held = opts.held ?? false

  const idle = (): boolean => queue.length === 0 && running.size === 0

  const toEvent = (keys: string[]): DynamoDBStreamEvent => ({
    Records: keys.map((key) => ({
      eventID: randomUUID(),
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: opts.eventSourceARN,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: { [opts.keyAttribute]: { S: key } },
        SequenceNumber: String(++sequence).padStart(21, '0'),
        SizeBytes: key.length + opts.keyAttribute.length,
        StreamViewType: 'KEYS_ONLY',
      },
    })),
  })

  const invoke = async (keys: string[]): Promise<void> => {
    const event = toEvent(keys)
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
    push(key) {
      if (closed) return
      queue.push(key)
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
 * `table` that succeeds is an INSERT of its key (conditional puts that fail are no insert). Whatever
 * function writes through the client, and whatever it answers, the stream sees the storage write.
 */
export function captureInserts(
  client: DynamoDBClient,
  table: string,
  keyAttribute: string,
  push: (key: string) => void,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const out = await next(args)
      const input = args.input as { TableName?: string; Item?: Record<string, unknown> }
      if (context.commandName === 'PutItemCommand' && input.TableName === table) {
        // The item may still be in document form or already marshalled ({ S: … }) at this step.
        const raw = input.Item?.[keyAttribute]
        const key = typeof raw === 'string' ? raw : (raw as { S?: unknown } | undefined)?.S
        if (typeof key === 'string') push(key)
      }
      return out
    },
    { step: 'initialize', name: 'partnerOpsLocalStream' },
  )
}

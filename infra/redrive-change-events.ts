import { pathToFileURL } from 'node:url'
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation'
import {
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
} from '@aws-sdk/client-dynamodb-streams'
import { EventBridgeClient } from '@aws-sdk/client-eventbridge'
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs'
import { changeTableResolver, type StreamRecordLike, toStreamChange } from '../shared/adapters/change-stream'
import type { TableNames } from '../shared/adapters/dynamo/tables'
import { createEventBridgeSink } from '../shared/adapters/event-sink'
import type { EventSink } from '../shared/ports'
import { publishChanges, type StreamChange } from '../shared/services/events/publish-changes'

/**
 * `npm run redrive-events [-- --stack-prefix PartnerOps] [--region eu-central-1] [--dry-run]`: drains
 * the change-event publisher's on-failure queue. Each message names a shard and a range of stream
 * records the publisher gave up on; the redrive reads those records back from the table's stream
 * (DynamoDB keeps them 24 hours), publishes their events with the same derivation and the same ids,
 * and deletes the message only when every record of the range is published. A range the stream no
 * longer holds is reported and its message kept.
 */

/** The part of a Lambda on-failure message (DynamoDB stream source) the redrive needs. */
export interface StreamBatchInfo {
  shardId: string
  startSequenceNumber: string
  endSequenceNumber: string
  streamArn: string
}

/** What one redrive did. */
export interface RedriveReport {
  messages: number
  redriven: number
  records: number
  published: number
  /** Messages kept in the queue, with why. */
  kept: { messageId: string; reason: string }[]
}

/** The clients and settings a redrive works with. */
export interface RedriveDeps {
  sqs: SQSClient
  streams: DynamoDBStreamsClient
  sink: EventSink
  queueUrl: string
  tables: Pick<TableNames, 'clients' | 'channels' | 'cancellations'>
  /** Only read and report; publish and delete nothing. */
  dryRun?: boolean
  /** Stop after this many messages (default: until the queue answers empty). */
  maxMessages?: number
}

const seq = (s: string | undefined): bigint => BigInt(s ?? '0')

/** Parses an on-failure message body; null when it is not a DynamoDB stream batch. */
export function batchInfoOf(body: string | undefined): StreamBatchInfo | null {
  try {
    const info = (JSON.parse(body ?? '') as { DDBStreamBatchInfo?: Partial<StreamBatchInfo> })
      .DDBStreamBatchInfo
    if (info?.shardId && info.startSequenceNumber && info.endSequenceNumber && info.streamArn) {
      return info as StreamBatchInfo
    }
  } catch {
    // Not JSON: reported as not a stream batch below.
  }
  return null
}

/**
 * The records of one range, read back from the stream in order. Bounded: an open shard answers empty
 * pages past its newest record, so reading stops at the end sequence number or after 5 empty pages.
 */
export async function readRange(
  streams: DynamoDBStreamsClient,
  info: StreamBatchInfo,
): Promise<StreamRecord[]> {
  const start = await streams.send(
    new GetShardIteratorCommand({
      StreamArn: info.streamArn,
      ShardId: info.shardId,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: info.startSequenceNumber,
    }),
  )
  const end = seq(info.endSequenceNumber)
  const records: StreamRecord[] = []
  let iterator = start.ShardIterator
  for (let empty = 0; iterator && empty < 5; ) {
    const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }))
    const got = page.Records ?? []
    if (got.length === 0) empty++
    for (const r of got) {
      if (seq(r.dynamodb?.SequenceNumber) > end) return records
      records.push(r)
    }
    if (records.length > 0 && seq(records.at(-1)?.dynamodb?.SequenceNumber) >= end) return records
    iterator = page.NextShardIterator
  }
  return records
}

/** Drains the on-failure queue (see the file comment). */
export async function redriveChangeEvents(deps: RedriveDeps): Promise<RedriveReport> {
  const tableOf = changeTableResolver({ ...deps.tables } as TableNames)
  const report: RedriveReport = { messages: 0, redriven: 0, records: 0, published: 0, kept: [] }
  const noMark = { ops: { markChangesPublished: async () => undefined } }
  const quiet = { warn: () => undefined, error: () => undefined }
  for (;;) {
    if (deps.maxMessages !== undefined && report.messages >= deps.maxMessages) break
    const out = await deps.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deps.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 120,
      }),
    )
    const messages = out.Messages ?? []
    if (messages.length === 0) break
    for (const m of messages) {
      report.messages++
      const id = m.MessageId ?? '?'
      const info = batchInfoOf(m.Body)
      if (!info) {
        report.kept.push({
          messageId: id,
          reason: 'not a DynamoDB stream batch (DDBStreamBatchInfo missing)',
        })
        continue
      }
      let records: StreamRecord[]
      try {
        records = await readRange(deps.streams, info)
      } catch (err) {
        const name = err instanceof Error ? err.name : 'error'
        report.kept.push({
          messageId: id,
          reason: `stream range not readable (${name}); past 24 hours it is gone`,
        })
        continue
      }
      const table = info.streamArn.match(/:table\/([^/]+)\/stream\//)?.[1]
      const changes = records
        .map((r) => toStreamChange(r as StreamRecordLike, tableOf, table))
        .filter((c): c is StreamChange => c !== null)
      if (seq(records.at(-1)?.dynamodb?.SequenceNumber) < seq(info.endSequenceNumber)) {
        report.kept.push({ messageId: id, reason: 'the stream no longer holds the whole range' })
        continue
      }
      report.records += changes.length
      if (deps.dryRun) continue
      const result = await publishChanges(
        { events: deps.sink, store: noMark, clock: { now: () => new Date() }, logger: quiet },
        changes,
      )
      report.published += result.published
      if (result.retryFrom !== null) {
        report.kept.push({
          messageId: id,
          reason: `publishing stopped at record ${result.retryFrom}; run again`,
        })
        continue
      }
      await deps.sqs.send(
        new DeleteMessageCommand({ QueueUrl: deps.queueUrl, ReceiptHandle: m.ReceiptHandle }),
      )
      report.redriven++
    }
  }
  return report
}

/** Command-line options. */
export interface RedriveOptions {
  stackPrefix: string
  region?: string
  dryRun: boolean
}

/** Parses `--stack-prefix`, `--region` and `--dry-run`. */
export function parseRedriveArgs(argv: string[]): RedriveOptions {
  const opts: RedriveOptions = { stackPrefix: 'PartnerOps', dryRun: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--dry-run') opts.dryRun = true
    else if (arg === '--stack-prefix' || arg === '--region') {
      const v = argv[++i]
      if (!v || v.startsWith('--')) throw new Error(`${arg} needs a value`)
      if (arg === '--region') opts.region = v
      else opts.stackPrefix = v
    } else throw new Error(`unknown option ${arg} (use --stack-prefix, --region, --dry-run)`)
  }
  return opts
}

async function outputsOf(cfn: CloudFormationClient, stack: string): Promise<Record<string, string>> {
  const out = await cfn.send(new DescribeStacksCommand({ StackName: stack }))
  return Object.fromEntries(
    (out.Stacks?.[0]?.Outputs ?? []).flatMap((o) =>
      o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [],
    ),
  )
}

async function main(): Promise<void> {
  const opts = parseRedriveArgs(process.argv.slice(2))
  const config = opts.region ? { region: opts.region } : {}
  const cfn = new CloudFormationClient(config)
  const stateless = await outputsOf(cfn, `${opts.stackPrefix}-Stateless`)
  const stateful = await outputsOf(cfn, `${opts.stackPrefix}-Stateful`)
  const need = (o: Record<string, string>, key: string): string => {
    const v = o[key]
    if (!v) throw new Error(`stack output ${key} missing: deploy this version first (npm run deploy)`)
    return v
  }
  const report = await redriveChangeEvents({
    sqs: new SQSClient(config),
    streams: new DynamoDBStreamsClient(config),
    sink: createEventBridgeSink({
      busName: need(stateless, 'EventBusName'),
      client: new EventBridgeClient(config),
    }),
    queueUrl: need(stateless, 'ChangeEventFailuresQueueUrl'),
    tables: {
      clients: need(stateful, 'ClientsTableName'),
      channels: need(stateful, 'ChannelsTableName'),
      cancellations: need(stateful, 'CancellationsTableName'),
    },
    dryRun: opts.dryRun,
  })
  process.stdout.write(
    `${opts.dryRun ? 'dry run: ' : ''}${report.messages} message(s), ${report.records} record(s), ${report.published} event(s) published, ${report.redriven} message(s) deleted\n`,
  )
  for (const k of report.kept) process.stdout.write(`kept ${k.messageId}: ${k.reason}\n`)
  if (report.kept.length > 0) process.exitCode = 2
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    process.stderr.write(`redrive-events failed: ${message}\n`)
    process.exit(1)
  })
}

import { spawn } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { Agent, request } from 'node:http'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb'
import type { UpstreamChannel } from '../../shared/domain/upstream'
import { SETTINGS } from '../../shared/env'
import fixtures from '../fixtures/partner-api.json'
import { seededRandom } from '../support/lambda'
import { withPeakRss } from './harness'

/**
 * The webhook benchmark's load: its signed dataset and the sender that drives it (a bounded pool
 * that retries a non-200 like 360dialog would). `runLoad` runs the sender in a child process of its
 * own, so that the measured server's event loop carries only the server (in AWS the sender is
 * 360dialog, far away); the same module is that child's entry point.
 */

export const DISTINCT = 4_000
export const DUPLICATES = 1_000
export const CONCURRENCY = 50
export const MAX_ATTEMPTS = 6
const SECRET = SETTINGS.PLATFORM_SECRET.local
const KINDS = ['channel_created', 'channel_ready', 'channel_running', 'channel_live'] as const
const BASE = (fixtures.webhook_events.channel_created as { data: UpstreamChannel }).data

export interface Send {
  id: string
  body: string
  signature: string
}

/** 4,000 distinct signed channel events (1,000 channels × 4 steps) plus 1,000 duplicates, shuffled. */
export function dataset(prefix: string): { sends: Send[]; distinct: Set<string> } {
  const distinct: Send[] = []
  for (let c = 0; c < DISTINCT / KINDS.length; c++) {
    KINDS.forEach((kind, step) => {
      const time = new Date(Date.UTC(2025, 2, 1, 0, step, 0)).toISOString()
      const id = `${prefix}-${c}-${step}`
      const data = {
        ...BASE,
        id: `${prefix}CH${c}`,
        status: kind.replace('channel_', ''),
        account_mode: kind === 'channel_live' ? 'live' : 'sandbox',
        modified_at: time,
      }
      const body = JSON.stringify({ id, event: kind, data, timestamp: time })
      distinct.push({ id, body, signature: createHmac('sha256', SECRET).update(body).digest('hex') })
    })
  }
  const rand = seededRandom(7)
  const sends = [...distinct]
  for (let i = 0; i < DUPLICATES; i++) sends.push(distinct[Math.floor(rand() * distinct.length)] as Send)
  for (let i = sends.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[sends[i], sends[j]] = [sends[j] as Send, sends[i] as Send]
  }
  return { sends, distinct: new Set(distinct.map((d) => d.id)) }
}

export interface RunResult {
  latencies: number[]
  ms: number
  acked: Set<string>
  attempts: number
  refused: number
  peakRssMb: number
}

/** Runs `send` over every item with a bounded pool; non-200 answers are retried like a sender would. */
export async function drive(sends: Send[], send: (s: Send) => Promise<number>): Promise<RunResult> {
  const latencies: number[] = []
  const acked = new Set<string>()
  let attempts = 0
  let refused = 0
  let next = 0
  const started = performance.now()
  const { peakRssMb } = await withPeakRss(async () => {
    const worker = async (): Promise<void> => {
      while (next < sends.length) {
        const item = sends[next++] as Send
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          attempts++
          const t = performance.now()
          const status = await send(item)
          latencies.push(performance.now() - t)
          if (status === 200) {
            acked.add(item.id)
            break
          }
          refused++
          await new Promise((r) => setTimeout(r, 5 * 2 ** attempt))
        }
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  })
  return { latencies, ms: performance.now() - started, acked, attempts, refused, peakRssMb }
}

export function httpPost(agent: Agent, url: string, s: Send): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'x-360dialog-signature': s.signature },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(s.body)
  })
}

/** What the load process is asked to do: POST to `url`, or the floor's conditional PutItem on `table`. */
export type LoadJob =
  | { kind: 'http'; prefix: string; url: string; sends?: number }
  | { kind: 'floor'; prefix: string; endpoint: string; table: string; sends?: number }

/** A RunResult as it crosses the process boundary, plus the DynamoDB requests the floor sent. */
interface WireResult extends Omit<RunResult, 'acked'> {
  acked: string[]
  dynamoRequests: number
  /** CPU (user + system) of the load process while it drove the sends. */
  senderCpuMs: number
}

async function runJob(job: LoadJob): Promise<WireResult> {
  const cpu = process.cpuUsage()
  const senderCpuMs = (): number => {
    const used = process.cpuUsage(cpu)
    return (used.user + used.system) / 1000
  }
  const all = dataset(job.prefix).sends
  const sends = job.sends === undefined ? all : all.slice(0, job.sends)
  if (job.kind === 'http') {
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
    try {
      const r = await drive(sends, (s) => httpPost(agent, job.url, s))
      return { ...r, acked: [...r.acked], dynamoRequests: 0, senderCpuMs: senderCpuMs() }
    } finally {
      agent.destroy()
    }
  }
  const client = new DynamoDBClient({
    endpoint: job.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  })
  const doc = DynamoDBDocumentClient.from(client)
  let dynamoRequests = 0
  try {
    const r = await drive(sends, async (s) => {
      dynamoRequests++
      try {
        await doc.send(
          new PutCommand({
            TableName: job.table,
            Item: { pk: `id:${s.id}`, body: s.body, receivedAt: new Date().toISOString() },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        )
      } catch (err: unknown) {
        if (!(err instanceof Error && err.name === 'ConditionalCheckFailedException')) return 503
      }
      return 200
    })
    return { ...r, acked: [...r.acked], dynamoRequests, senderCpuMs: senderCpuMs() }
  } finally {
    client.destroy()
  }
}

const SELF = fileURLToPath(import.meta.url)

/** Runs `job` in a fresh `node --import tsx` process and answers its result. */
export async function runLoad(
  job: LoadJob,
): Promise<RunResult & { dynamoRequests: number; senderCpuMs: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, JSON.stringify(job)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const code = await new Promise<number | null>((ok) => child.once('exit', ok))
  if (code !== 0) throw new Error(`webhook load process exited with ${code}`)
  const r = JSON.parse(out) as WireResult
  return { ...r, acked: new Set(r.acked) }
}

if (process.argv[1] === SELF) {
  runJob(JSON.parse(process.argv[2] ?? '{}') as LoadJob).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (err: unknown) => {
      process.stderr.write(`webhook load failed: ${err instanceof Error ? err.stack : String(err)}\n`)
      process.exit(1)
    },
  )
}

import { createHmac } from 'node:crypto'
import { Agent, createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency'
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb'
import { CreateTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb'
import { buildWebhookHandler } from '../../functions/webhook/handler'
import { type App, LOCAL_DEFAULTS, startApp } from '../../local/app'
import type { AppDeps } from '../../shared/deps'
import type { UpstreamChannel } from '../../shared/domain/upstream'
import { verifySignature } from '../../shared/http/webhook-auth'
import type { StateStore } from '../../shared/ports'
import { applyWebhookEvent } from '../../shared/services/apply-webhook-event'
import fixtures from '../fixtures/partner-api.json'
import { type Bench, type BenchTable, percentile, round, withPeakRss } from './harness'

const DISTINCT = 4_000
const DUPLICATES = 1_000
const CONCURRENCY = 50
const MAX_ATTEMPTS = 6
const SECRET = LOCAL_DEFAULTS.platformSecret
const KINDS = ['channel_created', 'channel_ready', 'channel_running', 'channel_live'] as const
const BASE = (fixtures.webhook_events.channel_created as { data: UpstreamChannel }).data

/** Deterministic PRNG (mulberry32), so every variant gets the same order. */
function prng(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Send {
  id: string
  body: string
  signature: string
}

/** 4,000 distinct signed channel events (1,000 channels × 4 steps) plus 1,000 duplicates, shuffled. */
function dataset(prefix: string): { sends: Send[]; distinct: Set<string> } {
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
  const rand = prng(7)
  const sends = [...distinct]
  for (let i = 0; i < DUPLICATES; i++) sends.push(distinct[Math.floor(rand() * distinct.length)] as Send)
  for (let i = sends.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[sends[i], sends[j]] = [sends[j] as Send, sends[i] as Send]
  }
  return { sends, distinct: new Set(distinct.map((d) => d.id)) }
}

interface RunResult {
  latencies: number[]
  ms: number
  acked: Set<string>
  attempts: number
  refused: number
  peakRssMb: number
}

/** Runs `send` over every item with a bounded pool; non-200 answers are retried like a sender would. */
async function drive(sends: Send[], send: (s: Send) => Promise<number>): Promise<RunResult> {
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

function httpPost(agent: Agent, url: string, s: Send): Promise<number> {
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

async function readBody(req: import('node:http').IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/** The baseline "most teams would write": Powertools makeIdempotent around store + apply, keyed by event id. */
async function startPowertoolsBaseline(
  deps: AppDeps,
  client: DynamoDBClient,
  table: string,
): Promise<Server> {
  const persistenceStore = new DynamoDBPersistenceLayer({ tableName: table, awsSdkV3Client: client })
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'id' })
  // As in Lambda: the in-progress lock expires with the invocation's remaining time.
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 5_000 } as never)
  const handle = makeIdempotent(
    async (envelope: { id: string; event: string; data: Record<string, unknown>; timestamp?: string }) => {
      const now = deps.clock.now()
      const body = JSON.stringify(envelope)
      await deps.store.events.putNew({
        eventKey: `id:${envelope.id}`,
        eventType: envelope.event,
        body,
        receivedAt: now.toISOString(),
        status: 'pending',
        reason: null,
        appliedAt: null,
        expiresAt: Math.floor(now.getTime() / 1000) + 30 * 86_400,
        deliveries: 1,
      })
      const outcome = await applyWebhookEvent(deps, envelope, { receivedAt: now.toISOString() })
      await deps.store.events.markOutcome(
        `id:${envelope.id}`,
        outcome.status,
        outcome.reason,
        now.toISOString(),
      )
      return { statusCode: 200 }
    },
    { persistenceStore, config },
  )
  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req)
      const signature = req.headers['x-360dialog-signature']
      if (typeof signature !== 'string' || !verifySignature(raw, signature, [SECRET])) {
        res.writeHead(401).end()
        return
      }
      try {
        await handle(JSON.parse(raw.toString('utf8')))
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"accepted"}')
      } catch (err: unknown) {
        res.writeHead(err instanceof IdempotencyAlreadyInProgressError ? 409 : 500).end()
      }
    })()
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  return server
}

async function countItems(client: DynamoDBClient, table: string, prefix: string): Promise<Set<string>> {
  const found = new Set<string>()
  let start: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> | undefined
  for (let page = 0; page < 10_000; page++) {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }))
    for (const item of out.Items ?? []) {
      const key = Object.values(item)
        .map((v) => v.S ?? '')
        .find((s) => s.includes(`${prefix}-`))
      if (key) found.add(key.replace(/^id:/, ''))
    }
    start = out.LastEvaluatedKey
    if (!start) break
  }
  return found
}

/** Counts store calls per repository method (reads vs writes) for one in-process pass. */
function countingStore(store: StateStore): { store: StateStore; reads: () => number; writes: () => number } {
  let reads = 0
  let writes = 0
  const READ = /^(get|list|find|count|digests|scan)/
  const wrap = <T extends object>(repo: T): T =>
    new Proxy(repo, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          if (READ.test(String(prop))) reads++
          else writes++
          return (value as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
  const wrapped = Object.fromEntries(
    Object.entries(store).map(([k, v]) => [k, wrap(v as object)]),
  ) as unknown as StateStore
  return { store: wrapped, reads: () => reads, writes: () => writes }
}

function row(
  name: string,
  sent: number,
  distinct: Set<string>,
  stored: Set<string>,
  r: RunResult,
  floorMs: number,
) {
  const lost = [...r.acked].filter((id) => !stored.has(id)).length
  const eventsPerSecond = (sent / r.ms) * 1000
  return [
    name,
    round(percentile(r.latencies, 50), 1),
    round(percentile(r.latencies, 99), 1),
    round(Math.max(...r.latencies), 1),
    round(eventsPerSecond, 0),
    `${stored.size}/${distinct.size}`,
    lost,
    r.refused,
    round(r.ms / floorMs, 2),
    r.peakRssMb,
  ]
}

/**
 * 5,000 signed webhook events (20 % duplicates) at concurrency 50: PartnerOps through the local HTTP
 * server on embedded DynamoDB, beside (a) one conditional PutItem per event on the same DynamoDB and
 * (b) Powertools makeIdempotent around a store-and-apply handler behind a minimal HTTP server.
 */
export const bench: Bench = {
  name: 'webhook',
  async run(): Promise<BenchTable[]> {
    const app: App = await startApp({
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: false },
      env: { EVENT_SINK: 'none' },
    })
    const endpoint = app.deps.config.DYNAMODB_ENDPOINT ?? ''
    const client = new DynamoDBClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    })
    const doc = DynamoDBDocumentClient.from(client)
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
    let baseline: Server | null = null
    try {
      for (const [name, key] of [
        ['bench-floor', 'pk'],
        ['bench-idempotency', 'id'],
      ] as const) {
        await client.send(
          new CreateTableCommand({
            TableName: name,
            KeySchema: [{ AttributeName: key, KeyType: 'HASH' }],
            AttributeDefinitions: [{ AttributeName: key, AttributeType: 'S' }],
            BillingMode: 'PAY_PER_REQUEST',
          }),
        )
      }
      baseline = await startPowertoolsBaseline(app.deps, client, 'bench-idempotency')
      const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/webhooks/360dialog`
      const oursUrl = `${app.url}/webhooks/360dialog`

      // Warm-up (JIT, sockets), not reported.
      const warm = dataset('warm').sends.slice(0, 300)
      await drive(warm, (s) => httpPost(agent, oursUrl, s))
      await drive(warm, (s) => httpPost(agent, baselineUrl, { ...s, id: `${s.id}` }))

      const floorData = dataset('floor')
      const floor = await drive(floorData.sends, async (s) => {
        try {
          await doc.send(
            new PutCommand({
              TableName: 'bench-floor',
              Item: { pk: `id:${s.id}`, body: s.body, receivedAt: new Date().toISOString() },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          )
        } catch (err: unknown) {
          if (!(err instanceof Error && err.name === 'ConditionalCheckFailedException')) return 503
        }
        return 200
      })
      const floorStored = await countItems(client, 'bench-floor', 'floor')

      const oursData = dataset('ours')
      const ours = await drive(oursData.sends, (s) => httpPost(agent, oursUrl, s))
      const oursStored = await countItems(client, app.deps.config.TABLE_EVENTS, 'ours')

      const ptData = dataset('pt')
      const pt = await drive(ptData.sends, (s) => httpPost(agent, baselineUrl, s))
      const ptStored = await countItems(client, app.deps.config.TABLE_EVENTS, 'pt')

      // Store calls per event, measured in-process over 1,000 sends of a fresh dataset.
      const counting = countingStore(app.deps.store)
      const handler = buildWebhookHandler({ ...app.deps, store: counting.store })
      const calls = dataset('calls').sends.slice(0, 1_000)
      for (const s of calls) {
        await handler(
          {
            body: s.body,
            headers: { 'x-360dialog-signature': s.signature },
            multiValueHeaders: { 'x-360dialog-signature': [s.signature] },
            httpMethod: 'POST',
            isBase64Encoded: false,
            path: '/webhooks/360dialog',
            pathParameters: null,
            queryStringParameters: null,
            multiValueQueryStringParameters: null,
            stageVariables: null,
            resource: '/webhooks/360dialog',
            requestContext: {} as never,
          },
          {} as never,
        )
      }

      const sent = floorData.sends.length
      return [
        {
          title: `Webhook ingestion: ${sent} signed events (${DUPLICATES} duplicates), concurrency ${CONCURRENCY}, embedded DynamoDB`,
          note:
            'Latency per HTTP attempt in ms. "stored" = distinct events found in the table / distinct sent; ' +
            '"lost" = acknowledged (200) but not stored; "refused" = non-200 attempts (retried by the load ' +
            "generator with backoff, as the sender would). Cost = wall time of the run / the floor's wall " +
            `time (one process shares the CPU with dynalite). Store calls per send (1,000 sends, 20 % dup.): ` +
            `${round(counting.writes() / calls.length, 2)} writes, ${round(counting.reads() / calls.length, 2)} reads ` +
            '(the floor: 1 write).',
          columns: [
            'variant',
            'p50 ms',
            'p99 ms',
            'max ms',
            'events/s',
            'stored',
            'lost',
            'refused',
            'cost × floor',
            'peak RSS MB',
          ],
          rows: [
            row(
              '(a) floor: one conditional PutItem, no HTTP',
              sent,
              floorData.distinct,
              floorStored,
              floor,
              floor.ms,
            ),
            row(
              'PartnerOps webhook (local HTTP server, middy chain)',
              sent,
              oursData.distinct,
              oursStored,
              ours,
              floor.ms,
            ),
            row(
              '(b) Powertools makeIdempotent + store + apply',
              sent,
              ptData.distinct,
              ptStored,
              pt,
              floor.ms,
            ),
          ],
        },
      ]
    } finally {
      agent.destroy()
      if (baseline) {
        const b = baseline
        b.closeAllConnections()
        await new Promise<void>((ok) => b.close(() => ok()))
      }
      client.destroy()
      await app.close()
    }
  },
}

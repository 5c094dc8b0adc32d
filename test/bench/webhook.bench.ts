import { Agent, createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency'
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb'
import {
  type AttributeValue,
  CreateTableCommand,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb'
import type {
  APIGatewayProxyEvent,
  DynamoDBStreamEvent,
  AttributeValue as LambdaAttributeValue,
} from 'aws-lambda'
import { buildWebhookHandler } from '../../functions/webhook/handler'
import { buildWebhookApplierHandler } from '../../functions/webhook-applier/handler'
import { type App, LOCAL_DEFAULTS, startApp } from '../../local/app'
import { captureInserts, type InsertedItem } from '../../local/stream-queue'
import { createDynamoStore, tableNamesFromConfig } from '../../shared/adapters/dynamo/dynamo-store'
import { KEYS } from '../../shared/adapters/dynamo/tables'
import type { AppDeps } from '../../shared/deps'
import { verifySignature } from '../../shared/http/webhook-auth'
import type { StateStore } from '../../shared/ports'
import { applyWebhookEvent } from '../../shared/services/webhooks/apply-webhook-event'
import { seededRandom } from '../support/lambda'
import { startDynamoProcess } from './dynamo-process'
import { type Bench, type BenchTable, percentile, round, withPeakRss } from './harness'
import {
  CONCURRENCY,
  DUPLICATES,
  dataset,
  drive,
  httpPost,
  type RunResult,
  runLoad,
  type Send,
} from './webhook-load'

const SECRET = LOCAL_DEFAULTS.platformSecret

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

/** Status of every stored event whose key carries `prefix` (id → status). */
async function storedStatuses(
  client: DynamoDBClient,
  table: string,
  prefix: string,
): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  let start: Record<string, AttributeValue> | undefined
  for (let page = 0; page < 10_000; page++) {
    const out = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }))
    for (const item of out.Items ?? []) {
      const key = Object.values(item)
        .map((v) => v.S ?? '')
        .find((s) => s.includes(`${prefix}-`))
      if (key) found.set(key.replace(/^id:/, ''), item.status?.S ?? '')
    }
    start = out.LastEvaluatedKey
    if (!start) break
  }
  return found
}

/** DynamoDB requests sent through a client, by command, counted by a client middleware. */
interface CallCounter {
  total(): number
  byCommand(): Record<string, number>
  reset(): void
}

function countCalls(client: DynamoDBClient): CallCounter {
  const counts = new Map<string, number>()
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = (context.commandName ?? 'unknown').replace(/Command$/, '')
      counts.set(name, (counts.get(name) ?? 0) + 1)
      return next(args)
    },
    { step: 'initialize', name: 'benchCallCounter' },
  )
  return {
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    byCommand: () => Object.fromEntries([...counts.entries()].sort()),
    reset: () => counts.clear(),
  }
}

function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  })
}

function webhookEvent(s: Send): APIGatewayProxyEvent {
  return {
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
  }
}

/** INSERT records as the events table's stream (NEW_IMAGE) carries them. */
function streamBatch(items: InsertedItem[], from: number): DynamoDBStreamEvent {
  return {
    Records: items.map(({ key, newImage }, i) => ({
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      dynamodb: {
        Keys: { eventKey: { S: key } },
        NewImage: newImage as Record<string, LambdaAttributeValue>,
        SequenceNumber: String(from + i),
        StreamViewType: 'NEW_IMAGE',
      },
    })),
  }
}

/** `distinct` different sends plus `duplicates` repeats of them, shuffled (the run's 20 % mix at a smaller size). */
function sample(from: Send[], distinct: number, duplicates: number): Send[] {
  const seen = new Map<string, Send>()
  for (const s of from) if (seen.size < distinct) seen.set(s.id, s)
  const unique = [...seen.values()]
  const rand = seededRandom(11)
  const out = [...unique]
  for (let i = 0; i < duplicates; i++) out.push(unique[Math.floor(rand() * unique.length)] as Send)
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j] as Send, out[i] as Send]
  }
  return out
}

/**
 * DynamoDB requests per send, counted with a client middleware on a store over the same embedded
 * DynamoDB: 1,000 sends of a fresh dataset (20 % duplicates) through the webhook handler in process at concurrency 50
 * (the request path), then the stream's INSERTs of the new events through the applier, 25 per batch.
 */
async function countPartnerOpsCalls(
  app: App,
): Promise<{ sends: number; created: number; request: CallCounter; applier: CallCounter }> {
  const config = app.deps.config
  const requestClient = localClient(config.DYNAMODB_ENDPOINT ?? '')
  const applierClient = localClient(config.DYNAMODB_ENDPOINT ?? '')
  const request = countCalls(requestClient)
  const applier = countCalls(applierClient)
  const storeOver = (client: DynamoDBClient): StateStore =>
    createDynamoStore({ client, tables: tableNamesFromConfig(config), cursorSecret: config.CURSOR_SECRET })
  const handler = buildWebhookHandler({ ...app.deps, store: storeOver(requestClient) })
  const apply = buildWebhookApplierHandler({ ...app.deps, store: storeOver(applierClient) })
  const sends = sample(dataset('calls').sends, 800, 200)
  // What the events table's stream would carry: every event created, with its new image.
  const created: InsertedItem[] = []
  captureInserts(requestClient, config.TABLE_EVENTS, KEYS.events.pk, (item) => created.push(item))
  await drive(sends, async (s) => (await handler(webhookEvent(s), {} as never)).statusCode)
  for (let i = 0; i < created.length; i += 25) {
    await apply(streamBatch(created.slice(i, i + 25), i), {} as never)
  }
  requestClient.destroy()
  applierClient.destroy()
  return { sends: sends.length, created: created.length, request, applier }
}

/** CPU ms per send in each process of a run: this one (the servers), dynalite's, the sender's. */
interface CpuPerSend {
  server: number
  dynamo: number
  sender: number | null
}

/** DynamoDB's process, for its CPU figure (set once the run starts it). */
let dynamoCpuMs: () => number = () => 0

/**
 * Runs `run` (a load process or, in this process, `drive`) and answers its result with this process's
 * peak RSS and the CPU each process used per send during it.
 */
async function withRss<T extends RunResult & { senderCpuMs?: number }>(
  run: () => Promise<T>,
): Promise<T & { cpu: CpuPerSend }> {
  const cpu = process.cpuUsage()
  const dynamo = dynamoCpuMs()
  const { result, peakRssMb } = await withPeakRss(run)
  const used = process.cpuUsage(cpu)
  const sends = result.attempts
  return {
    ...result,
    peakRssMb,
    cpu: {
      server: (used.user + used.system) / 1000 / sends,
      dynamo: (dynamoCpuMs() - dynamo) / sends,
      sender: result.senderCpuMs === undefined ? null : result.senderCpuMs / sends,
    },
  }
}

interface Row {
  name: string
  data: { sends: Send[]; distinct: Set<string> }
  stored: Map<string, string>
  run: RunResult & { dynamoRequests?: number; cpu?: CpuPerSend }
  /** DynamoDB requests per send on the request path. */
  callsPerSend: number
  /** Time from the last 200 until every distinct event was completed (null = applied inline). */
  appliedLagMs: number | null
  /** Distinct events whose outcome is recorded (not pending), or null when not applicable. */
  completed: number | null
}

function row(r: Row, floor: Row): (string | number)[] {
  const lost = [...r.run.acked].filter((id) => !r.stored.has(id)).length
  return [
    r.name,
    round(percentile(r.run.latencies, 50), 1),
    round(percentile(r.run.latencies, 99), 1),
    round(Math.max(...r.run.latencies), 1),
    round((r.data.sends.length / r.run.ms) * 1000, 0),
    `${r.stored.size}/${r.data.distinct.size}`,
    lost,
    r.run.refused,
    round(r.run.ms / floor.run.ms, 2),
    round(r.callsPerSend, 2),
    round(r.callsPerSend / floor.callsPerSend, 2),
    r.appliedLagMs === null ? 'inline' : round(r.appliedLagMs, 0),
    r.completed === null ? '–' : `${r.completed}/${r.data.distinct.size}`,
    r.run.peakRssMb,
    r.run.cpu
      ? `${round(r.run.cpu.server, 2)} / ${round(r.run.cpu.dynamo, 2)} / ${r.run.cpu.sender === null ? '(in server)' : round(r.run.cpu.sender, 2)}`
      : '–',
  ]
}

const completedCount = (statuses: Map<string, string>): number =>
  [...statuses.values()].filter((s) => s !== '' && s !== 'pending').length

const perUnit = (o: Record<string, number>, per: number): string =>
  Object.entries(o)
    .map(([k, v]) => `${k} ${round(v / per, 2)}`)
    .join(', ')

/**
 * 5,000 signed webhook events (20 % duplicates) at concurrency 50: PartnerOps through the local HTTP
 * server on embedded DynamoDB (stored and answered, then applied by the stream applier), beside (a)
 * one conditional PutItem per event on the same DynamoDB and (b) Powertools makeIdempotent around a
 * store-and-apply handler behind a minimal HTTP server.
 */
export const bench: Bench = {
  name: 'webhook',
  async run(): Promise<BenchTable[]> {
    const dynamo = await startDynamoProcess()
    dynamoCpuMs = dynamo.cpuMs
    const app: App = await startApp({
      dynamoEndpoint: dynamo.endpoint,
      holdStream: true,
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: false },
      env: { EVENT_SINK: 'none' },
    })
    const config = app.deps.config
    const endpoint = config.DYNAMODB_ENDPOINT ?? ''
    const client = localClient(endpoint)
    const ptClient = localClient(endpoint)
    const ptCalls = countCalls(ptClient)
    const ptStore = createDynamoStore({
      client: ptClient,
      tables: tableNamesFromConfig(config),
      cursorSecret: config.CURSOR_SECRET,
    })
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
      baseline = await startPowertoolsBaseline({ ...app.deps, store: ptStore }, ptClient, 'bench-idempotency')
      const baselineUrl = `http://127.0.0.1:${(baseline.address() as AddressInfo).port}/webhooks/360dialog`
      const oursUrl = `${app.url}/webhooks/360dialog`

      // Warm-up (JIT, sockets), not reported.
      const warm = dataset('warm').sends.slice(0, 300)
      await drive(warm, (s) => httpPost(agent, oursUrl, s))
      await drive(warm, (s) => httpPost(agent, baselineUrl, s))
      await app.settle()

      // Every variant is driven from a load process of its own (test/bench/webhook-load.ts): this
      // process holds only the servers, as a Lambda holds only its handler. Peak RSS is this process's.
      const floorData = dataset('floor')
      const floorRun = await withRss(() =>
        runLoad({ kind: 'floor', prefix: 'floor', endpoint, table: 'bench-floor' }),
      )
      const floor: Row = {
        name: '(a) floor: one conditional PutItem, no HTTP',
        data: floorData,
        stored: await storedStatuses(client, 'bench-floor', 'floor'),
        run: floorRun,
        callsPerSend: floorRun.dynamoRequests / floorData.sends.length,
        appliedLagMs: null,
        completed: null,
      }

      const oursData = dataset('ours')
      const oursRun = await withRss(() => runLoad({ kind: 'http', prefix: 'ours', url: oursUrl }))
      const lastAnswer = performance.now()
      await app.settle()
      const appliedLagMs = performance.now() - lastAnswer
      const oursStored = await storedStatuses(client, config.TABLE_EVENTS, 'ours')

      // The same, with the load generator in this process (as measured before 2026-11-26).
      const sameData = dataset('same')
      const sameRun = await withRss(() => drive(sameData.sends, (s) => httpPost(agent, oursUrl, s)))
      await app.settle()
      const sameStored = await storedStatuses(client, config.TABLE_EVENTS, 'same')

      const ptData = dataset('pt')
      ptCalls.reset()
      const ptRun = await withRss(() => runLoad({ kind: 'http', prefix: 'pt', url: baselineUrl }))
      const ptCallsPerSend = ptCalls.total() / ptData.sends.length
      const ptByCommand = ptCalls.byCommand()
      const ptStored = await storedStatuses(client, config.TABLE_EVENTS, 'pt')

      const counted = await countPartnerOpsCalls(app)
      const ourCallsPerSend = counted.request.total() / counted.sends
      const rows: Row[] = [
        floor,
        {
          name: 'PartnerOps webhook (local HTTP server, middy chain; stream applier after)',
          data: oursData,
          stored: oursStored,
          run: oursRun,
          callsPerSend: ourCallsPerSend,
          appliedLagMs,
          completed: completedCount(oursStored),
        },
        {
          name: 'PartnerOps webhook, load generator in the server process',
          data: sameData,
          stored: sameStored,
          run: sameRun,
          callsPerSend: ourCallsPerSend,
          appliedLagMs: null,
          completed: completedCount(sameStored),
        },
        {
          name: '(b) Powertools makeIdempotent + store + apply',
          data: ptData,
          stored: ptStored,
          run: ptRun,
          callsPerSend: ptCallsPerSend,
          appliedLagMs: null,
          completed: completedCount(ptStored),
        },
      ]
      const sent = floorData.sends.length
      const created = Math.max(1, counted.created)
      return [
        {
          title: `Webhook ingestion: ${sent} signed events (${DUPLICATES} duplicates), concurrency ${CONCURRENCY}, dynalite and the load generator each in a process of their own (DynamoDB and the sender are remote in AWS)`,
          note:
            'Latency per HTTP attempt in ms (request path). "stored" = distinct events in the table / distinct ' +
            'sent; "lost" = acknowledged (200) but not stored; "refused" = non-200 attempts (retried with ' +
            'backoff, as the sender would). "cost × floor (time)" = wall time of the run / the floor\'s ' +
            '(the floor has no HTTP). The sender runs in a load process of its own for every variant but one (test/bench/webhook-load.ts; in AWS it is 360dialog), so the server\'s event loop carries only the server; "load generator in the server process" is the earlier setup, for comparison. "calls/send" = DynamoDB requests per send on the ' +
            'request path, counted by a client middleware (PartnerOps: 1,000 sends of a fresh dataset, 20 % duplicates, through ' +
            'the handler in process at concurrency 50; floor and Powertools: during their runs); "cost × floor ' +
            '(calls)" = calls/send ÷ the floor\'s. "applied lag" = time for the local stream stand-in to apply every ' +
            'stored event after the burst (it holds its records during the burst: in AWS the applier is ' +
            "another function on other machines, so it must not share the request path's event loop while " +
            'latency is measured); "completed" = distinct events whose outcome is ' +
            'recorded (applied, stale, rejected, unknown) after that. "CPU ms per attempt" = CPU (user + system) each process used during the run ÷ HTTP attempts (server: this process, which holds the servers; the floor\'s "server" is idle); with 2 cores, throughput ≤ 2,000 ÷ their sum per second and, at 50 in flight, mean latency ≥ 50 ÷ throughput.',
          columns: [
            'variant',
            'p50 ms',
            'p99 ms',
            'max ms',
            'events/s',
            'stored',
            'lost',
            'refused',
            'cost × floor (time)',
            'calls/send',
            'cost × floor (calls)',
            'applied lag ms',
            'completed',
            'peak RSS MB',
            'CPU ms per attempt: server / dynalite / sender',
          ],
          rows: rows.map((r) => row(r, floor)),
        },
        {
          title: 'Webhook ingestion: DynamoDB requests by command',
          note:
            `PartnerOps request path per send (${counted.sends} sends, 800 distinct + 200 duplicates: a new event is one ` +
            'PutItem; a duplicate a refused PutItem, an UpdateItem of its delivery count that returns the stored ' +
            'event, and its counters, one batched UpdateItem for concurrent requests; a duplicate of an event ' +
            `still pending after 3 s completes it inline); applier per new event (${counted.created} INSERTs with ` +
            'their NEW_IMAGE, 25 per invocation: one conditional UpdateItem per fact, refused when stale, the ' +
            'outcome UpdateItem, and one counter UpdateItem per batch); Powertools per send during its run.',
          columns: ['variant', 'requests per unit', 'by command'],
          rows: [
            [
              '(a) floor, per send',
              round(floor.callsPerSend, 2),
              perUnit({ PutItem: floor.run.dynamoRequests ?? 0 }, sent),
            ],
            [
              'PartnerOps request path, per send',
              round(ourCallsPerSend, 2),
              perUnit(counted.request.byCommand(), counted.sends),
            ],
            [
              'PartnerOps applier, per new event',
              round(counted.applier.total() / created, 2),
              perUnit(counted.applier.byCommand(), created),
            ],
            [
              'PartnerOps request path + applier, per send',
              round((counted.request.total() + counted.applier.total()) / counted.sends, 2),
              '',
            ],
            [
              'PartnerOps request path + applier, per new event',
              round((counted.request.total() + counted.applier.total()) / created, 2),
              '',
            ],
            ['(b) Powertools, per send', round(ptCallsPerSend, 2), perUnit(ptByCommand, ptData.sends.length)],
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
      ptClient.destroy()
      await app.close()
      await dynamo.close()
    }
  },
}

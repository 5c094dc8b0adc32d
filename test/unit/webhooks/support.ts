import { createHmac } from 'node:crypto'
import { marshall } from '@aws-sdk/util-dynamodb'
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  DynamoDBBatchResponse,
  DynamoDBStreamEvent,
  AttributeValue as LambdaAttributeValue,
} from 'aws-lambda'
import { buildWebhookHandler } from '../../../functions/webhook/handler'
import { buildWebhookApplierHandler } from '../../../functions/webhook-applier/handler'
import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import type { AppDeps } from '../../../shared/deps'
import type { ChangeEvent, WebhookEventRecord } from '../../../shared/domain/types'
import { loadConfig } from '../../../shared/env'
import { WEBHOOK_PATH } from '../../../shared/http/routes'
import type { SecretSource } from '../../../shared/ports'
import { createAppDeps } from '../../../shared/wiring'
import { changeFeed } from '../../fakes/change-feed'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakePartnerApi } from '../../fakes/partner-api'
import fixtures from '../../fixtures/partner-api.json'
import { lambdaContext, apiEvent as sharedApiEvent } from '../../support/lambda'

export const SECRET = 'test-platform-secret'

/** The fixture webhook envelopes by event name. */
export const FIXTURE_EVENTS = fixtures.webhook_events as Record<string, Record<string, unknown>>

/** Lowercase hex HMAC-SHA256 of a body. */
export function sign(body: string | Uint8Array, secret = SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex')
}

export interface Harness {
  deps: AppDeps
  store: MemoryStore
  clock: FakeClock
  sink: { events: ChangeEvent[] }
  handler: ReturnType<typeof buildWebhookHandler>
  applier: ReturnType<typeof buildWebhookApplierHandler>
  /** Posts a body (signed with SECRET unless headers say otherwise) through the real middy chain: stored, not applied. */
  post(body: string, init?: PostInit): Promise<APIGatewayProxyResult>
  /** Invokes the applier with INSERT records for these keys, as the events table's stream would. */
  stream(keys: string[]): Promise<DynamoDBBatchResponse>
  /** post, then the stream's INSERT for a newly stored event: what one delivery amounts to in AWS. */
  deliver(body: string, init?: PostInit): Promise<APIGatewayProxyResult>
  changes(): ChangeEvent[]
}

export interface PostInit {
  headers?: Record<string, string>
  multiValueHeaders?: Record<string, string[]>
  isBase64Encoded?: boolean
  unsigned?: boolean
}

let sequence = 0

/**
 * A DynamoDB stream event of the events table; INSERT unless told otherwise. A record given the
 * stored event (`image`) carries it as its NEW_IMAGE, as the stack's stream does; one without is a
 * key-only record (as streamed before the view type was NEW_IMAGE), which the applier reads by key.
 */
export function streamEvent(
  records: (
    | string
    | {
        key: string
        eventName?: 'INSERT' | 'MODIFY' | 'REMOVE'
        sequence?: string
        image?: WebhookEventRecord
      }
  )[],
): DynamoDBStreamEvent {
  return {
    Records: records.map((r) => {
      const { key, eventName = 'INSERT', sequence: seq, image } = typeof r === 'string' ? { key: r } : r
      return {
        eventID: `ev-${++sequence}`,
        eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'us-east-1',
        eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/events/stream/test',
        dynamodb: {
          Keys: { eventKey: { S: key } },
          ...(image
            ? {
                NewImage: marshall(
                  { ...image, pendingShard: 'p0' },
                  { removeUndefinedValues: true },
                ) as Record<string, LambdaAttributeValue>,
              }
            : {}),
          SequenceNumber: seq ?? String(sequence).padStart(21, '0'),
          SizeBytes: 64,
          StreamViewType: image ? 'NEW_IMAGE' : 'KEYS_ONLY',
        },
      }
    }),
  }
}

/**
 * The stream record of a stored event's INSERT: its image as first stored (pending, delivered once),
 * whatever happened to it since, as the stream keeps it; a key the store does not hold is key-only.
 */
export function insertRecord(store: MemoryStore, key: string): { key: string; image?: WebhookEventRecord } {
  const stored = store.allEvents().find((e) => e.eventKey === key)
  if (!stored) return { key }
  return { key, image: { ...stored, status: 'pending', reason: null, appliedAt: null, deliveries: 1 } }
}

/** A webhook delivery as API Gateway hands it to the function. */
export function apiEvent(
  body: string | null,
  headers: Record<string, string>,
  opts: { multiValueHeaders?: Record<string, string[]>; isBase64Encoded?: boolean } = {},
): APIGatewayProxyEvent {
  return sharedApiEvent({ method: 'POST', resource: WEBHOOK_PATH, body, headers, ...opts })
}

/** Deps over MemoryStore and fakes, with env-style secrets; any part can be replaced. */
export function createHarness(
  opts: {
    platformSecret?: string
    webhookToken?: string
    signature?: 'required' | 'off'
    secrets?: SecretSource
    store?: MemoryStore
  } = {},
): Harness {
  const store = opts.store ?? new MemoryStore()
  const clock = new FakeClock('2025-07-01T12:00:00.000Z')
  // What the publisher would derive from the store's writes (services publish nothing themselves).
  const sink = changeFeed(store)
  const config = loadConfig({
    PARTNER_ID: 'testPA',
    SECRETS_SOURCE: 'env',
    PLATFORM_SECRET: opts.platformSecret ?? SECRET,
    ...(opts.webhookToken ? { WEBHOOK_TOKEN: opts.webhookToken } : {}),
    WEBHOOK_SIGNATURE: opts.signature ?? 'required',
    EVENT_SINK: 'none',
  })
  const secrets =
    opts.secrets ??
    createEnvSecretSource({
      platformSecret: opts.platformSecret ?? SECRET,
      ...(opts.webhookToken ? { webhookToken: opts.webhookToken } : {}),
    })
  const deps = createAppDeps(config, 'webhook-test', {
    store,
    channelKeys: createMemoryChannelKeyStore(),
    partnerApi: new FakePartnerApi(),
    secrets,
    events: createMemoryEventSink(),
    clock,
  })
  const handler = buildWebhookHandler(deps)
  const applier = buildWebhookApplierHandler(deps)
  const post = (body: string, init: PostInit = {}): Promise<APIGatewayProxyResult> => {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      ...(init.unsigned ? {} : { 'x-360dialog-signature': sign(body) }),
      ...init.headers,
    }
    const event = apiEvent(body, headers, {
      ...(init.multiValueHeaders ? { multiValueHeaders: init.multiValueHeaders } : {}),
      ...(init.isBase64Encoded ? { isBase64Encoded: true } : {}),
    })
    return handler(event, lambdaContext('webhook'))
  }
  const stream = (keys: string[]): Promise<DynamoDBBatchResponse> =>
    applier(streamEvent(keys.map((key) => insertRecord(store, key))), lambdaContext('webhook-applier'))
  return {
    deps,
    store,
    clock,
    sink,
    handler,
    applier,
    post,
    stream,
    deliver: async (body, init) => {
      const res = await post(body, init)
      if (res.statusCode === 200) {
        const answer = JSON.parse(res.body) as { eventKey: string; duplicate: boolean }
        if (!answer.duplicate) await stream([answer.eventKey])
      }
      return res
    },
    changes: () => sink.events,
  }
}

export { bodyOf, lambdaContext } from '../../support/lambda'

import { createHmac } from 'node:crypto'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import { buildWebhookHandler } from '../../../functions/webhook/handler'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import type { AppDeps } from '../../../shared/deps'
import type { ChangeEvent } from '../../../shared/domain/types'
import { loadConfig } from '../../../shared/env'
import { createLogger, createMetrics } from '../../../shared/observability'
import type { SecretSource } from '../../../shared/ports'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakePartnerApi } from '../../fakes/partner-api'
import fixtures from '../../fixtures/partner-api.json'

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
  sink: ReturnType<typeof createMemoryEventSink>
  handler: ReturnType<typeof buildWebhookHandler>
  /** Posts a body (signed with SECRET unless headers say otherwise) through the real middy chain. */
  post(
    body: string,
    init?: {
      headers?: Record<string, string>
      multiValueHeaders?: Record<string, string[]>
      isBase64Encoded?: boolean
      unsigned?: boolean
    },
  ): Promise<APIGatewayProxyResult>
  changes(): ChangeEvent[]
}

export function lambdaContext(): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'partnerops-webhook-test',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:partnerops-webhook-test',
    memoryLimitInMB: '256',
    awsRequestId: 'test-request',
    logGroupName: '/aws/lambda/partnerops-webhook-test',
    logStreamName: 'test',
    getRemainingTimeInMillis: () => 5_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }
}

export function apiEvent(
  body: string | null,
  headers: Record<string, string>,
  opts: { multiValueHeaders?: Record<string, string[]>; isBase64Encoded?: boolean } = {},
): APIGatewayProxyEvent {
  return {
    body,
    headers,
    multiValueHeaders:
      opts.multiValueHeaders ?? Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    httpMethod: 'POST',
    isBase64Encoded: opts.isBase64Encoded ?? false,
    path: '/webhooks/360dialog',
    pathParameters: null,
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    stageVariables: null,
    resource: '/webhooks/360dialog',
    requestContext: {} as APIGatewayProxyEvent['requestContext'],
  }
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
  const sink = createMemoryEventSink()
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
  const deps: AppDeps = {
    config,
    store,
    partnerApi: new FakePartnerApi(),
    secrets,
    events: sink,
    clock,
    logger: createLogger('webhook-test'),
    metrics: createMetrics('webhook-test'),
  }
  const handler = buildWebhookHandler(deps)
  return {
    deps,
    store,
    clock,
    sink,
    handler,
    post: (body, init = {}) => {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        ...(init.unsigned ? {} : { 'x-360dialog-signature': sign(body) }),
        ...init.headers,
      }
      const event = apiEvent(body, headers, {
        ...(init.multiValueHeaders ? { multiValueHeaders: init.multiValueHeaders } : {}),
        ...(init.isBase64Encoded ? { isBase64Encoded: true } : {}),
      })
      return handler(event, lambdaContext())
    },
    changes: () => sink.events,
  }
}

/** A parsed JSON response body. */
export function bodyOf(res: APIGatewayProxyResult): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>
}

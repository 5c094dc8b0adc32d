import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import { createMemoryChannelKeyStore } from '../../shared/adapters/channel-keys/memory'
import type { AppDeps } from '../../shared/deps'
import { loadConfig, type SettingValues } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'

/**
 * Fixtures every handler and service test shares: a Lambda context, an API Gateway (REST, v1) proxy
 * event, a parsed response body, a seeded random source and dependencies built the way the functions
 * build theirs (createAppDeps with overrides).
 */

/** The Lambda context a test passes to a handler: `name` as in partnerops-<name>-test. */
export function lambdaContext(name = 'test', remainingMs = 5_000): Context {
  const fn = `partnerops-${name}-test`
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn}`,
    memoryLimitInMB: '512',
    awsRequestId: 'test-request',
    logGroupName: `/aws/lambda/${fn}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }
}

/** What a test says about a request; everything else takes API Gateway's shape for an empty field. */
export interface ApiEventInit {
  method: string
  resource: string
  path?: string
  body?: string | null
  isBase64Encoded?: boolean
  headers?: Record<string, string>
  multiValueHeaders?: Record<string, string[]>
  query?: Record<string, string | string[]>
  pathParameters?: Record<string, string> | null
  /** The caller's IAM ARN; null for a public route. */
  principal?: string | null
  sourceIp?: string
}

/** A REST API (v1) proxy event as API Gateway builds it. */
export function apiEvent(init: ApiEventInit): APIGatewayProxyEvent {
  const headers = init.headers ?? {}
  const single: Record<string, string> = {}
  const multi: Record<string, string[]> = {}
  for (const [k, v] of Object.entries(init.query ?? {})) {
    const list = Array.isArray(v) ? v : [v]
    multi[k] = list
    single[k] = list[list.length - 1] ?? ''
  }
  const hasQuery = Object.keys(multi).length > 0
  return {
    body: init.body ?? null,
    headers,
    multiValueHeaders:
      init.multiValueHeaders ?? Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    httpMethod: init.method,
    isBase64Encoded: init.isBase64Encoded ?? false,
    path: init.path ?? init.resource,
    pathParameters: init.pathParameters ?? null,
    queryStringParameters: hasQuery ? single : null,
    multiValueQueryStringParameters: hasQuery ? multi : null,
    stageVariables: null,
    resource: init.resource,
    requestContext: {
      identity: { sourceIp: init.sourceIp ?? '203.0.113.7', userArn: init.principal ?? null },
    } as unknown as APIGatewayProxyEvent['requestContext'],
  }
}

/** A parsed JSON response body. */
export function bodyOf(res: { body: string }): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>
}

/** A deterministic random source in [0, 1) (mulberry32), so a test's "random" choices repeat. */
export function seededRandom(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Dependencies built as a function builds its own (createAppDeps), from test settings: partner testPA,
 * secrets from the settings, no event bus. `overrides` replace any part (the store and fakes, always:
 * without a store override the DynamoDB store would be built).
 */
export function testDeps(
  service: string,
  overrides: Partial<AppDeps> & Pick<AppDeps, 'store'>,
  settings: SettingValues = {},
): AppDeps {
  const config = loadConfig({ PARTNER_ID: 'testPA', SECRETS_SOURCE: 'env', EVENT_SINK: 'none', ...settings })
  return createAppDeps(config, service, { channelKeys: createMemoryChannelKeyStore(), ...overrides })
}

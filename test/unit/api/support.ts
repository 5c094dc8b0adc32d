import type { APIGatewayProxyResult } from 'aws-lambda'
import { buildApiHandler } from '../../../functions/api/handler'
import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import type { AppDeps } from '../../../shared/deps'
import type { ChangeEvent, Channel, Client } from '../../../shared/domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../../shared/domain/upstream'
import { loadConfig } from '../../../shared/env'
import { matchRoute } from '../../../shared/http/routes'
import type { FailureQueue } from '../../../shared/ports'
import { applyChannel, applyClient } from '../../../shared/services/state/apply-upstream'
import { createAppDeps } from '../../../shared/wiring'
import { changeFeed } from '../../fakes/change-feed'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakePartnerApi } from '../../fakes/partner-api'
import fixtures from '../../fixtures/partner-api.json'
import { apiEvent, lambdaContext } from '../../support/lambda'

export const PRINCIPAL = 'arn:aws:iam::123456789012:user/billing'
export const OTHER_PRINCIPAL = 'arn:aws:iam::123456789012:role/crm'

/** The fixture's live channel (client Kd82nQ1zCL) and a second client. */
export const LIVE = fixtures.channels.live as unknown as UpstreamChannel
export const CLIENT_A = fixtures.clients[0] as unknown as UpstreamClient
export const CLIENT_B = fixtures.clients[1] as unknown as UpstreamClient

export interface ApiHarness {
  deps: AppDeps
  store: MemoryStore
  api: FakePartnerApi
  clock: FakeClock
  sink: { events: ChangeEvent[] }
  handler: ReturnType<typeof buildApiHandler>
  /** Calls a route through the real middy chain, as API Gateway would (principal set unless null). */
  call(
    method: string,
    path: string,
    init?: {
      body?: string | null
      headers?: Record<string, string>
      principal?: string | null
      isBase64Encoded?: boolean
    },
  ): Promise<APIGatewayProxyResult>
  /** An upstream channel known to the fake Partner API (and, with `stored`, to the store). */
  addChannel(overrides?: Partial<UpstreamChannel>, opts?: { stored?: boolean }): Promise<UpstreamChannel>
  addClient(up: UpstreamClient): Promise<Client>
  input(overrides?: Partial<CancellationCall>): CancellationCall
  /** `POST …/cancellation` through the real handler, as the caller sees it. */
  request(input: CancellationCall): Promise<CallResult>
  /** `DELETE …/cancellation` through the real handler, as the caller sees it. */
  revoke(input: CancellationCall): Promise<CallResult>
  storedChannel(id: string): Promise<Channel | null>
}

/** A cancellation request or revoke as a caller sends it (raw key header and body). */
export interface CancellationCall {
  principal: string
  clientId: string
  channelId: string
  idempotencyKey: string | undefined
  body: string | null
}

/** An answer as the caller sees it: the bytes (without the replay header), and what they say. */
export interface CallResult {
  response: { statusCode: number; headers: Record<string, string>; body: string }
  replayed: boolean
  status: number
  code: string | undefined
}

function callResult(res: APIGatewayProxyResult): CallResult {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(res.headers ?? {})) headers[k] = String(v)
  const replayed = headers['idempotent-replayed'] === 'true'
  delete headers['idempotent-replayed']
  let code: string | undefined
  try {
    code = (JSON.parse(res.body) as { error?: { code?: string } }).error?.code
  } catch {
    code = undefined
  }
  return {
    response: { statusCode: res.statusCode, headers, body: res.body },
    replayed,
    status: res.statusCode,
    code,
  }
}

export function createApiHarness(
  opts: { env?: Record<string, string>; failureQueue?: FailureQueue } = {},
): ApiHarness {
  const store = new MemoryStore()
  const api = new FakePartnerApi()
  const clock = new FakeClock('2026-01-15T10:00:00.000Z')
  // What the publisher would derive from the store's writes (services publish nothing themselves).
  const sink = changeFeed(store)
  const config = loadConfig({
    PARTNER_ID: 'testPA',
    SECRETS_SOURCE: 'env',
    PARTNER_API_KEY: 'canary-partner-key',
    ...opts.env,
  })
  const deps = createAppDeps(config, 'api-test', {
    store,
    channelKeys: createMemoryChannelKeyStore(),
    partnerApi: api,
    secrets: createEnvSecretSource({ partnerApi: 'canary-partner-key' }),
    events: createMemoryEventSink(),
    ...(opts.failureQueue ? { failureQueue: opts.failureQueue } : {}),
    clock,
  })
  const handler = buildApiHandler(deps)
  let counter = 0
  const viaHandler = async (method: string, input: CancellationCall): Promise<CallResult> => {
    const path = `/clients/${encodeURIComponent(input.clientId)}/channels/${encodeURIComponent(input.channelId)}/cancellation`
    const res = await harness.call(method, path, {
      body: input.body,
      headers: input.idempotencyKey === undefined ? {} : { 'Idempotency-Key': input.idempotencyKey },
      principal: input.principal,
    })
    return callResult(res)
  }
  const harness: ApiHarness = {
    deps,
    store,
    api,
    clock,
    sink,
    handler,
    async call(method, fullPath, init = {}) {
      const url = new URL(fullPath, 'http://local')
      const match = matchRoute(method, url.pathname)
      const event = apiEvent({
        method,
        resource: match && 'route' in match ? match.route.path : url.pathname,
        path: url.pathname,
        headers: init.headers ?? {},
        query: Object.fromEntries(url.searchParams),
        pathParameters: match && 'route' in match ? match.pathParameters : null,
        body: init.body ?? null,
        isBase64Encoded: init.isBase64Encoded ?? false,
        principal: init.principal === undefined ? PRINCIPAL : init.principal,
      })
      return handler(event, lambdaContext('api', 10_000))
    },
    async addChannel(overrides = {}, o = { stored: true }) {
      counter++
      const up: UpstreamChannel = {
        ...structuredClone(LIVE),
        id: `Ch${String(counter).padStart(4, '0')}CH`,
        ...overrides,
      }
      api.channels.set(up.id, up)
      if (o.stored) await applyChannel(deps, up, { source: 'poll', kind: 'snapshot' })
      return up
    },
    async addClient(up) {
      api.clients.set(up.id, up)
      return (await applyClient(deps, up, { source: 'poll', kind: 'snapshot' })).record
    },
    input(overrides = {}) {
      return {
        principal: PRINCIPAL,
        clientId: LIVE.client_id,
        channelId: 'missing',
        idempotencyKey: 'key-1',
        body: null,
        ...overrides,
      }
    },
    storedChannel: (id) => store.channels.get(id),
    request: (input) => viaHandler('POST', input),
    revoke: (input) => viaHandler('DELETE', input),
  }
  return harness
}

export { bodyOf, lambdaContext } from '../../support/lambda'

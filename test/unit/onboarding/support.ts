import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda'
import { buildOnboardingHandler } from '../../../functions/onboarding/handler'
import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import type { AppDeps } from '../../../shared/deps'
import type { ChangeEvent } from '../../../shared/domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../../shared/domain/upstream'
import { loadConfig } from '../../../shared/env'
import { createAppDeps } from '../../../shared/wiring'
import { changeFeed } from '../../fakes/change-feed'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakePartnerApi } from '../../fakes/partner-api'
import { type ApiEventInit, lambdaContext, apiEvent as sharedApiEvent } from '../../support/lambda'

export const LINK_KEY = 'test-link-signing-key'
export const CALLBACK_URL = 'https://ops.example.com/onboarding/callback'
export const PRINCIPAL = 'arn:aws:iam::123456789012:user/partner-app'
export const START = '2026-03-10T09:00:00.000Z'

export interface Harness {
  deps: AppDeps
  store: MemoryStore
  api: FakePartnerApi
  clock: FakeClock
  sink: { events: ChangeEvent[] }
  handler: ReturnType<typeof buildOnboardingHandler>
  /** Sends an event through the real middy chain. */
  call(event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult>
}

export function createHarness(env: Record<string, string> = {}): Harness {
  const store = new MemoryStore()
  const api = new FakePartnerApi()
  const clock = new FakeClock(START)
  // What the publisher would derive from the store's writes (services publish nothing themselves).
  const sink = changeFeed(store)
  const config = loadConfig({
    PARTNER_ID: 'testPA',
    SECRETS_SOURCE: 'env',
    LINK_SIGNING_KEY: LINK_KEY,
    ONBOARDING_CALLBACK_URL: CALLBACK_URL,
    EVENT_SINK: 'none',
    ...env,
  })
  const deps = createAppDeps(config, 'onboarding-test', {
    store,
    channelKeys: createMemoryChannelKeyStore(),
    partnerApi: api,
    secrets: createEnvSecretSource({ linkSigningKey: config.LINK_SIGNING_KEY ?? '' }),
    events: createMemoryEventSink(),
    clock,
  })
  const handler = buildOnboardingHandler(deps)
  return {
    deps,
    store,
    api,
    clock,
    sink,
    handler,
    call: (event) => handler(event, lambdaContext('onboarding')),
  }
}

/** A REST API (v1) proxy event as API Gateway builds it; the caller is PRINCIPAL unless told otherwise. */
export function apiEvent(init: ApiEventInit): APIGatewayProxyEvent {
  return sharedApiEvent({ ...init, principal: init.principal === undefined ? PRINCIPAL : init.principal })
}

/** The callback event for a query. */
export function callbackEvent(
  query: Record<string, string | string[]>,
  sourceIp?: string,
): APIGatewayProxyEvent {
  return apiEvent({
    method: 'GET',
    resource: '/onboarding/callback',
    query,
    principal: null,
    ...(sourceIp ? { sourceIp } : {}),
  })
}

/** An upstream client as the Partner API lists it. */
export function upstreamClient(id: string, extra: Partial<UpstreamClient> = {}): UpstreamClient {
  return {
    id,
    name: `Client ${id}`,
    organisation: `Org ${id}`,
    status: 'active',
    partner_payload: null,
    max_channels: 10,
    contact_info: { email: `${id.toLowerCase()}@example.com` },
    created_at: '2026-03-10T09:30:00.000Z',
    modified_at: '2026-03-10T09:30:00.000Z',
    ...extra,
  }
}

/** An upstream draft channel of a client. */
export function upstreamChannel(
  id: string,
  clientId: string,
  extra: Partial<UpstreamChannel> = {},
): UpstreamChannel {
  return {
    id,
    client_id: clientId,
    client: { id: clientId, name: `Client ${clientId}`, partner_payload: null },
    status: 'created',
    account_mode: 'sandbox',
    created_at: '2026-03-10T09:30:00.000Z',
    modified_at: '2026-03-10T09:30:00.000Z',
    terminated_at: null,
    setup_info: { phone_number: '4915100000000', phone_name: 'Demo' },
    ...extra,
  }
}

/** The `ref` inside a link's redirect_url. */
export function refOf(link: string): string {
  const redirect = new URL(link).searchParams.get('redirect_url')
  if (!redirect) throw new Error('no redirect_url in link')
  const ref = new URL(redirect).searchParams.get('ref')
  if (!ref) throw new Error('no ref in redirect_url')
  return ref
}

export { bodyOf, lambdaContext } from '../../support/lambda'

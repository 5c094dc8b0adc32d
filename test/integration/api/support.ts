import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import { expect } from 'vitest'
import { type App, type AppOptions, startApp } from '../../../local/app'
import type { RequestLogEntry } from '../../../local/simulator/types'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import { matchRoute } from '../../../shared/http/routes'
import { applyChannel } from '../../../shared/services/state/apply-upstream'
import { type SignedFetchInit, signedFetch } from '../../support/signed-fetch'
import { openApiProblems } from './openapi'

/** Secret values nobody may ever see: they must not appear in any response or any output. */
export const CANARIES = {
  PARTNER_API_KEY: 'canary-partner-key-5b1e9d',
  PLATFORM_SECRET: 'canary-platform-secret-77ac01',
  LINK_SIGNING_KEY: 'canary-link-signing-key-c3f2',
  /** What the local AES key of stored channel API keys is derived from. */
  CHANNEL_KEY_LOCAL_SECRET: 'canary-channel-key-secret-41d7e2',
  secretAccessKey: 'canary-secret-access-key-9d04aa',
} as const

/** The fixture client that owns the test channels, and another client. */
export const CLIENT = 'Kd82nQ1zCL'
export const OTHER_CLIENT = 'Zq09LmT4CL'

/** Everything the suite's apps answered and printed, searched for canaries at the end. */
export const seen: string[] = []

/** Starts the app with canary secrets (and the given config overrides) on loopback. */
export async function startCanaryApp(env: Record<string, string> = {}, opts: AppOptions = {}): Promise<App> {
  return startApp({
    port: 0,
    dataDir: null,
    pollIntervalSeconds: null,
    credentials: { accessKeyId: 'AKIDLOCALPARTNEROPS', secretAccessKey: CANARIES.secretAccessKey },
    env: {
      PARTNER_API_KEY: CANARIES.PARTNER_API_KEY,
      PLATFORM_SECRET: CANARIES.PLATFORM_SECRET,
      LINK_SIGNING_KEY: CANARIES.LINK_SIGNING_KEY,
      CHANNEL_KEY_LOCAL_SECRET: CANARIES.CHANNEL_KEY_LOCAL_SECRET,
      ...env,
    },
    ...opts,
  })
}

/** Captures everything written to stdout and stderr until the returned function is called. */
export function captureOutput(): () => void {
  const out = process.stdout.write.bind(process.stdout)
  const err = process.stderr.write.bind(process.stderr)
  const keep = (chunk: unknown): boolean => {
    seen.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'))
    return true
  }
  process.stdout.write = keep as typeof process.stdout.write
  process.stderr.write = keep as typeof process.stderr.write
  return () => {
    process.stdout.write = out
    process.stderr.write = err
  }
}

/** Asserts that no canary secret and no stack trace was ever answered or printed. */
export function expectNoCanary(): void {
  const all = seen.join('\n')
  expect(all.length).toBeGreaterThan(0)
  for (const value of Object.values(CANARIES)) expect(all).not.toContain(value)
}

export interface ApiResponse {
  status: number
  headers: Headers
  body: string
  json: Record<string, unknown>
}

/**
 * A SigV4-signed call that also checks the response against docs/openapi.yaml (status documented,
 * content type, body schema) and that an error body carries no stack trace.
 */
export async function call(app: App, path: string, init: SignedFetchInit = {}): Promise<ApiResponse> {
  const method = init.method ?? 'GET'
  const res = await signedFetch(app, path, init)
  const body = await res.text()
  seen.push(body, JSON.stringify([...res.headers]))
  const match = matchRoute(method, new URL(path, app.url).pathname)
  if (!match || !('route' in match)) throw new Error(`no route for ${method} ${path}`)
  expect(
    openApiProblems(match.route.path, method, { status: res.status, headers: res.headers, body }),
  ).toEqual([])
  expect(body).not.toMatch(/\bat [^\n]*\(?[^\s]+:\d+:\d+\)?/)
  let json: Record<string, unknown> = {}
  if ((res.headers.get('content-type') ?? '').startsWith('application/json')) {
    json = JSON.parse(body) as Record<string, unknown>
  }
  return { status: res.status, headers: res.headers, body, json }
}

/** Signs a request as signedFetch does, then sends a different body or query (tampering). */
export async function tamperedFetch(
  app: App,
  path: string,
  init: { method: string; signedBody?: string; sentBody?: string; appendQuery?: string },
): Promise<Response> {
  const url = new URL(path, app.url)
  const headers: Record<string, string> = { host: url.host, 'content-type': 'application/json' }
  const signer = new SignatureV4({
    credentials: app.credentials,
    region: app.credentials.region,
    service: app.credentials.service,
    sha256: Sha256,
  })
  const signed = await signer.sign({
    method: init.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body: init.signedBody,
  })
  const send = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'))
  const target = init.appendQuery ? `${url.toString()}${url.search ? '&' : '?'}${init.appendQuery}` : url
  return fetch(target, {
    method: init.method,
    headers: send,
    ...(init.sentBody !== undefined ? { body: init.sentBody } : {}),
  })
}

/** Upstream cancellation requests (POST …/control/cancellation_request) for one channel. */
export function cancellationCalls(app: App, channelId: string): RequestLogEntry[] {
  return (app.simulator?.requests() ?? []).filter(
    (r) => r.method === 'POST' && r.path.endsWith(`/channels/${channelId}/control/cancellation_request`),
  )
}

/** Those of them that took effect or may have (answered 2xx, or the connection was dropped). */
export function effectiveCancellations(app: App, channelId: string): RequestLogEntry[] {
  return cancellationCalls(app, channelId).filter(
    (r) => r.status === 0 || (r.status >= 200 && r.status < 300),
  )
}

/** A fresh live channel of `clientId` in the simulator (unknown to the store until looked up). */
export function newChannel(app: App, clientId = CLIENT): string {
  const sim = app.simulator
  if (!sim) throw new Error('no simulator')
  return sim.addChannel({ client_id: clientId, account_mode: 'live', status: 'live' }).id
}

/** A fresh live channel that the store also knows, as after a reconciliation run. */
export async function storedChannel(app: App, clientId = CLIENT): Promise<string> {
  const sim = app.simulator
  if (!sim) throw new Error('no simulator')
  const up = sim.addChannel({ client_id: clientId, account_mode: 'live', status: 'live' })
  await applyChannel(app.deps, up as unknown as UpstreamChannel, { source: 'poll', kind: 'snapshot' })
  return up.id
}

/** Waits (bounded) until `check` holds. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error('condition not reached in time')
}

import { vi } from 'vitest'
import {
  createPartnerApiClient,
  type PartnerApiClientOptions,
} from '../../../../shared/adapters/partner-api/client'
import type { PartnerApi, SecretName, SecretSource } from '../../../../shared/ports'

/** One request the fake upstream received. */
export interface Recorded {
  method: string
  url: URL
  rawQuery: string
  headers: Headers
  body: unknown
  redirect: RequestInit['redirect']
}

/** What the fake upstream does with a request: a response, or an error thrown by fetch. */
export type Responder = (req: Recorded, index: number) => Response | Error | Promise<Response | Error>

export const BASE = 'https://hub.example.test/api/v2'
export const PARTNER = 'examplePA'
export const API_KEY = 'key-SECRET-123'

/** JSON response helper. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  })
}

/** The Partner API error envelope. */
export function metaError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { meta: { success: false, http_code: status, developer_message: message } }, headers)
}

/** A network error the way undici reports it (`TypeError: fetch failed` with a coded cause). */
export function netError(code: string): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code}`), { code }) })
}

/** A fake fetch recording every request. */
export function fakeFetch(responder: Responder): { fetch: typeof fetch; requests: Recorded[] } {
  const requests: Recorded[] = []
  const fn = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    const text = typeof init?.body === 'string' ? init.body : undefined
    const rec: Recorded = {
      method: init?.method ?? 'GET',
      url,
      rawQuery: url.search.replace(/^\?/, ''),
      headers: new Headers(init?.headers),
      body: text === undefined ? undefined : JSON.parse(text),
      redirect: init?.redirect,
    }
    requests.push(rec)
    const out = await responder(rec, requests.length - 1)
    if (out instanceof Error) throw out
    return out
  }
  return { fetch: fn as typeof fetch, requests }
}

/** Responds with the given outcomes in order (the last one repeats). */
export function sequence(...outcomes: (() => Response | Error)[]): Responder {
  return (_req, i) => (outcomes[Math.min(i, outcomes.length - 1)] as () => Response | Error)()
}

/** A secret source whose values can change; records every read. */
export function mutableSecrets(initial: Partial<Record<SecretName, string>>): SecretSource & {
  values: Partial<Record<SecretName, string>>
  reads: { name: SecretName; forceRefresh: boolean }[]
} {
  const values = { ...initial }
  const reads: { name: SecretName; forceRefresh: boolean }[] = []
  return {
    values,
    reads,
    async get(name, opts) {
      reads.push({ name, forceRefresh: opts?.forceRefresh === true })
      return values[name] ?? null
    },
  }
}

/** A virtual clock: `sleep` advances it instantly and records each delay. */
export function virtualTime(start = 0): {
  now: () => number
  sleep: (ms: number) => Promise<void>
  sleeps: number[]
  advance: (ms: number) => void
} {
  let t = start
  const sleeps: number[] = []
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms)
      t += ms
    },
    sleeps,
    advance: (ms: number) => {
      t += ms
    },
  }
}

/** A client over a fake fetch with virtual time and `random() = 1` (the backoff ceiling). */
export function makeClient(
  responder: Responder,
  overrides: Partial<PartnerApiClientOptions> = {},
  startMs = 0,
): {
  api: PartnerApi
  requests: Recorded[]
  time: ReturnType<typeof virtualTime>
  secrets: ReturnType<typeof mutableSecrets>
  logs: { level: string; msg: string; ctx: unknown }[]
} {
  const { fetch, requests } = fakeFetch(responder)
  const time = virtualTime(startMs)
  const secrets = mutableSecrets({ partnerApi: API_KEY })
  const logs: { level: string; msg: string; ctx: unknown }[] = []
  const record = (level: string) => vi.fn((msg: string, ctx?: unknown) => logs.push({ level, msg, ctx }))
  const api = createPartnerApiClient({
    baseUrl: BASE,
    partnerId: PARTNER,
    auth: 'api_key',
    secrets,
    fetch,
    now: time.now,
    sleep: time.sleep,
    random: () => 1,
    logger: { debug: record('debug'), info: record('info'), warn: record('warn') },
    ...overrides,
  })
  return { api, requests, time, secrets, logs }
}

/** A channel object as the upstream sends it. */
export function channel(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, client_id: 'cl1', status: 'ready', account_mode: 'live', ...extra }
}

/**
 * A list endpoint over `ids()` (read at every request, so it may change): honours offset/limit with a
 * server maximum page size and echoes the applied limit.
 */
export function listServer(ids: () => string[], serverMax = 1_000, itemsKey = 'partner_channels'): Responder {
  return (req) => {
    const all = ids()
    const offset = Number(req.url.searchParams.get('offset') ?? '0')
    const asked = Number(req.url.searchParams.get('limit') ?? '20')
    const limit = Math.min(asked, serverMax)
    const items = all.slice(offset, offset + limit).map((id) => channel(id))
    return json(200, {
      count: items.length,
      total: all.length,
      limit,
      offset,
      filters: {},
      sort: [],
      [itemsKey]: items,
    })
  }
}

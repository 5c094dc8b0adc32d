import { describe, expect, it } from 'vitest'
import { createPartnerApiClient } from '../../../shared/adapters/partner-api/client'
import { UpstreamError } from '../../../shared/domain/errors'
import type { UpstreamChannel, UpstreamClient } from '../../../shared/domain/upstream'
import type { PartnerApi, SecretSource } from '../../../shared/ports'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { makeDeps, upChannel, upClient } from './support'

interface FakeRequest {
  path: string
  offset: number
  key: string | null
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> }

/**
 * A fetch that serves the Partner API list routes from arrays (offset/limit, id filter), checks the
 * API key against `validKeys`, and lets a test answer any request itself first through `intercept`.
 */
function fakeUpstream(data: { clients: UpstreamClient[]; channels: UpstreamChannel[] }) {
  const state = {
    validKeys: new Set(['old-key']),
    requests: [] as FakeRequest[],
    intercept: null as ((req: FakeRequest, n: number) => Answer | null) | null,
  }
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input))
    const headers = new Headers(init?.headers)
    const req: FakeRequest = {
      path: url.pathname,
      offset: Number(url.searchParams.get('offset') ?? 0),
      key: headers.get('x-api-key'),
    }
    state.requests.push(req)
    const reply = (a: Answer): Response =>
      new Response(a.body === undefined ? '' : JSON.stringify(a.body), {
        status: a.status,
        headers: { 'content-type': 'application/json', ...a.headers },
      })
    const intercepted = state.intercept?.(req, state.requests.length)
    if (intercepted) return reply(intercepted)
    if (!req.key || !state.validKeys.has(req.key)) {
      return reply({
        status: 401,
        body: { meta: { success: false, http_code: 401, developer_message: 'Invalid api key' } },
      })
    }
    const isChannels = url.pathname.endsWith('/channels')
    const all: { id: string }[] = isChannels ? data.channels : data.clients
    const filters = url.searchParams.get('filters')
    const id = filters ? (JSON.parse(filters) as { id?: string }).id : undefined
    const matching = id === undefined ? all : all.filter((x) => x.id === id)
    const limit = Number(url.searchParams.get('limit') ?? 100)
    const items = matching.slice(req.offset, req.offset + limit)
    return reply({
      status: 200,
      body: {
        count: items.length,
        total: matching.length,
        limit,
        offset: req.offset,
        sort: ['created_at', 'id'],
        filters: {},
        [isChannels ? 'partner_channels' : 'clients']: items,
      },
    })
  }
  return { state, fetch }
}

/** A secret source with a cache: the cached value until a forced refresh reads `current`. */
function rotatingSecret(initial: string) {
  const s = { current: initial, cached: initial, forcedRefreshes: 0 }
  const source: SecretSource = {
    get: async (_name, opts) => {
      if (opts?.forceRefresh) {
        s.forcedRefreshes += 1
        s.cached = s.current
      }
      return s.cached
    },
  }
  return { s, source }
}

function setup(env: Record<string, string> = {}) {
  const data = {
    clients: [upClient(1), upClient(2)],
    channels: Array.from({ length: 6 }, (_, i) => upChannel(i + 1, (i % 2) + 1)),
  }
  const upstream = fakeUpstream(data)
  const secret = rotatingSecret('old-key')
  const deps = makeDeps({ env: { POLL_PAGE_SIZE: '2', POLL_CONCURRENCY: '4', ...env } })
  const sleeps: number[] = []
  const started = deps.clock.now().getTime()
  const partnerApi: PartnerApi = createPartnerApiClient({
    baseUrl: 'https://hub.example.test/api/v2',
    partnerId: 'testPA',
    auth: 'api_key',
    secrets: secret.source,
    fetch: upstream.fetch as typeof fetch,
    maxAttempts: deps.config.UPSTREAM_MAX_ATTEMPTS,
    budgetMs: deps.config.UPSTREAM_BUDGET_MS,
    random: () => 1,
    now: () => deps.clock.now().getTime(),
    // Virtual time: a wait moves the clock instead of blocking.
    sleep: async (ms) => {
      sleeps.push(ms)
      deps.clock.advance(ms)
    },
  })
  return { deps: { ...deps, partnerApi }, store: deps.store, upstream, secret, sleeps, started, data }
}

describe('reconcile against the Partner API client', () => {
  it('refreshes the secret once when the key is rotated mid-run, then succeeds', async () => {
    const t = setup()
    t.upstream.state.intercept = (req) => {
      // Rotation happens between the first and the second page of channels.
      if (req.path.endsWith('/channels') && req.offset > 0 && t.secret.s.current === 'old-key') {
        t.secret.s.current = 'new-key'
        t.upstream.state.validKeys = new Set(['new-key'])
      }
      return null
    }
    const summary = await reconcile(t.deps)
    expect(summary).toMatchObject({ outcome: 'succeeded', seen: { clients: 2, channels: 6 } })
    expect(t.secret.s.forcedRefreshes).toBe(1)
    expect(t.upstream.state.requests.some((r) => r.key === 'new-key')).toBe(true)
    expect(await t.store.channels.get('H00006CH')).not.toBeNull()
  })

  it('stops after one refresh when the new key is still rejected', async () => {
    const t = setup()
    t.upstream.state.intercept = (req) => {
      if (req.path.endsWith('/channels') && req.offset > 0)
        t.upstream.state.validKeys = new Set(['other-key'])
      return null
    }
    const error = await reconcile(t.deps).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UpstreamError)
    expect((error as UpstreamError).code).toBe('upstream_unauthorized')
    expect(t.secret.s.forcedRefreshes).toBe(1)
    const rejected = t.upstream.state.requests.filter((r) => r.key === 'old-key' && r.offset > 0)
    expect(rejected.length).toBeLessThanOrEqual(2 * 4)
    const { last } = await t.store.ops.getRunSummaries()
    expect(last).toMatchObject({ outcome: 'failed', complete: false })
    expect(last?.error).not.toContain('old-key')
  })

  it('fails cleanly within its budget and the attempt limit when every call answers 503', async () => {
    const t = setup()
    t.upstream.state.intercept = () => ({
      status: 503,
      body: { meta: { success: false, http_code: 503, developer_message: 'Service unavailable' } },
    })
    const error = await reconcile(t.deps).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(UpstreamError)
    expect((error as UpstreamError).upstreamStatus).toBe(503)
    expect(t.upstream.state.requests.length).toBeLessThanOrEqual(t.deps.config.UPSTREAM_MAX_ATTEMPTS)
    expect(t.deps.clock.now().getTime() - t.started).toBeLessThanOrEqual(t.deps.config.POLL_BUDGET_MS)
    const { last } = await t.store.ops.getRunSummaries()
    expect(last).toMatchObject({
      outcome: 'failed',
      complete: false,
      calls: t.upstream.state.requests.length,
      retries: t.upstream.state.requests.length - 1,
    })
    expect(await t.store.ops.acquireLease('poll', 'next-run', t.deps.clock.now(), 1000)).toBe(true)
  })

  it('waits as long as Retry-After says before trying again', async () => {
    const t = setup()
    let limited = false
    t.upstream.state.intercept = (req) => {
      if (!limited && req.path.endsWith('/channels')) {
        limited = true
        return {
          status: 429,
          headers: { 'retry-after': '7' },
          body: { meta: { success: false, http_code: 429, developer_message: 'Too many requests' } },
        }
      }
      return null
    }
    const summary = await reconcile(t.deps)
    expect(summary.outcome).toBe('succeeded')
    expect(t.sleeps).toContain(7000)
    expect(summary.retries).toBe(1)
    expect(summary.seen.channels).toBe(6)
  })

  it('gives up at once when Retry-After points beyond the run budget', async () => {
    const t = setup({ POLL_BUDGET_MS: '60000' })
    t.upstream.state.intercept = () => ({
      status: 429,
      headers: { 'retry-after': '3600' },
      body: { meta: { success: false, http_code: 429, developer_message: 'Too many requests' } },
    })
    const error = await reconcile(t.deps).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'upstream_rate_limited' })
    expect(t.sleeps.every((ms) => ms < 60_000)).toBe(true)
    expect(t.deps.clock.now().getTime() - t.started).toBeLessThanOrEqual(60_000)
  })
})

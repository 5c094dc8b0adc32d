import { afterEach, describe, expect, it } from 'vitest'
import {
  backoffDelay,
  ConflictError,
  FilterNotAppliedError,
  LOCAL_CREDENTIALS,
  NetworkError,
  PartnerOpsClient,
  type RetryInfo,
  ServiceUnavailableError,
} from '../src/index'
import { loopback, reply } from './support'

// Retries, backoff and Idempotency-Key reuse against a loopback server that fails on purpose and
// verifies every attempt's SigV4 signature. Sleeps are recorded, not waited (one test uses the real timer).

const CANCEL = '/clients/C1/channels/CH1/cancellation'
const RECORD = {
  channelId: 'CH1',
  clientId: 'C1',
  state: 'requested',
  requestedBy: 'arn:test',
  requestedAt: '2026-01-01T00:00:00.000Z',
  idempotencyKey: 'k',
  reason: null,
  terminatesAt: null,
  confirmedAt: null,
}
const servers: { close: () => Promise<void> }[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

function clientFor(url: string, extra: Partial<ConstructorParameters<typeof PartnerOpsClient>[0]> = {}) {
  const sleeps: number[] = []
  const retries: RetryInfo[] = []
  const client = new PartnerOpsClient({
    endpoint: url,
    credentials: LOCAL_CREDENTIALS,
    sleep: async (ms) => {
      sleeps.push(ms)
    },
    random: () => 0.5,
    onRetry: (info) => retries.push(info),
    ...extra,
  })
  return { client, sleeps, retries }
}

describe('retries with one Idempotency-Key per logical call', () => {
  it('reuses the key across 503s and answers the eventual success', async () => {
    const server = await loopback((_req, n, res) =>
      n < 3
        ? reply(res, 503, { error: { code: 'upstream_outcome_unknown', message: 'retry' } })
        : reply(res, 202, RECORD),
    )
    servers.push(server)
    const { client, sleeps } = clientFor(server.url)
    const record = await client.cancellations.request('C1', 'CH1', { reason: 'r' })
    expect(record.state).toBe('requested')
    expect(server.seen).toHaveLength(3)
    const keys = server.seen.map((s) => s.headers['idempotency-key'])
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
    expect(new Set(keys).size).toBe(1)
    expect(server.seen.every((s) => s.signature === 'valid')).toBe(true)
    expect(server.seen.every((s) => s.body === '{"reason":"r"}' && s.path === CANCEL)).toBe(true)
    // Full jitter over 200 ms, then 400 ms ceilings (random fixed at 0.5).
    expect(sleeps).toEqual([100, 200])
  })

  it('generates a new key for each logical call', async () => {
    const server = await loopback((_req, _n, res) => reply(res, 202, RECORD))
    servers.push(server)
    const { client } = clientFor(server.url)
    await client.cancellations.request('C1', 'CH1')
    await client.cancellations.request('C1', 'CH1')
    const keys = server.seen.map((s) => s.headers['idempotency-key'])
    expect(keys[0]).not.toBe(keys[1])
  })

  it('retries a 409 "still in flight" with the same key, but not a 409 conflict of state', async () => {
    const inFlight = await loopback((_req, n, res) =>
      n === 1
        ? reply(res, 409, { error: { code: 'idempotency_key_in_flight', message: 'in progress' } })
        : reply(res, 202, RECORD),
    )
    servers.push(inFlight)
    const a = clientFor(inFlight.url)
    await a.client.cancellations.request('C1', 'CH1', {}, { idempotencyKey: 'given-key' })
    expect(inFlight.seen.map((s) => s.headers['idempotency-key'])).toEqual(['given-key', 'given-key'])

    const pending = await loopback((_req, _n, res) =>
      reply(res, 409, { error: { code: 'already_cancelled', message: 'pending' }, cancellation: RECORD }),
    )
    servers.push(pending)
    const b = clientFor(pending.url)
    const err = await b.client.cancellations.request('C1', 'CH1').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ConflictError)
    expect(err).toMatchObject({ code: 'already_cancelled', status: 409, attempts: 1 })
    expect((err as ConflictError).cancellation).toEqual(RECORD)
    expect(pending.seen).toHaveLength(1)
  })

  it('retries a dropped connection with the same key', async () => {
    const server = await loopback((_req, n, res, raw) => {
      if (n === 1) {
        raw.socket.destroy()
        return
      }
      reply(res, 200, { ...RECORD, state: 'revoked' })
    })
    servers.push(server)
    const { client, retries } = clientFor(server.url)
    const record = await client.cancellations.revoke('C1', 'CH1')
    expect(record.state).toBe('revoked')
    expect(server.seen.map((s) => s.method)).toEqual(['DELETE', 'DELETE'])
    expect(new Set(server.seen.map((s) => s.headers['idempotency-key'])).size).toBe(1)
    expect(retries[0]?.reason).toMatch(/ECONNRESET|socket|other side closed/i)
  })

  it('does not retry a write that carries no Idempotency-Key', async () => {
    const server = await loopback((_req, _n, _res, raw) => {
      raw.socket.destroy()
    })
    servers.push(server)
    const { client } = clientFor(server.url)
    const err = await client.onboarding.createLink({ partnerPayload: 'x' }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(NetworkError)
    expect(server.seen).toHaveLength(1)
    expect(server.seen[0]?.headers['idempotency-key']).toBeUndefined()
  })

  it('retries GETs (safe) without a key, and gives up after maxAttempts with the last error', async () => {
    const server = await loopback((_req, _n, res) =>
      reply(res, 503, { error: { code: 'service_unavailable', message: 'down' } }),
    )
    servers.push(server)
    const { client, sleeps } = clientFor(server.url)
    const err = await client.status().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(ServiceUnavailableError)
    expect(err).toMatchObject({ status: 503, code: 'service_unavailable', attempts: 4 })
    expect(server.seen).toHaveLength(4)
    expect(server.seen.every((s) => s.headers['idempotency-key'] === undefined)).toBe(true)
    expect(sleeps).toEqual([100, 200, 400])
  })

  it('never retries a 400, 401, 404, 422 or 502', async () => {
    for (const status of [400, 401, 404, 422, 502]) {
      const server = await loopback((_req, _n, res) =>
        reply(res, status, { error: { code: 'x', message: 'no' } }),
      )
      servers.push(server)
      const { client } = clientFor(server.url)
      const err = await client.cancellations.request('C1', 'CH1').catch((e: unknown) => e)
      expect(err).toMatchObject({ status, attempts: 1 })
      expect(server.seen).toHaveLength(1)
    }
  })

  it('waits at least Retry-After, and throws at once when Retry-After is beyond what it waits for', async () => {
    const server = await loopback((_req, n, res) =>
      n === 1
        ? reply(
            res,
            503,
            { error: { code: 'upstream_rate_limited', message: 'later' } },
            { 'retry-after': '2' },
          )
        : reply(res, 202, RECORD),
    )
    servers.push(server)
    const { client, sleeps } = clientFor(server.url)
    await client.cancellations.request('C1', 'CH1')
    expect(sleeps).toEqual([2000])

    const budget = await loopback((_req, _n, res) =>
      reply(res, 429, { error: { code: 'rate_limited', message: 'budget' } }, { 'retry-after': '3600' }),
    )
    servers.push(budget)
    const b = clientFor(budget.url)
    const err = await b.client.cancellations.request('C1', 'CH1').catch((e: unknown) => e)
    expect(err).toMatchObject({ status: 429, code: 'rate_limited', retryAfterSeconds: 3600, attempts: 1 })
    expect(b.sleeps).toEqual([])
  })

  it('retries on the real timer when no sleep is injected', async () => {
    const server = await loopback((_req, n, res) =>
      n === 1
        ? reply(res, 503, { error: { code: 'x', message: 'y' } }, { 'retry-after': '1' })
        : reply(res, 202, RECORD),
    )
    servers.push(server)
    const client = new PartnerOpsClient({ endpoint: server.url, credentials: LOCAL_CREDENTIALS })
    await client.cancellations.request('C1', 'CH1')
    expect(server.seen).toHaveLength(2)
  })

  it('times an attempt out and retries it with the same key', async () => {
    const server = await loopback((_req, n, res) => {
      if (n === 1) return // never answers
      reply(res, 202, RECORD)
    })
    servers.push(server)
    const { client, retries } = clientFor(server.url, { timeoutMs: 200 })
    await client.cancellations.request('C1', 'CH1')
    expect(retries).toHaveLength(1)
    expect(retries[0]?.reason).toMatch(/no answer within 200 ms/)
    expect(new Set(server.seen.map((s) => s.headers['idempotency-key'])).size).toBe(1)
  })

  it('sends the query sorted and RFC 3986-encoded, exactly as it was signed', async () => {
    const server = await loopback((_req, _n, res) => reply(res, 200, { items: [], nextCursor: null }))
    servers.push(server)
    const { client } = clientFor(server.url)
    await client.channels.list({ q: "a b+c/d*'", lifecycle: 'live', clientId: 'Z9', limit: 5 }).page()
    expect(server.seen[0]?.rawQuery).toBe('clientId=Z9&lifecycle=live&limit=5&q=a%20b%2Bc%2Fd%2A%27')
    expect(server.seen[0]?.signature).toBe('valid')
  })

  it('keeps the stage path of a deployed endpoint (…/v1/) in the URL and the signature', async () => {
    const server = await loopback((_req, _n, res) => reply(res, 200, { items: [], nextCursor: null }))
    servers.push(server)
    const { client } = clientFor(`${server.url}/v1/`)
    await client.clients.list({ limit: 1 }).page()
    expect(server.seen[0]?.path).toBe('/v1/clients')
    expect(server.seen[0]?.signature).toBe('valid')
  })
})

describe('filters the API does not apply', () => {
  const channel = (over: Record<string, unknown>) => ({
    channelId: 'A1',
    clientId: 'C1',
    lifecycle: 'live',
    accountMode: 'live',
    ...over,
  })

  it('throws FilterNotAppliedError instead of returning unfiltered items as filtered', async () => {
    // An older deployment: answers every channel whatever the query says.
    const server = await loopback((_req, _n, res) =>
      reply(res, 200, {
        items: [channel({ qualityRating: 'GREEN' }), channel({ channelId: 'A2', qualityRating: 'RED' })],
        nextCursor: null,
      }),
    )
    servers.push(server)
    const { client } = clientFor(server.url)
    const err = await client.channels
      .list({ quality: 'RED' })
      .toArray()
      .catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FilterNotAppliedError)
    expect(err).toMatchObject({ code: 'filter_not_applied', filter: 'quality' })
    expect(server.seen[0]?.rawQuery).toBe('quality=RED')
  })

  it('accepts items that match every checked filter', async () => {
    const server = await loopback((_req, _n, res) =>
      reply(res, 200, {
        items: [channel({ qualityRating: 'RED', messagingLimit: 'TIER_1K' })],
        nextCursor: null,
      }),
    )
    servers.push(server)
    const { client } = clientFor(server.url)
    const items = await client.channels
      .list({ quality: 'RED', messagingLimit: 'TIER_1K', lifecycle: 'live', q: 'x' })
      .toArray()
    expect(items).toHaveLength(1)
  })
})

describe('backoffDelay', () => {
  const opts = { maxAttempts: 10, baseDelayMs: 200, maxDelayMs: 5_000, maxRetryAfterMs: 30_000 }
  it('grows exponentially up to the cap, with full jitter below it', () => {
    const top = [0, 1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, opts, () => 0.999999))
    expect(top).toEqual([199, 399, 799, 1599, 3199, 4999, 4999])
    expect(backoffDelay(3, opts, () => 0)).toBe(0)
  })
})

import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { CLIENT, call, captureOutput, expectNoCanary, startCanaryApp, storedChannel } from './support'

/**
 * Verified upstream effects and the id edge, over the local server (SigV4, dynalite, the simulator):
 * a revoke is `revoked` only when upstream shows it, an upstream 429 is nothing done, a client PATCH
 * says what upstream did not take, and a malformed id never reaches a read, a budget or upstream.
 */

let app: App
let restore: () => void
let proxy: Server

/** What the Partner API answers, rewritten by a test: a request in, a different request or answer out. */
interface Rewrite {
  /** Sends this body upstream instead of the caller's. */
  body?: (method: string, path: string, body: string) => string
  /** Rewrites upstream's JSON answer. */
  answer?: (method: string, path: string, json: Record<string, unknown>) => Record<string, unknown>
}
let rewrite: Rewrite = {}

/**
 * A loopback proxy in front of the simulator: the app talks to the Partner API through it, so a test
 * can make upstream answer what the simulator never would (a revoke that does not take, a capped
 * setting) while everything else stays the real HTTP path.
 */
async function startProxy(target: () => string): Promise<Server> {
  const read = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  }
  const server = createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET'
      const path = req.url ?? '/'
      const raw = await read(req)
      const body = rewrite.body && raw ? rewrite.body(method, path, raw) : raw
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v
      }
      const up = await fetch(`${target()}${path}`, {
        method,
        headers,
        ...(method === 'GET' || method === 'HEAD' ? {} : { body }),
      })
      let text = await up.text()
      if (rewrite.answer && up.ok && text.startsWith('{')) {
        text = JSON.stringify(rewrite.answer(method, path, JSON.parse(text) as Record<string, unknown>))
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' })
      res.end(text)
    })().catch(() => {
      res.destroy()
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  return server
}

const cancelPath = (channelId: string, clientId = CLIENT): string =>
  `/clients/${clientId}/channels/${channelId}/cancellation`
const post = (channelId: string, key: string) =>
  call(app, cancelPath(channelId), { method: 'POST', headers: { 'Idempotency-Key': key } })
const revoke = (channelId: string, key: string) =>
  call(app, cancelPath(channelId), { method: 'DELETE', headers: { 'Idempotency-Key': key } })
const revokeCalls = (channelId: string) =>
  (app.simulator?.requests() ?? []).filter(
    (r) =>
      r.method === 'POST' &&
      r.path.endsWith(`/channels/${channelId}/control/cancellation_request`) &&
      r.status !== 429,
  )

beforeAll(async () => {
  restore = captureOutput()
  proxy = await startProxy(() => new URL(app.simulator?.baseUrl ?? '').origin)
  const { port } = proxy.address() as AddressInfo
  // No simulator webhooks: every effect must come from our own upstream call and read.
  app = await startCanaryApp(
    {
      UPSTREAM_TIMEOUT_MS: '300',
      CANCELLATION_BUDGET_PER_HOUR: '1000',
      PARTNER_API_BASE_URL: `http://127.0.0.1:${port}/api/v2`,
    },
    { simulator: { deliverWebhooks: false } },
  )
})

afterAll(async () => {
  await app?.close()
  await new Promise((ok) => proxy?.close(ok))
  restore?.()
})

describe('revoke: verified effect', () => {
  it('answers 502 revoke_not_applied and keeps the record when upstream still shows terminated_at', async () => {
    const ch = await storedChannel(app)
    expect((await post(ch, 'c-1')).status).toBe(202)
    const before = (await call(app, cancelPath(ch))).json
    // Upstream answers 200 but the cancellation stands (the answer and a read right after show terminated_at):
    // the proxy turns our revoke into a repeated request, which upstream answers with the channel unchanged.
    rewrite = {
      body: (method, path, body) =>
        method === 'POST' && path.includes('/control/cancellation_request')
          ? body.replace('false', 'true')
          : body,
    }
    try {
      const res = await revoke(ch, 'r-1')
      expect(res.status).toBe(502)
      expect(res.json).toMatchObject({ error: { code: 'revoke_not_applied' } })
    } finally {
      rewrite = {}
    }
    const after = (await call(app, cancelPath(ch))).json
    expect(after).toMatchObject({
      state: before['state'],
      terminatesAt: before['terminatesAt'],
      confirmedAt: before['confirmedAt'],
    })
    expect((await call(app, `/channels/${ch}`)).json).toMatchObject({ lifecycle: 'pending_deletion' })
  })

  it('answers 503 and `unknown` when the revoke’s outcome cannot be read; the retry reads and resolves it', async () => {
    const ch = await storedChannel(app)
    expect((await post(ch, 'c-2')).status).toBe(202)
    app.simulator?.setFaults({ dropAfterCommitRate: 1 })
    const first = await revoke(ch, 'r-2')
    app.simulator?.setFaults({})
    expect(first.status).toBe(503)
    expect(first.json).toMatchObject({ error: { code: 'upstream_outcome_unknown' } })
    expect((await call(app, cancelPath(ch))).json).toMatchObject({ state: 'unknown' })
    const retry = await revoke(ch, 'r-2')
    expect(retry.status).toBe(200)
    expect(retry.json).toMatchObject({ state: 'revoked', terminatesAt: null })
    // The revoke took effect once upstream; the retry only read.
    expect(revokeCalls(ch).filter((r) => r.status === 0 || r.status === 200)).toHaveLength(2)
    expect((await call(app, `/channels/${ch}`)).json).toMatchObject({ lifecycle: 'live' })
  })
})

describe('cancellation: upstream 429', () => {
  it('answers 503 with Retry-After, records `failed`, and the same key may be retried', async () => {
    const ch = await storedChannel(app)
    app.simulator?.setFaults({ rateLimitPerMinute: 0 })
    const first = await post(ch, 'c-429')
    app.simulator?.setFaults({})
    expect(first.status).toBe(503)
    expect(first.json).toMatchObject({ error: { code: 'upstream_rate_limited' } })
    expect(Number(first.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await call(app, cancelPath(ch))).json).toMatchObject({ state: 'failed', upstreamStatus: 429 })
    const retry = await post(ch, 'c-429')
    expect(retry.status).toBe(202)
    expect(retry.headers.get('idempotent-replayed')).toBeNull()
    expect(retry.json).toMatchObject({ state: 'confirmed', idempotencyKey: 'c-429' })
  })
})

describe('client PATCH: what upstream returned', () => {
  it('stores what upstream returned and names the settings it did not take', async () => {
    // The partner's plan caps max_channels: upstream answers 200 with its own value.
    rewrite = {
      answer: (method, _path, json) => (method === 'PATCH' ? { ...json, max_channels: 2 } : json),
    }
    try {
      const res = await call(app, `/clients/${CLIENT}`, {
        method: 'PATCH',
        headers: { 'Idempotency-Key': 'p-1', 'content-type': 'application/json' },
        body: JSON.stringify({ maxChannels: 40 }),
      })
      expect(res.status).toBe(200)
      expect(res.json).toMatchObject({ clientId: CLIENT, maxChannels: 2, notApplied: ['maxChannels'] })
    } finally {
      rewrite = {}
    }
    expect((await call(app, `/clients/${CLIENT}`)).json).toMatchObject({ maxChannels: 2 })
  })
})

describe('malformed ids', () => {
  const long = 'x'.repeat(2100)
  const routes: [string, string, string][] = [
    ['GET /clients/{2,100 chars}', 'GET', `/clients/${long}`],
    ['GET /channels/{2,100 chars}', 'GET', `/channels/${long}`],
    ['GET …/cancellation of a 2,100-char channel', 'GET', cancelPath(long)],
    ['POST …/cancellation of a 2,100-char channel', 'POST', cancelPath(long)],
    ['DELETE …/cancellation of a 2,100-char channel', 'DELETE', cancelPath(long)],
    ['POST …/cancellation of a 2,100-char client', 'POST', cancelPath('Ch1', long)],
    ['PATCH /clients/{2,100 chars}', 'PATCH', `/clients/${long}`],
    ['GET /channels/{129 chars}', 'GET', `/channels/${'a'.repeat(129)}`],
    ['GET /channels/bad.id', 'GET', '/channels/bad.id'],
  ]

  it.each(routes)('%s is a 400 before any read or upstream call', async (_label, method, path) => {
    const upstreamBefore = app.simulator?.requests().length ?? 0
    const res = await call(app, path, {
      method,
      headers: { 'Idempotency-Key': 'id-check', 'content-type': 'application/json' },
      ...(method === 'PATCH' ? { body: '{"maxChannels":3}' } : {}),
    })
    expect(res.status).toBe(400)
    expect(res.json).toMatchObject({ error: { code: 'invalid_id' } })
    expect(app.simulator?.requests().length ?? 0).toBe(upstreamBefore)
  })

  it('uses no cancellation budget', async () => {
    const budgetApp = await startCanaryApp({ CANCELLATION_BUDGET_PER_HOUR: '1' })
    try {
      for (const key of ['b-1', 'b-2', 'b-3']) {
        const res = await call(budgetApp, cancelPath(long), {
          method: 'POST',
          headers: { 'Idempotency-Key': key },
        })
        expect(res.status).toBe(400)
      }
      const ch = await storedChannel(budgetApp)
      const ok = await call(budgetApp, cancelPath(ch), {
        method: 'POST',
        headers: { 'Idempotency-Key': 'b-4' },
      })
      expect(ok.status).toBe(202)
    } finally {
      await budgetApp.close()
    }
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

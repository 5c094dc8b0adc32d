import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import {
  CLIENT,
  call,
  cancellationCalls,
  captureOutput,
  effectiveCancellations,
  eventually,
  expectNoCanary,
  newChannel,
  OTHER_CLIENT,
  startCanaryApp,
} from './support'

let app: App
let restore: () => void

const cancelPath = (channelId: string, clientId = CLIENT): string =>
  `/clients/${clientId}/channels/${channelId}/cancellation`

const post = (channelId: string, key: string | null, body?: string, clientId = CLIENT) =>
  call(app, cancelPath(channelId, clientId), {
    method: 'POST',
    headers: key === null ? {} : { 'Idempotency-Key': key },
    ...(body !== undefined ? { body } : {}),
  })

beforeAll(async () => {
  restore = captureOutput()
  app = await startCanaryApp({ CANCELLATION_BUDGET_PER_HOUR: '100000' })
})

afterAll(async () => {
  await app?.close()
  restore?.()
})

describe('cancellation over HTTP: exactly one upstream call per intent', () => {
  it('50 concurrent requests with one key → exactly 1 upstream cancellation, one answer', async () => {
    const ch = newChannel(app)
    const all = await Promise.all(Array.from({ length: 50 }, () => post(ch, 'same-key', '{"reason":"dup"}')))
    const statuses = all.map((r) => r.status)
    expect(statuses.every((s) => s === 202 || s === 409)).toBe(true)
    const accepted = all.filter((r) => r.status === 202)
    expect(accepted.length).toBeGreaterThanOrEqual(1)
    expect(new Set(accepted.map((r) => r.body)).size).toBe(1)
    expect(cancellationCalls(app, ch)).toHaveLength(1)
    const replay = await post(ch, 'same-key', '{"reason":"dup"}')
    expect(replay.status).toBe(202)
    expect(replay.body).toBe(accepted[0]?.body)
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(cancellationCalls(app, ch)).toHaveLength(1)
  })

  it('50 concurrent requests with different keys for one channel → exactly 1 upstream cancellation', async () => {
    const ch = newChannel(app)
    const all = await Promise.all(Array.from({ length: 50 }, (_, i) => post(ch, `key-${i}`)))
    const accepted = all.filter((r) => r.status === 202)
    expect(accepted).toHaveLength(1)
    expect(all.filter((r) => r.status === 409)).toHaveLength(49)
    expect(cancellationCalls(app, ch)).toHaveLength(1)
    const record = await call(app, cancelPath(ch))
    expect(record.status).toBe(200)
    expect(record.json).toMatchObject({ state: expect.stringMatching(/^(requested|confirmed)$/) })
    const audit = await app.deps.store.audit.list(`channel#${ch}`, 100)
    expect(
      audit.items.filter((a) => a.action === 'cancellation.request' && a.outcome !== 'upstream_call_started'),
    ).toHaveLength(50)
  })
})

describe('cancellation over HTTP: refusals', () => {
  it('answers 409 with the existing record once the channel is pending deletion', async () => {
    const ch = newChannel(app)
    expect((await post(ch, 'first')).status).toBe(202)
    const again = await post(ch, 'second')
    expect(again.status).toBe(409)
    expect(again.json['cancellation']).toMatchObject({ idempotencyKey: 'first' })
    expect(cancellationCalls(app, ch)).toHaveLength(1)
  })

  it('refuses the same key with another channel or body (422), and a missing key (400)', async () => {
    const a = newChannel(app)
    const b = newChannel(app)
    expect((await post(a, 'k-422', '{"reason":"one"}')).status).toBe(202)
    const otherChannel = await post(b, 'k-422', '{"reason":"one"}')
    expect(otherChannel.status).toBe(422)
    expect(otherChannel.json).toMatchObject({ error: { code: 'idempotency_key_reused' } })
    expect((await post(a, 'k-422', '{"reason":"two"}')).status).toBe(422)
    const missing = await post(b, null)
    expect(missing.status).toBe(400)
    expect(missing.json).toMatchObject({ error: { code: 'missing_idempotency_key' } })
    expect(cancellationCalls(app, b)).toHaveLength(0)
  })

  it('answers 404 for an unknown channel or another client’s, with 0 upstream calls', async () => {
    const theirs = newChannel(app, OTHER_CLIENT)
    const unknown = await post('Zz9Zz9CH', 'k-404-a')
    const foreign = await post(theirs, 'k-404-b')
    expect([unknown.status, foreign.status]).toEqual([404, 404])
    expect(foreign.json).toEqual({
      error: { code: 'channel_not_found', message: 'Channel not found for this client' },
    })
    expect(cancellationCalls(app, theirs)).toHaveLength(0)
    expect(cancellationCalls(app, 'Zz9Zz9CH')).toHaveLength(0)
  })

  it('refuses extra fields and overlong reasons with 400, storing and sending nothing (property, over HTTP)', async () => {
    const ch = newChannel(app)
    const bad = fc.oneof(
      fc
        .tuple(
          fc.stringMatching(/^[a-z]{1,10}$/).filter((k) => k !== 'reason'),
          fc.jsonValue(),
        )
        .map(([k, v]) => JSON.stringify({ reason: 'ok', [k]: v })),
      fc.string({ minLength: 501, maxLength: 600 }).map((reason) => JSON.stringify({ reason })),
      fc.oneof(fc.integer(), fc.constant(null), fc.array(fc.string())).map((v) => JSON.stringify(v)),
    )
    await fc.assert(
      fc.asyncProperty(bad, async (body) => {
        const res = await post(ch, 'k-prop', body)
        expect(res.status).toBe(400)
      }),
      { numRuns: 40 },
    )
    expect(await app.deps.store.cancellations.get(ch)).toBeNull()
    expect(app.simulator?.requests().some((r) => r.path.includes(ch))).toBe(false)
    // The key was never stored: it still works for a valid request.
    expect((await post(ch, 'k-prop', '{"reason":"valid"}')).status).toBe(202)
  })
})

describe('revoke over HTTP', () => {
  it('revokes a pending cancellation once, and answers 409 when nothing is pending', async () => {
    const ch = newChannel(app)
    expect((await post(ch, 'to-revoke')).status).toBe(202)
    const revoke = await call(app, cancelPath(ch), { method: 'DELETE', headers: { 'Idempotency-Key': 'r1' } })
    expect(revoke.status).toBe(200)
    expect(revoke.json).toMatchObject({ state: 'revoked' })
    const replay = await call(app, cancelPath(ch), { method: 'DELETE', headers: { 'Idempotency-Key': 'r1' } })
    expect(replay.body).toBe(revoke.body)
    const nothing = await call(app, cancelPath(ch), {
      method: 'DELETE',
      headers: { 'Idempotency-Key': 'r2' },
    })
    expect(nothing.status).toBe(409)
    const revokes = app.simulator?.requests().filter((r) => r.path.includes(ch) && r.method === 'POST') ?? []
    expect(revokes).toHaveLength(2)
    const channel = await call(app, `/channels/${ch}`)
    expect(channel.json).toMatchObject({ lifecycle: 'live', terminatedAt: null })
  })
})

describe('cancellation and webhooks meet', () => {
  it('ends confirmed whatever the order of our answer and the cancellation_request webhook', async () => {
    const ch = newChannel(app)
    expect((await post(ch, 'with-webhook')).status).toBe(202)
    await eventually(async () => (await app.deps.store.channels.get(ch))?.lifecycle === 'pending_deletion')
    const record = await call(app, cancelPath(ch))
    expect(record.json).toMatchObject({ state: 'confirmed', terminatesAt: expect.any(String) })
    expect(effectiveCancellations(app, ch)).toHaveLength(1)
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

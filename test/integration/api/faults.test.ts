import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import {
  CLIENT,
  call,
  cancellationCalls,
  captureOutput,
  effectiveCancellations,
  expectNoCanary,
  startCanaryApp,
  storedChannel,
} from './support'

let app: App
let budgetApp: App
let restore: () => void
const TIMEOUT_MS = 300

const cancelPath = (channelId: string): string => `/clients/${CLIENT}/channels/${channelId}/cancellation`
const post = (target: App, channelId: string, key: string) =>
  call(target, cancelPath(channelId), { method: 'POST', headers: { 'Idempotency-Key': key } })

beforeAll(async () => {
  restore = captureOutput()
  // No simulator webhooks here: resolution must come from our own upstream read, deterministically.
  app = await startCanaryApp(
    { UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS), CANCELLATION_BUDGET_PER_HOUR: '1000' },
    { simulator: { deliverWebhooks: false } },
  )
  budgetApp = await startCanaryApp({ CANCELLATION_BUDGET_PER_HOUR: '2' })
})

afterAll(async () => {
  await app?.close()
  await budgetApp?.close()
  restore?.()
})

/** After a 503: faults cleared, the retry with the same key resolves; at most one effective upstream call. */
async function expectResolved(channelId: string, key: string): Promise<void> {
  const record = await call(app, cancelPath(channelId))
  expect(record.json).toMatchObject({ state: expect.stringMatching(/^(unknown|confirmed)$/) })
  const retry = await post(app, channelId, key)
  expect(retry.status).toBe(202)
  expect(retry.json).toMatchObject({ state: 'confirmed', terminatesAt: expect.any(String) })
  const final = await call(app, cancelPath(channelId))
  expect(final.json).toMatchObject({ state: 'confirmed', idempotencyKey: key })
  expect(effectiveCancellations(app, channelId)).toHaveLength(1)
  const channel = await call(app, `/channels/${channelId}`)
  expect(channel.json).toMatchObject({ lifecycle: 'pending_deletion' })
}

describe('upstream faults during a cancellation', () => {
  it('upstream 5xx → 503 and `unknown`; the retry reads upstream and then calls once', async () => {
    const ch = await storedChannel(app)
    app.simulator?.setFaults({ errorRate: 1 })
    const first = await post(app, ch, 'k-5xx')
    app.simulator?.setFaults({})
    expect(first.status).toBe(503)
    expect(first.json).toEqual({
      error: { code: 'upstream_outcome_unknown', message: 'Temporarily unavailable, please retry' },
    })
    expect((await app.deps.store.cancellations.get(ch))?.state).toBe('unknown')
    expect(effectiveCancellations(app, ch)).toHaveLength(0)
    await expectResolved(ch, 'k-5xx')
    expect(cancellationCalls(app, ch)).toHaveLength(2)
  })

  it('timeout (upstream slower than the client timeout) → 503; the retry reads upstream before any new call', async () => {
    const ch = await storedChannel(app)
    app.simulator?.setFaults({ latencyMs: TIMEOUT_MS * 3 })
    const first = await post(app, ch, 'k-timeout')
    app.simulator?.setFaults({})
    expect(first.status).toBe(503)
    expect(first.json).toMatchObject({ error: { code: 'upstream_outcome_unknown' } })
    expect((await app.deps.store.cancellations.get(ch))?.state).toBe('unknown')
    const before = app.simulator?.requests().length ?? 0
    const retry = await post(app, ch, 'k-timeout')
    expect(retry.status).toBe(202)
    expect(retry.json).toMatchObject({ state: 'confirmed', terminatesAt: expect.any(String) })
    // The retry looked the channel up (GET) before it sent its own cancellation (POST).
    const after = (app.simulator?.requests() ?? []).slice(before).filter((r) => r.path.includes('/channels'))
    expect(after.map((r) => r.method)).toEqual(['GET', 'POST'])
    // The abandoned request never completed upstream; exactly one cancellation took effect.
    expect(cancellationCalls(app, ch).filter((r) => r.status === 200)).toHaveLength(1)
    expect((await call(app, `/channels/${ch}`)).json).toMatchObject({ lifecycle: 'pending_deletion' })
  })

  it('cancelled upstream, then the connection dropped → 503; the retry resolves without a second call', async () => {
    const ch = await storedChannel(app)
    app.simulator?.setFaults({ dropAfterCommitRate: 1 })
    const first = await post(app, ch, 'k-drop')
    app.simulator?.setFaults({})
    expect(first.status).toBe(503)
    await expectResolved(ch, 'k-drop')
    expect(cancellationCalls(app, ch)).toHaveLength(1)
  })

  it('a retry with another key after an ambiguous outcome also resolves without a second call', async () => {
    const ch = await storedChannel(app)
    app.simulator?.setFaults({ dropAfterCommitRate: 1 })
    expect((await post(app, ch, 'k-a')).status).toBe(503)
    app.simulator?.setFaults({})
    const other = await post(app, ch, 'k-b')
    expect(other.status).toBe(202)
    expect(other.json).toMatchObject({ state: 'confirmed', idempotencyKey: 'k-a' })
    expect(cancellationCalls(app, ch)).toHaveLength(1)
  })

  it('an upstream refusal (4xx) → 502 with upstream’s message only, and `failed`', async () => {
    const ch = await storedChannel(app)
    // Terminated upstream behind our back: our state still says live, upstream refuses with 400.
    app.simulator?.mutateChannel(ch, { terminated_at: '2020-01-31T23:59:59Z' })
    const refused = await post(app, ch, 'k-refused')
    expect(refused.status).toBe(502)
    expect(refused.json).toEqual({
      error: {
        code: 'upstream_rejected',
        message: expect.stringMatching(/^Upstream refused the cancellation: \S/),
      },
    })
    expect(refused.body).not.toMatch(/meta|http_code|developer_message|\/api\/v2/)
    expect((await call(app, cancelPath(ch))).json).toMatchObject({ state: 'failed', upstreamStatus: 400 })
    const replay = await post(app, ch, 'k-refused')
    expect(replay.body).toBe(refused.body)
    expect(cancellationCalls(app, ch)).toHaveLength(1)
  })
})

describe('cancellation budget', () => {
  it('answers 429 with Retry-After over the budget and sends nothing upstream', async () => {
    const chans = [
      await storedChannel(budgetApp),
      await storedChannel(budgetApp),
      await storedChannel(budgetApp),
    ]
    expect((await post(budgetApp, chans[0]!, 'b1')).status).toBe(202)
    expect((await post(budgetApp, chans[1]!, 'b2')).status).toBe(202)
    const over = await post(budgetApp, chans[2]!, 'b3')
    expect(over.status).toBe(429)
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(over.json).toMatchObject({ error: { code: 'rate_limited' } })
    expect(cancellationCalls(budgetApp, chans[2]!)).toHaveLength(0)
    expect(budgetApp.simulator?.requests().some((r) => r.path.includes(chans[2]!))).toBe(false)
    // A replay of an accepted request is not a new cancellation: it is answered, not counted.
    expect((await post(budgetApp, chans[0]!, 'b1')).status).toBe(202)
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

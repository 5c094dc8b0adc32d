import { describe, expect, it, vi } from 'vitest'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import { MAX_WEBHOOK_BYTES } from '../../../shared/http/webhook-auth'
import { WEBHOOK_METRICS } from '../../../shared/services/webhooks/ingest-webhook'
import { bodyOf, createHarness, FIXTURE_EVENTS, type Harness, SECRET, sign } from './support'

const channelCreated = JSON.stringify(FIXTURE_EVENTS.channel_created)

/** Every argument the logger was called with, as one string. */
function spyLogs(h: Harness): () => string {
  const spies = (['debug', 'info', 'warn', 'error'] as const).map((m) => vi.spyOn(h.deps.logger, m))
  return () => JSON.stringify(spies.flatMap((s) => s.mock.calls))
}

describe('webhook handler: accepted events', () => {
  it('stores a signed event as pending and answers 200 with the event key, touching no state', async () => {
    const h = createHarness()
    const res = await h.post(channelCreated)
    expect(res.statusCode).toBe(200)
    expect(bodyOf(res)).toEqual({ status: 'accepted', eventKey: 'id:evt_02', duplicate: false })
    const [stored] = h.store.allEvents()
    expect(stored).toMatchObject({
      eventKey: 'id:evt_02',
      eventType: 'channel_created',
      body: channelCreated,
      status: 'pending',
      receivedAt: '2025-07-01T12:00:00.000Z',
      deliveries: 1,
    })
    expect(stored?.expiresAt).toBe(Date.parse('2025-07-01T12:00:00.000Z') / 1000 + 30 * 86_400)
    expect(await h.store.channels.get('Rt5Yu8CH')).toBeNull()
    expect(h.changes()).toEqual([])
    // The request path writes the event and nothing else: the new event is counted `received` by
    // whoever completes it (the applier), so no counter write waits on the answer.
    expect(await h.store.ops.getCounters('webhooks')).toEqual({})
    expect(h.store.stats.writes).toBe(1)
  })

  it('applies the stored event when the stream delivers its INSERT to the applier', async () => {
    const h = createHarness()
    await h.post(channelCreated)
    h.clock.advance(250)
    expect(await h.stream(['id:evt_02'])).toEqual({ batchItemFailures: [] })
    expect(h.store.allEvents()[0]).toMatchObject({
      status: 'applied',
      appliedAt: '2025-07-01T12:00:00.250Z',
      reason: null,
    })
    expect((await h.store.channels.get('Rt5Yu8CH'))?.lifecycle).toBe('draft')
    expect(h.changes().map((c) => c.detailType)).toEqual(['Channel Discovered'])
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 1, applied: 1 })
  })

  it('accepts the signature with a sha256= prefix and in uppercase hex', async () => {
    const h = createHarness()
    const a = await h.post(channelCreated, {
      headers: { 'x-360dialog-signature': `sha256=${sign(channelCreated)}` },
    })
    const b = await h.post(JSON.stringify(FIXTURE_EVENTS.channel_ready), {
      headers: { 'x-360dialog-signature': sign(JSON.stringify(FIXTURE_EVENTS.channel_ready)).toUpperCase() },
    })
    expect([a.statusCode, b.statusCode]).toEqual([200, 200])
  })

  it('reads header names case-insensitively', async () => {
    const h = createHarness()
    const res = await h.post(channelCreated, {
      unsigned: true,
      headers: { 'X-360Dialog-Signature': sign(channelCreated) },
    })
    expect(res.statusCode).toBe(200)
  })

  it('keys an event without id by the SHA-256 of its raw bytes', async () => {
    const h = createHarness()
    const { id: _id, ...rest } = FIXTURE_EVENTS.channel_created as Record<string, unknown>
    const body = JSON.stringify(rest)
    const res = await h.post(body)
    const key = bodyOf(res).eventKey as string
    expect(key).toMatch(/^sha256:[0-9a-f]{64}$/)
    const again = await h.post(body)
    expect(bodyOf(again)).toEqual({ status: 'accepted', eventKey: key, duplicate: true })
    expect(h.store.allEvents()).toHaveLength(1)
  })

  it('verifies the decoded bytes of a base64 body', async () => {
    const h = createHarness()
    const encoded = Buffer.from(channelCreated).toString('base64')
    const res = await h.post(encoded, {
      isBase64Encoded: true,
      headers: { 'x-360dialog-signature': sign(channelCreated) },
    })
    expect(res.statusCode).toBe(200)
    expect(h.store.allEvents()[0]?.body).toBe(channelCreated)
    const signedEncoded = await h.post(encoded, { isBase64Encoded: true })
    expect(signedEncoded.statusCode).toBe(401)
  })

  it('stores an unknown event type, counts it and leaves state alone', async () => {
    const h = createHarness()
    const res = await h.deliver(JSON.stringify(FIXTURE_EVENTS.waba_template_status_changed))
    expect(res.statusCode).toBe(200)
    expect(h.store.allEvents()[0]).toMatchObject({
      status: 'unknown_type',
      eventType: 'waba_template_status_changed',
    })
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 1, unknown: 1 })
    expect(h.store.stats.writes).toBe(3) // the event; its outcome and the applier's counters
  })

  it('stores a known event whose data does not fit, marks it rejected with the reason and alarms', async () => {
    const h = createHarness()
    const metric = vi.spyOn(h.deps.metrics, 'addMetric')
    const body = JSON.stringify({ id: 'bad1', event: 'channel_live', data: { id: true, client_id: 'C1' } })
    const res = await h.deliver(body)
    expect(res.statusCode).toBe(200)
    const [stored] = h.store.allEvents()
    expect(stored?.status).toBe('rejected')
    expect(stored?.reason).toMatch(/^schema_mismatch: id: /)
    expect(metric).toHaveBeenCalledWith(WEBHOOK_METRICS.rejected, 'Count', 1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 1, rejected: 1 })
  })

  it('keeps the event id when it is a number', async () => {
    const h = createHarness()
    const res = await h.post(JSON.stringify({ id: 7, event: 'something_new', data: {} }))
    expect(bodyOf(res).eventKey).toBe('id:7')
  })
})

describe('webhook handler: refusals', () => {
  it.each([
    ['missing', {}],
    ['empty', { 'x-360dialog-signature': '' }],
    ['odd length', { 'x-360dialog-signature': 'abc' }],
    ['non-hex', { 'x-360dialog-signature': 'z'.repeat(64) }],
    ['wrong secret', { 'x-360dialog-signature': sign(channelCreated, 'other') }],
    ['huge', { 'x-360dialog-signature': 'a'.repeat(100_000) }],
    ['prefix only', { 'x-360dialog-signature': 'sha256=' }],
    ['64 hex chars after garbage', { 'x-360dialog-signature': `md5=${sign(channelCreated)}` }],
  ])('answers 401 to a %s signature, stores nothing and logs nothing of the body', async (_name, headers) => {
    const h = createHarness()
    const logs = spyLogs(h)
    const metric = vi.spyOn(h.deps.metrics, 'addMetric')
    const res = await h.post(channelCreated, { unsigned: true, headers })
    expect(res.statusCode).toBe(401)
    expect(bodyOf(res)).toEqual({
      error: { code: 'invalid_signature', message: 'Missing or invalid webhook signature or token' },
    })
    expect(h.store.allEvents()).toHaveLength(0)
    expect(metric).toHaveBeenCalledWith(WEBHOOK_METRICS.unauthorized, 'Count', 1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ unauthorized: 1 })
    const logged = logs()
    expect(logged).not.toContain('Rt5Yu8CH')
    expect(logged).not.toContain(SECRET)
    expect(logged).not.toContain(sign(channelCreated))
  })

  it('answers 401 when the signature header is sent twice, even if one copy is right', async () => {
    const h = createHarness()
    const good = sign(channelCreated)
    const twice = await h.post(channelCreated, {
      multiValueHeaders: { 'x-360dialog-signature': [good, good] },
    })
    const twoSpellings = await h.post(channelCreated, {
      unsigned: true,
      headers: { 'x-360dialog-signature': good, 'X-360DIALOG-SIGNATURE': 'ab'.repeat(32) },
      multiValueHeaders: { 'x-360dialog-signature': [good], 'X-360DIALOG-SIGNATURE': ['ab'.repeat(32)] },
    })
    expect([twice.statusCode, twoSpellings.statusCode]).toEqual([401, 401])
    expect(h.store.allEvents()).toHaveLength(0)
  })

  it('answers 413 to a body over 256 KiB before verifying or storing it', async () => {
    const h = createHarness()
    const big = JSON.stringify({ event: 'channel_live', data: { pad: 'x'.repeat(MAX_WEBHOOK_BYTES) } })
    const res = await h.post(big)
    expect(res.statusCode).toBe(413)
    const b64 = await h.post(Buffer.from(big).toString('base64'), {
      isBase64Encoded: true,
      headers: { 'x-360dialog-signature': sign(big) },
    })
    expect(b64.statusCode).toBe(413)
    const multibyte = await h.post(`{"event":"x","data":{"p":"${'é'.repeat(MAX_WEBHOOK_BYTES / 2 + 1)}"}}`, {
      unsigned: true,
    })
    expect(multibyte.statusCode).toBe(413)
    expect(h.store.allEvents()).toHaveLength(0)
  })

  it('accepts a body of exactly 256 KiB', async () => {
    const h = createHarness()
    const prefix = '{"id":"max","event":"padding_test","data":{"p":"'
    const suffix = '"}}'
    const body = prefix + 'x'.repeat(MAX_WEBHOOK_BYTES - prefix.length - suffix.length) + suffix
    expect(Buffer.byteLength(body)).toBe(MAX_WEBHOOK_BYTES)
    expect((await h.post(body)).statusCode).toBe(200)
  })

  it.each([
    ['not JSON', 'not json at all'],
    ['an array', '[1,2]'],
    ['without event', '{"data":{}}'],
    ['without data', '{"event":"channel_live"}'],
    ['with data not an object', '{"event":"channel_live","data":[1]}'],
    ['empty', ''],
  ])('answers 400 to a signed body that is %s and stores nothing', async (_name, body) => {
    const h = createHarness()
    const res = await h.post(body)
    expect(res.statusCode).toBe(400)
    expect(h.store.allEvents()).toHaveLength(0)
  })

  it('answers 503 when the event cannot be stored, acknowledging nothing', async () => {
    const h = createHarness()
    h.store.failureRate = 1
    const res = await h.post(channelCreated)
    expect(res.statusCode).toBe(503)
    expect(bodyOf(res)).toEqual({
      error: { code: 'service_unavailable', message: 'Temporarily unavailable, please retry' },
    })
    h.store.failureRate = 0
    expect(h.store.allEvents()).toHaveLength(0)
  })

  it('answers 503 (never accepts) when no platform secret is configured', async () => {
    const h = createHarness({ secrets: createEnvSecretSource({}) })
    expect((await h.post(channelCreated)).statusCode).toBe(503)
    expect(h.store.allEvents()).toHaveLength(0)
  })

  it('answers 503 (never 400) when the platform secret is malformed, naming nothing internal', async () => {
    // A rotation list with a typo: the configuration is broken, not the sender's request.
    const h = createHarness({ secrets: createEnvSecretSource({ platformSecret: '["new-secret", old' }) })
    const res = await h.post(channelCreated)
    expect(res.statusCode).toBe(503)
    expect(bodyOf(res)).toEqual({
      error: { code: 'service_unavailable', message: 'Temporarily unavailable, please retry' },
    })
    expect(h.store.allEvents()).toHaveLength(0)
  })
})

describe('webhook handler: token and rotation', () => {
  it('requires the configured token on top of the signature', async () => {
    const h = createHarness({ webhookToken: 'tok-123' })
    const none = await h.post(channelCreated)
    const wrong = await h.post(channelCreated, { headers: { 'x-webhook-token': 'tok-124' } })
    const long = await h.post(channelCreated, { headers: { 'x-webhook-token': 't'.repeat(10_000) } })
    const dup = await h.post(channelCreated, {
      headers: { 'x-webhook-token': 'tok-123' },
      multiValueHeaders: {
        'x-webhook-token': ['tok-123', 'tok-123'],
        'x-360dialog-signature': [sign(channelCreated)],
      },
    })
    const badSig = await h.post(channelCreated, {
      unsigned: true,
      headers: { 'x-webhook-token': 'tok-123', 'x-360dialog-signature': sign('x') },
    })
    expect([none, wrong, long, dup, badSig].map((r) => r.statusCode)).toEqual([401, 401, 401, 401, 401])
    const ok = await h.post(channelCreated, { headers: { 'X-Webhook-Token': 'tok-123' } })
    expect(ok.statusCode).toBe(200)
  })

  it('accepts the token alone when signature checking is off', async () => {
    const h = createHarness({ webhookToken: 'tok-123', signature: 'off' })
    const ok = await h.post(channelCreated, { unsigned: true, headers: { 'x-webhook-token': 'tok-123' } })
    const bad = await h.post(channelCreated, { unsigned: true, headers: { 'x-webhook-token': 'nope' } })
    expect([ok.statusCode, bad.statusCode]).toEqual([200, 401])
  })

  it('accepts the current and the previous secret during a rotation and refuses a retired one', async () => {
    const h = createHarness({ platformSecret: JSON.stringify(['secret-new', 'secret-old']) })
    const body = (id: string): string => JSON.stringify({ ...FIXTURE_EVENTS.channel_created, id })
    const post = (id: string, secret: string) =>
      h.post(body(id), { unsigned: true, headers: { 'x-360dialog-signature': sign(body(id), secret) } })
    expect((await post('a', 'secret-new')).statusCode).toBe(200)
    expect((await post('b', 'secret-old')).statusCode).toBe(200)
    expect((await post('c', 'secret-retired')).statusCode).toBe(401)
    expect((await post('d', SECRET)).statusCode).toBe(401)
  })

  it('re-reads the secrets once after a failed signature, so a newly added secret works at once', async () => {
    // A cached source: the new value is seen only when a refresh is forced.
    let cached = 'secret-a'
    const current = JSON.stringify(['secret-b', 'secret-a'])
    const get = vi.fn(async (name: string, opts?: { forceRefresh?: boolean }) => {
      if (name !== 'platformSecret') return null
      if (opts?.forceRefresh) cached = current
      return cached
    })
    const h = createHarness({ secrets: { get } })
    const res = await h.post(channelCreated, {
      unsigned: true,
      headers: { 'x-360dialog-signature': sign(channelCreated, 'secret-b') },
    })
    expect(res.statusCode).toBe(200)
    expect(get).toHaveBeenCalledWith('platformSecret', { forceRefresh: true })
    // Further failures within 30 s do not force another read.
    get.mockClear()
    await h.post(channelCreated, { unsigned: true, headers: { 'x-360dialog-signature': sign('zz') } })
    expect(get).not.toHaveBeenCalledWith('platformSecret', { forceRefresh: true })
  })
})

describe('webhook handler: logs', () => {
  it('logs the event key, type and outcome but never the body or signature at info level', async () => {
    const h = createHarness()
    const info = vi.spyOn(h.deps.logger, 'info')
    await h.deliver(channelCreated)
    const accepted = info.mock.calls.find((c) => c[0] === 'webhook accepted')
    expect(accepted?.[1]).toEqual({
      eventKey: 'id:evt_02',
      eventType: 'channel_created',
      duplicate: false,
      outcome: 'pending',
    })
    const applied = info.mock.calls.find((c) => c[0] === 'webhook event applied')
    expect(applied?.[1]).toEqual({
      eventKey: 'id:evt_02',
      eventType: 'channel_created',
      outcome: 'applied',
      recorded: true,
      via: 'stream',
    })
    const all = JSON.stringify(info.mock.calls)
    expect(all).not.toContain('Sonnenschein')
    expect(all).not.toContain(sign(channelCreated))
  })
})

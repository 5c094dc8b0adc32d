import { describe, expect, it } from 'vitest'
import type { RunSummary } from '../../../shared/domain/types'
import { ROUTES } from '../../../shared/http/routes'
import { bodyOf, CLIENT_A, CLIENT_B, createApiHarness, PRINCIPAL } from './support'

const API_ROUTES = ROUTES.filter((r) => r.fn === 'api')

function concretePath(path: string): string {
  return path.replace('{clientId}', CLIENT_A.id).replace('{channelId}', 'Pq7Wx2CH')
}

describe('api handler: routing and authentication', () => {
  it.each(API_ROUTES.map((r) => [r.method, r.path]))(
    '%s %s refuses a request without a principal (401)',
    async (method, path) => {
      const h = createApiHarness()
      const res = await h.call(method, concretePath(path), {
        principal: null,
        headers: { 'idempotency-key': 'k' },
      })
      expect(res.statusCode).toBe(401)
      expect(bodyOf(res)).toEqual({
        error: { code: 'unauthorized', message: 'The request carries no authenticated principal' },
      })
      expect(h.store.stats.writes).toBe(0)
      expect(h.api.calls).toHaveLength(0)
    },
  )

  it('answers 404 for a route this function does not serve', async () => {
    const h = createApiHarness()
    const res = await h.call('GET', '/nowhere')
    expect(res.statusCode).toBe(404)
  })

  it('serves a cancellation through the chain, marking replays with a header', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const path = `/clients/${ch.client_id}/channels/${ch.id}/cancellation`
    const init = { body: '{"reason":"done"}', headers: { 'Idempotency-Key': 'abc' } }
    const first = await h.call('POST', path, init)
    const second = await h.call('POST', path, init)
    expect(first.statusCode).toBe(202)
    expect(second.body).toBe(first.body)
    expect(second.headers?.['idempotent-replayed']).toBe('true')
    const read = await h.call('GET', path)
    expect(read.statusCode).toBe(200)
    expect(bodyOf(read)).toMatchObject({ state: 'confirmed', requestedBy: PRINCIPAL, reason: 'done' })
    const otherClient = await h.call('GET', `/clients/${CLIENT_B.id}/channels/${ch.id}/cancellation`)
    expect(otherClient.statusCode).toBe(404)
    const base64 = await h.call('POST', path, {
      body: Buffer.from('{"reason":"done"}').toString('base64'),
      isBase64Encoded: true,
      headers: { 'idempotency-key': 'abc' },
    })
    expect(base64.body).toBe(first.body)
  })

  it('maps a missing key and a bad body to 400 with the error body', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel()
    const path = `/clients/${ch.client_id}/channels/${ch.id}/cancellation`
    const noKey = await h.call('POST', path)
    expect(noKey.statusCode).toBe(400)
    expect(bodyOf(noKey)).toEqual({
      error: { code: 'missing_idempotency_key', message: 'The Idempotency-Key header is required' },
    })
    const extra = await h.call('DELETE', path, {
      body: '{"reason":"a","x":1}',
      headers: { 'idempotency-key': 'k' },
    })
    expect(extra.statusCode).toBe(400)
    expect(bodyOf(extra)).toEqual({
      error: { code: 'invalid_body', message: 'Only the field reason is accepted' },
    })
  })
})

describe('api handler: reads', () => {
  it('lists clients with cursor pagination and a status filter', async () => {
    const h = createApiHarness()
    await h.addClient(CLIENT_A)
    await h.addClient({ ...CLIENT_B, status: 'inactive' })
    const page1 = await h.call('GET', '/clients?limit=1')
    expect(page1.statusCode).toBe(200)
    const b1 = bodyOf(page1) as { items: { clientId: string }[]; nextCursor: string }
    expect(b1.items.map((c) => c.clientId)).toEqual([CLIENT_A.id])
    expect(b1.items[0]).not.toHaveProperty('orderKey')
    const page2 = bodyOf(await h.call('GET', `/clients?limit=1&cursor=${b1.nextCursor}`))
    expect(page2).toMatchObject({ items: [{ clientId: CLIENT_B.id }], nextCursor: null })
    const filtered = bodyOf(await h.call('GET', '/clients?status=inactive'))
    expect(filtered).toMatchObject({ items: [{ clientId: CLIENT_B.id }], nextCursor: null })
  })

  it.each([
    ['/clients?limit=0'],
    ['/clients?limit=101'],
    ['/clients?limit=abc'],
    ['/clients?limit=1.5'],
    ['/clients?limit=-1'],
    ['/channels?limit='],
    ['/channels?cursor=bm9wZQ'],
    ['/channels?cursor=%20'],
    ['/channels?lifecycle=zombie'],
    ['/channels?clientId=../x'],
    ['/channels?quality=PURPLE'],
    ['/channels?quality=green'],
    ['/channels?messagingLimit=lots'],
    ['/channels?accountMode=demo'],
    ['/channels?health=FINE'],
    ['/channels?q='],
    ['/channels?q=%20%20'],
    [`/channels?q=${'x'.repeat(101)}`],
    ['/channels?colour=red'],
    ['/channels?Quality=RED'],
    ['/clients?q='],
    ['/clients?lifecycle=live'],
    ['/clients/Kd82nQ1zCL?expand=channels'],
    ['/channels/Ch0001CH?fields=all'],
    ['/status?verbose=1'],
  ])('answers 400 for %s, with nothing read', async (path) => {
    const h = createApiHarness()
    await h.addChannel()
    const reads = h.store.stats.reads
    const res = await h.call('GET', path)
    expect(res.statusCode).toBe(400)
    const error = (bodyOf(res)['error'] as Record<string, unknown>) ?? {}
    expect(Object.keys(error)).toEqual(['code', 'message'])
    // The message names the parameter at fault (the last one in the query).
    const name = path.split(/[?&]/).at(-1)?.split('=')[0] ?? ''
    expect(String(error['message'])).toMatch(new RegExp(`\\b${name}\\b`))
    if (!path.includes('cursor=')) expect(h.store.stats.reads).toBe(reads)
  })

  it('names the unknown query parameter, and the one given twice', async () => {
    const h = createApiHarness()
    const unknown = bodyOf(await h.call('GET', '/channels?lifecycle=live&colour=red'))
    expect(unknown).toMatchObject({
      error: { code: 'invalid_query', message: expect.stringContaining('colour') },
    })
    const bad = bodyOf(await h.call('GET', '/channels?quality=PURPLE'))
    expect(bad).toMatchObject({
      error: { code: 'invalid_query', message: expect.stringContaining('quality') },
    })
  })

  it('filters channels by quality, tier, account mode and search, combined with AND', async () => {
    const h = createApiHarness()
    const green = await h.addChannel({ current_quality_rating: 'GREEN', current_limit: 'TIER_1K' })
    const red = await h.addChannel({
      current_quality_rating: 'RED',
      current_limit: 'TIER_10K',
      setup_info: { phone_number: '+49 151 5550123', phone_name: 'Harbour Cafe' },
    })
    const na = await h.addChannel({
      current_quality_rating: 'NA',
      current_limit: null,
      account_mode: 'sandbox',
    })
    const ids = async (path: string): Promise<string[]> => {
      const res = await h.call('GET', path)
      expect(res.statusCode).toBe(200)
      return (bodyOf(res) as { items: { channelId: string }[] }).items.map((i) => i.channelId).sort()
    }
    expect(await ids('/channels?quality=RED')).toEqual([red.id])
    expect(await ids('/channels?quality=UNKNOWN')).toEqual([na.id])
    expect(await ids('/channels?quality=GREEN&messagingLimit=tier_1k')).toEqual([green.id])
    expect(await ids('/channels?quality=GREEN&messagingLimit=TIER_10K')).toEqual([])
    expect(await ids('/channels?accountMode=sandbox')).toEqual([na.id])
    expect(await ids('/channels?q=4915155501%2023')).toEqual([red.id])
    expect(await ids('/channels?q=%2B4915155501')).toEqual([])
    expect(await ids('/channels?q=harbour')).toEqual([red.id])
    expect(await ids('/channels?q=HARBOUR&quality=GREEN')).toEqual([])
  })

  it('lists channels by client and lifecycle', async () => {
    const h = createApiHarness()
    const a = await h.addChannel()
    await h.addChannel({ client_id: CLIENT_B.id })
    const c = await h.addChannel({ terminated_at: '2026-01-31T23:59:59Z' })
    const byClient = bodyOf(await h.call('GET', `/channels?clientId=${CLIENT_A.id}`)) as {
      items: { channelId: string }[]
    }
    expect(byClient.items.map((i) => i.channelId).sort()).toEqual([a.id, c.id].sort())
    const pending = bodyOf(await h.call('GET', '/channels?lifecycle=pending_deletion')) as {
      items: { channelId: string }[]
    }
    expect(pending.items.map((i) => i.channelId)).toEqual([c.id])
  })

  it('serves one client with a summary of its channels, and 404 for an unknown one', async () => {
    const h = createApiHarness()
    await h.addClient(CLIENT_A)
    const a = await h.addChannel()
    const b = await h.addChannel({ terminated_at: '2026-01-31T23:59:59Z' })
    const res = await h.call('GET', `/clients/${CLIENT_A.id}`)
    expect(res.statusCode).toBe(200)
    expect(bodyOf(res)).toMatchObject({
      clientId: CLIENT_A.id,
      name: CLIENT_A.name,
      channels: {
        total: 2,
        byLifecycle: { live: 1, pending_deletion: 1, draft: 0, onboarding: 0, error: 0, terminated: 0 },
        channelIds: [a.id, b.id].sort(),
      },
    })
    expect((await h.call('GET', '/clients/Unknown0CL')).statusCode).toBe(404)
    expect((await h.call('GET', `/channels/${a.id}`)).statusCode).toBe(200)
    expect(bodyOf(await h.call('GET', '/channels/Nope0CH'))).toEqual({
      error: { code: 'channel_not_found', message: 'Channel not found' },
    })
  })

  it('serves the status: last runs, channels by lifecycle, webhook counts, stuck events, change events', async () => {
    const h = createApiHarness({ failureQueue: { depth: async () => 2 } })
    await h.addChannel()
    const run: RunSummary = {
      runId: 'r1',
      startedAt: '2026-01-15T09:59:00.000Z',
      endedAt: '2026-01-15T09:59:30.000Z',
      outcome: 'succeeded',
      error: null,
      mode: 'full',
      complete: true,
      quarantined: 1,
      warnings: ['quarantined_items', 'total_mismatch'],
      pages: 1,
      calls: 2,
      retries: 0,
      seen: { clients: 1, channels: 1 },
      changed: { clients: 0, channels: 1 },
      missing: { clients: 0, channels: 0 },
      swept: 0,
      confirmedCancellations: 0,
    }
    await h.store.ops.saveRunSummary(run)
    await h.store.ops.incrementCounters('webhooks', { received: 5, duplicates: 1, rejected: 1 })
    const pending = {
      body: '{}',
      status: 'pending' as const,
      reason: null,
      appliedAt: null,
      expiresAt: 0,
      deliveries: 1,
    }
    await h.store.events.putNew({
      ...pending,
      eventKey: 'old',
      eventType: 'x',
      receivedAt: '2026-01-15T09:50:00.000Z',
    })
    await h.store.events.putNew({
      ...pending,
      eventKey: 'new',
      eventType: 'x',
      receivedAt: '2026-01-15T09:58:00.000Z',
    })
    await h.store.ops.markChangesPublished({
      changeAt: '2026-01-15T09:59:58.000Z',
      publishedAt: '2026-01-15T09:59:59.250Z',
      events: 3,
    })
    const res = await h.call('GET', '/status')
    expect(res.statusCode).toBe(200)
    expect(bodyOf(res)).toEqual({
      reconciliation: {
        last: run,
        lastSuccess: run,
        quarantine: { count: 0, countCapped: false, items: [] },
        watermark: null,
        lastFullSweep: null,
        sweep: null,
      },
      channels: {
        total: 1,
        byLifecycle: { draft: 0, onboarding: 0, error: 0, live: 1, pending_deletion: 0, terminated: 0 },
        byQuality: { GREEN: 1, YELLOW: 0, RED: 0, UNKNOWN: 0, unrated: 0 },
      },
      webhooks: {
        received: 5,
        duplicates: 1,
        rejected: 1,
        unknown: 0,
        stale: 0,
        unauthorized: 0,
        applied: 0,
        stuck: 1,
        stuckCapped: false,
      },
      changeEvents: {
        lastChangeAt: '2026-01-15T09:59:58.000Z',
        lastPublishedAt: '2026-01-15T09:59:59.250Z',
        lagMs: 1250,
        published: 3,
        failureQueueDepth: 2,
      },
      health: { byStatus: null, lastSweep: null, lastRun: null },
      partnerSettings: {
        checkedAt: null,
        ok: null,
        webhookUrlOk: null,
        redirectUrlOk: null,
        lastFailure: null,
      },
      at: '2026-01-15T10:00:00.000Z',
    })
  })

  it('serves the status without the failure queue depth when the queue cannot be read', async () => {
    const h = createApiHarness({ failureQueue: { depth: () => Promise.reject(new Error('AccessDenied')) } })
    const res = await h.call('GET', '/status')
    expect(res.statusCode).toBe(200)
    expect(bodyOf(res).changeEvents).toEqual({
      lastChangeAt: null,
      lastPublishedAt: null,
      lagMs: null,
      published: 0,
      failureQueueDepth: null,
    })
  })
})

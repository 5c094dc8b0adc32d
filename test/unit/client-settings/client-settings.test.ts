import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import { applyClient } from '../../../shared/services/state/apply-upstream'
import {
  apiEvent,
  bodyOf,
  createHarness,
  type Harness,
  PRINCIPAL,
  upstreamClient,
} from '../onboarding/support'

function patch(
  h: Harness,
  clientId: string,
  body: unknown,
  key: string | null = 'key-1',
  principal: string | null = PRINCIPAL,
) {
  return h.call(
    apiEvent({
      method: 'PATCH',
      resource: '/clients/{clientId}',
      path: `/clients/${clientId}`,
      pathParameters: { clientId },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(key !== null ? { 'Idempotency-Key': key } : {}) },
      principal,
    }),
  )
}

async function seeded(): Promise<Harness> {
  const h = createHarness()
  const up = upstreamClient('Kd82nQ1zCL', { partner_payload: 'old' })
  h.api.clients.set(up.id, up)
  await applyClient(h.deps, up, { source: 'poll', kind: 'snapshot' })
  h.api.calls.length = 0
  return h
}

describe('PATCH /clients/{clientId}', () => {
  it('sends the documented client PATCH, stores the returned client, audits and answers 200 with it', async () => {
    const h = await seeded()
    const res = await patch(h, 'Kd82nQ1zCL', { maxChannels: 5, partnerPayload: 'cust-7' })
    expect(res.statusCode).toBe(200)
    expect(h.api.calls).toEqual([
      { method: 'patchClient', args: ['Kd82nQ1zCL', { max_channels: 5, partner_payload: 'cust-7' }] },
    ])
    const body = bodyOf(res)
    expect(body).toMatchObject({
      clientId: 'Kd82nQ1zCL',
      maxChannels: 5,
      partnerPayload: 'cust-7',
      source: 'api',
    })
    expect(body).not.toHaveProperty('orderKey')
    expect(await h.store.clients.get('Kd82nQ1zCL')).toMatchObject({
      maxChannels: 5,
      partnerPayload: 'cust-7',
    })
    const [entry] = h.store.allAudit()
    expect(entry).toMatchObject({
      subject: 'client#Kd82nQ1zCL',
      action: 'client.patch',
      principal: PRINCIPAL,
      idempotencyKey: 'key-1',
      outcome: 'updated',
      httpStatus: 200,
      upstreamStatus: 200,
      details: { maxChannels: 5, partnerPayload: 'cust-7' },
    })
  })

  it('sends only the given field', async () => {
    const h = await seeded()
    await patch(h, 'Kd82nQ1zCL', { maxChannels: 100 })
    expect(h.api.calls[0]?.args[1]).toEqual({ max_channels: 100 })
  })

  it('replays the first response byte for byte for the same key and request, without a second call', async () => {
    const h = await seeded()
    const first = await patch(h, 'Kd82nQ1zCL', { partnerPayload: 'cust-7' })
    h.clock.advance(5_000)
    const again = await patch(h, 'Kd82nQ1zCL', { partnerPayload: 'cust-7' })
    expect(again.statusCode).toBe(200)
    expect(again.body).toBe(first.body)
    expect(again.headers?.['idempotent-replayed']).toBe('true')
    expect(h.api.callCount('patchClient')).toBe(1)
    expect(h.store.allAudit().map((a) => a.outcome)).toEqual(['updated', 'replayed'])
  })

  it('answers 422 for the same key with a different body and 400 without a key', async () => {
    const h = await seeded()
    await patch(h, 'Kd82nQ1zCL', { partnerPayload: 'cust-7' })
    const other = await patch(h, 'Kd82nQ1zCL', { partnerPayload: 'cust-8' })
    expect(other.statusCode).toBe(422)
    const noKey = await patch(h, 'Kd82nQ1zCL', { partnerPayload: 'cust-8' }, null)
    expect(noKey.statusCode).toBe(400)
    expect(bodyOf(noKey)).toMatchObject({ error: { code: 'missing_idempotency_key' } })
    expect(h.api.callCount('patchClient')).toBe(1)
    expect(h.store.allAudit()).toHaveLength(3)
  })

  it('looks up a client missing from state upstream, stores it and patches it', async () => {
    const h = createHarness()
    h.api.clients.set('New1CL', upstreamClient('New1CL'))
    const res = await patch(h, 'New1CL', { maxChannels: 3 })
    expect(res.statusCode).toBe(200)
    expect(h.api.calls.map((c) => c.method)).toEqual(['findClient', 'patchClient'])
    expect((await h.store.clients.get('New1CL'))?.maxChannels).toBe(3)
  })

  it('answers 404 with nothing sent for a client unknown in state and upstream', async () => {
    const h = createHarness()
    const res = await patch(h, 'Ghost1CL', { maxChannels: 3 })
    expect(res.statusCode).toBe(404)
    expect(bodyOf(res)).toMatchObject({ error: { code: 'client_not_found' } })
    expect(h.api.callCount('patchClient')).toBe(0)
    expect(h.store.allAudit()[0]).toMatchObject({ outcome: 'client_not_found', httpStatus: 404 })
    const bad = await patch(h, 'bad/id', { maxChannels: 3 }, 'key-2')
    expect(bad.statusCode).toBe(400)
    expect(bodyOf(bad)).toMatchObject({ error: { code: 'invalid_id' } })
    expect(h.api.calls.map((c) => c.method)).toEqual(['findClient'])
  })

  it('answers 502 with the upstream message when upstream refuses, keeps state, and replays the 502', async () => {
    const h = await seeded()
    h.api.failNext(
      'patchClient',
      () =>
        new UpstreamError('Upstream refused the request', {
          upstreamStatus: 400,
          retryable: false,
          upstreamMessage: 'max_channels below active channels',
        }),
    )
    const res = await patch(h, 'Kd82nQ1zCL', { maxChannels: 1 })
    expect(res.statusCode).toBe(502)
    expect(bodyOf(res)).toEqual({
      error: {
        code: 'upstream_rejected',
        message: 'The Partner API refused the change: max_channels below active channels',
      },
    })
    expect((await h.store.clients.get('Kd82nQ1zCL'))?.maxChannels).toBe(10)
    expect(h.store.allAudit()[0]).toMatchObject({
      outcome: 'upstream_rejected',
      httpStatus: 502,
      upstreamStatus: 400,
    })
    const again = await patch(h, 'Kd82nQ1zCL', { maxChannels: 1 })
    expect(again.body).toBe(res.body)
    expect(h.api.callCount('patchClient')).toBe(1)
  })

  it('answers 503 when upstream is unreachable and lets a retry with the same key run again', async () => {
    const h = await seeded()
    h.api.failNext('patchClient', () => new UpstreamError('down', { upstreamStatus: 503, retryable: true }))
    const res = await patch(h, 'Kd82nQ1zCL', { maxChannels: 4 })
    expect(res.statusCode).toBe(503)
    const retry = await patch(h, 'Kd82nQ1zCL', { maxChannels: 4 })
    expect(retry.statusCode).toBe(200)
    expect(h.api.callCount('patchClient')).toBe(2)
    expect(h.store.allAudit().map((a) => [a.outcome, a.httpStatus])).toEqual([
      ['upstream_unavailable', 503],
      ['updated', 200],
    ])
  })

  it('stores what upstream returned and names each setting it did not take as asked', async () => {
    const h = await seeded()
    // The partner's plan caps max_channels: upstream answers 200 with its own value.
    h.api.clients.set('Kd82nQ1zCL', { ...h.api.clients.get('Kd82nQ1zCL')!, max_channels: 10 })
    const real = h.api.patchClient.bind(h.api)
    h.api.patchClient = async (id, change) => {
      const up = await real(id, change)
      return { ...up, max_channels: 10 }
    }
    const res = await patch(h, 'Kd82nQ1zCL', { maxChannels: 50, partnerPayload: 'cust-9' })
    expect(res.statusCode).toBe(200)
    expect(bodyOf(res)).toMatchObject({
      maxChannels: 10,
      partnerPayload: 'cust-9',
      notApplied: ['maxChannels'],
    })
    expect((await h.store.clients.get('Kd82nQ1zCL'))?.maxChannels).toBe(10)
    expect(h.store.allAudit().at(-1)).toMatchObject({
      outcome: 'updated',
      details: { maxChannels: 50, partnerPayload: 'cust-9', notApplied: ['maxChannels'] },
    })
    const same = await patch(h, 'Kd82nQ1zCL', { partnerPayload: 'cust-10' }, 'key-2')
    expect(bodyOf(same)['notApplied']).toEqual([])
  })

  it('refuses a request without an authenticated principal', async () => {
    const h = await seeded()
    expect((await patch(h, 'Kd82nQ1zCL', { maxChannels: 4 }, 'k', null)).statusCode).toBe(401)
    expect(h.api.calls).toEqual([])
  })

  it('accepts exactly the valid bodies and sends nothing for the others (property)', async () => {
    const h = await seeded()
    let n = 0
    const field = fc.oneof(
      fc.integer({ min: -5, max: 110 }),
      fc.double(),
      fc.string({ maxLength: 260 }),
      fc.constant(null),
      fc.boolean(),
    )
    const body = fc.oneof(
      fc.record({ maxChannels: field, partnerPayload: field, extra: field }, { requiredKeys: [] }),
      fc.anything(),
    )
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const calls = h.api.callCount('patchClient')
        const res = await patch(h, 'Kd82nQ1zCL', b, `prop-${n++}`)
        const o = b as Record<string, unknown>
        const isObj = typeof b === 'object' && b !== null && !Array.isArray(b)
        const keys = isObj ? Object.keys(o) : []
        const validMax =
          !keys.includes('maxChannels') ||
          (Number.isInteger(o['maxChannels']) &&
            (o['maxChannels'] as number) >= 1 &&
            (o['maxChannels'] as number) <= 100)
        const p = o?.['partnerPayload']
        const validPayload =
          !keys.includes('partnerPayload') ||
          (typeof p === 'string' &&
            p.length >= 1 &&
            p.length <= 255 &&
            ![...p].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
        const valid =
          isObj &&
          keys.every((k) => k === 'maxChannels' || k === 'partnerPayload') &&
          keys.length > 0 &&
          validMax &&
          validPayload &&
          Object.values(o).every((v) => v !== undefined)
        expect(res.statusCode).toBe(valid ? 200 : 400)
        expect(h.api.callCount('patchClient')).toBe(calls + (valid ? 1 : 0))
      }),
      { numRuns: 300 },
    )
  })
})

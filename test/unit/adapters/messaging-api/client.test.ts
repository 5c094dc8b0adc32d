import { describe, expect, it } from 'vitest'
import { createMessagingApiClient } from '../../../../shared/adapters/messaging-api/client'
import { UpstreamError } from '../../../../shared/domain/errors'
import type { MessagingTarget } from '../../../../shared/ports'

const cloud: MessagingTarget = {
  apiKey: 'secret-channel-key',
  address: 'https://waba-v2.example.test/',
  kind: 'cloud',
}
const onPrem: MessagingTarget = {
  apiKey: 'secret-channel-key',
  address: 'https://waba.example.test',
  kind: 'onpremise',
}

type Answer = { status: number; body?: unknown; headers?: Record<string, string> } | Error

/** A fetch that answers from a script and records each request. */
function scripted(...answers: Answer[]) {
  const requests: { url: string; headers: Record<string, string> }[] = []
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    requests.push({ url: String(url), headers: { ...(init?.headers as Record<string, string>) } })
    const a = answers.shift() ?? { status: 500 }
    if (a instanceof Error) throw a
    return new Response(a.body === undefined ? '' : JSON.stringify(a.body), {
      status: a.status,
      headers: a.headers ?? {},
    })
  }) as typeof globalThis.fetch
  return { fetch, requests }
}

const fast = { sleep: async () => undefined, random: () => 0.5 }
const healthy = { health_status: { can_send_message: 'AVAILABLE', entities: [] }, id: '1' }

describe('Messaging API client', () => {
  it('reads Cloud health from /health_status with the channel key in D360-API-KEY', async () => {
    const s = scripted({ status: 200, body: healthy })
    const api = createMessagingApiClient({ fetch: s.fetch, ...fast })
    expect(await api.health(cloud)).toEqual({ status: 'AVAILABLE', errors: [] })
    expect(s.requests[0]?.url).toBe('https://waba-v2.example.test/health_status')
    expect(s.requests[0]?.headers['D360-API-KEY']).toBe('secret-channel-key')
  })

  it('reads on-premise health from /v1/health, the worst node of a high-availability answer deciding', async () => {
    const s = scripted(
      { status: 200, body: { health: { gateway_status: 'connected' } } },
      {
        status: 200,
        body: {
          health: {
            'wa-a:core1': { gateway_status: 'connected', role: 'primary_master' },
            'wa-b:core2': { gateway_status: 'disconnected', role: 'coreapp' },
          },
        },
      },
    )
    const api = createMessagingApiClient({ fetch: s.fetch, ...fast })
    expect(await api.health(onPrem)).toEqual({ status: 'connected', errors: [] })
    expect(await api.health(onPrem)).toEqual({
      status: 'disconnected',
      errors: [{ code: 'gateway_disconnected', message: 'wa-b:core2 (coreapp): disconnected' }],
    })
    expect(s.requests[0]?.url).toBe('https://waba.example.test/v1/health')
  })

  it('reads the number behind the key as digits, on-premise and Cloud', async () => {
    const s = scripted(
      { status: 200, body: { phone_number: '4915112345678' } },
      { status: 200, body: { id: '1055', display_phone_number: '+49 151 1234-5678', verified_name: 'X' } },
    )
    const api = createMessagingApiClient({ fetch: s.fetch, ...fast })
    expect(await api.phoneNumber(onPrem)).toBe('4915112345678')
    expect(await api.phoneNumber(cloud)).toBe('4915112345678')
    expect(s.requests.map((r) => r.url)).toEqual([
      'https://waba.example.test/v1/configs/phone_number',
      'https://waba-v2.example.test/v1/configs/phone_number',
    ])
  })

  it('retries 429 (after Retry-After), 5xx and network failures like the Partner API client', async () => {
    const waits: number[] = []
    const s = scripted(
      { status: 429, headers: { 'retry-after': '2' } },
      { status: 503 },
      Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }),
      { status: 200, body: healthy },
    )
    const api = createMessagingApiClient({
      fetch: s.fetch,
      maxAttempts: 4,
      random: () => 1,
      sleep: async (ms) => {
        waits.push(ms)
      },
    })
    expect((await api.health(cloud)).status).toBe('AVAILABLE')
    expect(waits).toEqual([2000, 400, 800])
    expect(api.stats()).toMatchObject({ calls: 4, retries: 3 })
  })

  it('gives up after its attempts with a retryable error', async () => {
    const s = scripted({ status: 502 }, { status: 502 })
    const api = createMessagingApiClient({ fetch: s.fetch, maxAttempts: 2, ...fast })
    const err = await api.health(cloud).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(UpstreamError)
    expect(err).toMatchObject({ upstreamStatus: 502, retryable: true })
  })

  it('never retries a 401: the key is refused, and the error never carries the key', async () => {
    const s = scripted({ status: 401, body: { error: 'Invalid api key' } }, { status: 200, body: healthy })
    const api = createMessagingApiClient({ fetch: s.fetch, ...fast })
    const err = (await api.health(cloud).catch((e: unknown) => e)) as UpstreamError
    expect(err).toMatchObject({
      upstreamStatus: 401,
      code: 'upstream_unauthorized',
      upstreamMessage: 'Invalid api key',
    })
    expect(s.requests).toHaveLength(1)
    expect(JSON.stringify({ ...err, text: err.message })).not.toContain('secret-channel-key')
  })

  it('refuses an answer that is not a health body, or a status outside the documented ones', async () => {
    const s = scripted(
      { status: 200, body: { health_status: { can_send_message: 'MAYBE' } } },
      { status: 200, body: { nothing: true } },
    )
    const api = createMessagingApiClient({ fetch: s.fetch, ...fast })
    await expect(api.health(cloud)).rejects.toMatchObject({ code: 'upstream_invalid_response' })
    await expect(api.health(onPrem)).rejects.toMatchObject({ code: 'upstream_invalid_response' })
  })

  it('keeps at most `concurrency` requests in flight, whatever the caller starts', async () => {
    let inFlight = 0
    let most = 0
    const fetch = (async () => {
      inFlight += 1
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 5))
      inFlight -= 1
      return new Response(JSON.stringify(healthy), { status: 200 })
    }) as typeof globalThis.fetch
    const api = createMessagingApiClient({ fetch, concurrency: 3 })
    await Promise.all(Array.from({ length: 20 }, () => api.health(cloud)))
    expect(most).toBe(3)
    expect(api.stats().maxInFlight).toBe(3)
  })
})

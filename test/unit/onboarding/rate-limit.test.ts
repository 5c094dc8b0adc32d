import type { APIGatewayProxyEvent } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { consumeSourceBudget, sourceAddress } from '../../../shared/http/rate-limit'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'

function event(sourceIp: unknown): Pick<APIGatewayProxyEvent, 'requestContext'> {
  return { requestContext: { identity: { sourceIp } } } as unknown as Pick<
    APIGatewayProxyEvent,
    'requestContext'
  >
}

describe('sourceAddress', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['not-an-ip', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
  ])('normalizes %s to %s', (ip, expected) => {
    expect(sourceAddress(event(ip))).toBe(expected)
  })

  it('puts every address of one /64 in one bucket', () => {
    expect(sourceAddress(event('2001:db8:aa:bb:1::1'))).toBe(sourceAddress(event('2001:db8:aa:bb:ffff::2')))
    expect(sourceAddress(event('2001:db8:aa:bb::1'))).not.toBe(sourceAddress(event('2001:db8:aa:bc::1')))
  })
})

describe('consumeSourceBudget', () => {
  it('allows the limit per window, then refuses with the seconds left; scopes do not share a budget', async () => {
    const deps = { store: new MemoryStore(), clock: new FakeClock('2026-03-10T09:00:15.000Z') }
    const limit = { scope: 'test', limit: 2, windowMs: 60_000 }
    const source = sourceAddress(event('198.51.100.4'))
    expect(await consumeSourceBudget(deps, source, limit)).toMatchObject({
      allowed: true,
      source: '198.51.100.4',
    })
    await consumeSourceBudget(deps, source, limit)
    expect(await consumeSourceBudget(deps, source, limit)).toMatchObject({
      allowed: false,
      retryAfterSeconds: 45,
    })
    expect((await consumeSourceBudget(deps, source, { ...limit, scope: 'other' })).allowed).toBe(true)
  })
})

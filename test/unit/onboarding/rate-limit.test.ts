import type { APIGatewayProxyEvent } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { RateLimitedError } from '../../../shared/domain/errors'
import { enforceSourceLimit, sourceAddress } from '../../../shared/http/rate-limit'
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

describe('enforceSourceLimit', () => {
  it('allows the limit per window and then throws RateLimitedError with the seconds left', async () => {
    const deps = { store: new MemoryStore(), clock: new FakeClock('2026-03-10T09:00:15.000Z') }
    const limit = { scope: 'test', limit: 2, windowMs: 60_000 }
    expect(await enforceSourceLimit(deps, event('198.51.100.4'), limit)).toBe('198.51.100.4')
    await enforceSourceLimit(deps, event('198.51.100.4'), limit)
    const err = await enforceSourceLimit(deps, event('198.51.100.4'), limit).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RateLimitedError)
    expect((err as RateLimitedError).retryAfterSeconds).toBe(45)
    // Scopes do not share a budget.
    await enforceSourceLimit(deps, event('198.51.100.4'), { ...limit, scope: 'other' })
  })
})

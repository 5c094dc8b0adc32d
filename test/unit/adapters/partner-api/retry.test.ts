import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelay, parseRetryAfter } from '../../../../shared/adapters/partner-api/retry'

describe('backoffDelay', () => {
  it('stays within [0, min(max, base × 2^retry)]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (retry, base, max, r) => {
          const d = backoffDelay(retry, { baseDelayMs: base, maxDelayMs: max, random: () => r })
          expect(d).toBeGreaterThanOrEqual(0)
          expect(d).toBeLessThanOrEqual(Math.min(max, base * 2 ** retry))
        },
      ),
    )
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T10:00:00Z')
  it('reads delta seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0)
    expect(parseRetryAfter(' 12 ', now)).toBe(12_000)
    expect(parseRetryAfter('1.5', now)).toBe(1_500)
  })
  it('reads an HTTP date relative to now and never goes negative', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 10:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Sat, 01 Mar 2025 09:00:00 GMT', now)).toBe(0)
  })
  it('returns null when absent or unreadable', () => {
    expect(parseRetryAfter(null, now)).toBeNull()
    expect(parseRetryAfter('', now)).toBeNull()
    expect(parseRetryAfter('soon', now)).toBeNull()
    expect(parseRetryAfter('-5', now)).toBeNull()
  })
})

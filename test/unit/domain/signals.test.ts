import { describe, expect, it } from 'vitest'
import { channelMatches, phoneSearch } from '../../../shared/domain/filters'
import { qualityBucket, qualityMoves } from '../../../shared/domain/signals'
import { makeChannel } from '../../integration/store/fixtures'

const ch = (old: Record<string, unknown> | null, next: Record<string, unknown>) => ({
  table: 'channels',
  oldImage: old,
  newImage: next,
})

describe('quality buckets', () => {
  it('keeps GREEN, YELLOW and RED, puts any other rating in UNKNOWN, and no rating in none', () => {
    expect(qualityBucket(' green ')).toBe('GREEN')
    expect(qualityBucket('RED')).toBe('RED')
    expect(qualityBucket('NA')).toBe('UNKNOWN')
    expect(qualityBucket('UNKNOWN')).toBe('UNKNOWN')
    expect(qualityBucket('')).toBeNull()
    expect(qualityBucket(null)).toBeNull()
  })
})

describe('quality moves (the metrics of the publisher)', () => {
  it('counts a move into each bucket and a live channel turning RED', () => {
    const moves = qualityMoves([
      ch({ qualityRating: 'GREEN', lifecycle: 'live' }, { qualityRating: 'RED', lifecycle: 'live' }),
      ch(
        { qualityRating: 'GREEN', lifecycle: 'onboarding' },
        { qualityRating: 'RED', lifecycle: 'onboarding' },
      ),
      ch({ qualityRating: 'RED', lifecycle: 'live' }, { qualityRating: 'YELLOW', lifecycle: 'live' }),
      ch({ qualityRating: null, lifecycle: 'draft' }, { qualityRating: 'GREEN', lifecycle: 'live' }),
    ])
    expect(moves).toEqual({ into: { GREEN: 1, YELLOW: 1, RED: 2, UNKNOWN: 0 }, liveTurnedRed: 1 })
  })

  it('counts no move for a backfill, a re-delivery, a bucket kept, a new item or another table', () => {
    const moves = qualityMoves([
      ch({ lifecycle: 'live' }, { qualityRating: 'RED', lifecycle: 'live' }),
      ch({ qualityRating: 'RED', lifecycle: 'live' }, { qualityRating: 'RED', lifecycle: 'live' }),
      ch({ qualityRating: 'UNKNOWN' }, { qualityRating: 'NA' }),
      ch(null, { qualityRating: 'RED', lifecycle: 'live' }),
      { table: 'clients', oldImage: { qualityRating: 'GREEN' }, newImage: { qualityRating: 'RED' } },
      ch({ qualityRating: 'GREEN' }, { qualityRating: null }),
    ])
    expect(moves).toEqual({ into: { GREEN: 0, YELLOW: 0, RED: 0, UNKNOWN: 0 }, liveTurnedRed: 0 })
  })
})

describe('channel search', () => {
  it('reads a phone-shaped search as a number, anything else as text', () => {
    expect(phoneSearch('+49 (151) 234-56')).toBe('4915123456')
    expect(phoneSearch('1234')).toBeNull()
    expect(phoneSearch('shop 49151')).toBeNull()
    const c = makeChannel({ phoneNumber: '4915123456', displayName: 'Harbour Café', partnerPayload: 'crm-7' })
    expect(channelMatches(c, { q: '+4915123456' })).toBe(true)
    expect(channelMatches(c, { q: '491512345' })).toBe(false)
    expect(channelMatches(c, { q: 'HARBOUR CAF' })).toBe(true)
    expect(channelMatches(c, { q: 'crm-7' })).toBe(true)
    expect(channelMatches(c, { q: 'crm-7', quality: 'RED' })).toBe(false)
  })
})

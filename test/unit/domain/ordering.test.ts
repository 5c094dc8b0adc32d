import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { factOrderKey, isNewer, normalizeTime, orderingTime, orderKey } from '../../../shared/domain/ordering'

describe('orderKey', () => {
  it('orders by upstream time first, then by event precedence', () => {
    const t1 = '2026-01-01T10:00:00Z'
    const t2 = '2026-01-01T10:00:01Z'
    expect(orderKey(t2, 'channel_created') > orderKey(t1, 'channel_live')).toBe(true)
    expect(orderKey(t1, 'channel_live') > orderKey(t1, 'channel_ready')).toBe(true)
    expect(orderKey(t1, 'cancellation_revoke') > orderKey(t1, 'cancellation_request')).toBe(true)
    expect(orderKey(t1, 'snapshot') > orderKey(t1, 'cancellation_processed')).toBe(true)
  })

  it('normalizes equivalent timestamps to the same key', () => {
    expect(orderKey('2026-01-01T10:00:00Z', 'channel_live')).toBe(
      orderKey('2026-01-01T11:00:00+01:00', 'channel_live'),
    )
  })

  it('puts undated facts before every dated one', () => {
    expect(
      orderKey(null, 'cancellation_processed') < orderKey('1970-01-01T00:00:00Z', 'channel_created'),
    ).toBe(true)
    expect(normalizeTime('not a date')).toBeNull()
  })

  it('sorts keys as their times sort (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('1990-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
        fc.date({ min: new Date('1990-01-01'), max: new Date('2200-01-01'), noInvalidDate: true }),
        (a, b) => {
          const ka = orderKey(a.toISOString(), 'snapshot')
          const kb = orderKey(b.toISOString(), 'snapshot')
          expect(Math.sign(ka.localeCompare(kb))).toBe(Math.sign(a.getTime() - b.getTime()))
        },
      ),
    )
  })
})

describe('orderingTime', () => {
  const received = '2026-03-01T12:00:00.000Z'

  it('takes modified_at first, then the envelope timestamp, then the time received', () => {
    expect(
      orderingTime({
        modifiedAt: '2026-03-01T10:00:00Z',
        envelopeTime: '2026-03-01T11:00:00Z',
        receivedAt: received,
      }),
    ).toEqual({ time: '2026-03-01T10:00:00.000Z', from: 'modified_at' })
    expect(orderingTime({ envelopeTime: '2026-03-01T11:00:00Z', receivedAt: received })).toEqual({
      time: '2026-03-01T11:00:00.000Z',
      from: 'timestamp',
    })
    expect(orderingTime({ receivedAt: received })).toEqual({ time: received, from: 'received' })
    expect(orderingTime({ modifiedAt: null, envelopeTime: null, receivedAt: new Date(received) }).time).toBe(
      received,
    )
  })

  it('treats an unparseable time as absent', () => {
    expect(
      orderingTime({ modifiedAt: 'yesterday', envelopeTime: '2026-03-01T11:00:00Z', receivedAt: received })
        .from,
    ).toBe('timestamp')
    expect(orderingTime({ modifiedAt: '', envelopeTime: 'soon', receivedAt: received }).from).toBe('received')
  })

  it('counts an upstream time later than the time received as the time received', () => {
    expect(orderingTime({ modifiedAt: '2099-01-01T00:00:00Z', receivedAt: received })).toEqual({
      time: received,
      from: 'capped',
    })
    // A future modified_at is capped; it does not fall through to the envelope timestamp.
    expect(
      orderingTime({
        modifiedAt: '2099-01-01T00:00:00Z',
        envelopeTime: '2026-01-01T00:00:00Z',
        receivedAt: received,
      }).time,
    ).toBe(received)
    expect(orderingTime({ envelopeTime: '2099-01-01T00:00:00Z', receivedAt: received }).time).toBe(received)
  })

  it('orders an undated fact after every fact dated before its receipt, and never after its receipt (property)', () => {
    const date = fc.date({ min: new Date('2000-01-01'), max: new Date('2150-01-01'), noInvalidDate: true })
    fc.assert(
      fc.property(date, fc.option(date), fc.option(date), (receivedAt, modified, envelope) => {
        const t = orderingTime({
          modifiedAt: modified?.toISOString() ?? null,
          envelopeTime: envelope?.toISOString() ?? null,
          receivedAt,
        }).time
        expect(t <= receivedAt.toISOString()).toBe(true)
        const upstream = modified ?? envelope
        if (upstream === null) expect(t).toBe(receivedAt.toISOString())
        else expect(t).toBe((upstream < receivedAt ? upstream : receivedAt).toISOString())
        expect(
          factOrderKey(
            {
              modifiedAt: modified?.toISOString() ?? null,
              envelopeTime: envelope?.toISOString() ?? null,
              receivedAt,
            },
            'snapshot',
          ),
        ).toBe(orderKey(t, 'snapshot'))
      }),
    )
  })
})

describe('isNewer', () => {
  const stored = { orderKey: 'k2', contentHash: 'h' }
  it('accepts anything when nothing is stored', () => {
    expect(isNewer({ orderKey: 'k0', contentHash: 'x' }, null)).toBe(true)
  })
  it('refuses an older key and an identical fact', () => {
    expect(isNewer({ orderKey: 'k1', contentHash: 'x' }, stored)).toBe(false)
    expect(isNewer({ orderKey: 'k2', contentHash: 'h' }, stored)).toBe(false)
  })
  it('accepts a newer key, and the same key with different content', () => {
    expect(isNewer({ orderKey: 'k3', contentHash: 'h' }, stored)).toBe(true)
    expect(isNewer({ orderKey: 'k2', contentHash: 'x' }, stored)).toBe(true)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import { HEALTH_REFRESH_MS, NUMBER_RECHECK_MS } from '../../../shared/domain/health'
import type { MessagingApi } from '../../../shared/ports'
import {
  MIN_CHECK_GAP_MS,
  MIN_INTERVAL_MS,
  SCHEDULE_TOLERANCE_MS,
  type SweepOptions,
  sweepHealth,
} from '../../../shared/services/health/sweep-health'
import { healthWorld, liveChannel } from './support'

const MIN = 60_000

/**
 * The fake Messaging API with each health call's time recorded per key (when it is made), and an
 * optional delay per call (the clock moves while the call is in flight).
 */
/** Moves the fake clock, after letting the checks already due start (as real time would). */
const fakeSleep =
  (w: Awaited<ReturnType<typeof healthWorld>>) =>
  async (ms: number): Promise<void> => {
    await new Promise((resolve) => setImmediate(resolve))
    w.clock.advance(ms)
  }

function timedCalls(w: Awaited<ReturnType<typeof healthWorld>>, callMs = 0) {
  const seen = new Map<string, number[]>()
  const messaging: MessagingApi = {
    health: async (t) => {
      seen.set(t.apiKey, [...(seen.get(t.apiKey) ?? []), w.clock.now().getTime()])
      w.clock.advance(callMs)
      return w.messaging.health(t)
    },
    phoneNumber: (t) => w.messaging.phoneNumber(t),
    stats: () => w.messaging.stats(),
  }
  return { seen, messaging }
}
const options = (o: Partial<SweepOptions> = {}): SweepOptions => ({
  intervalMs: 15 * MIN,
  spread: false,
  concurrency: 4,
  budgetMs: 14 * MIN,
  ...o,
})

describe('health sweep', () => {
  it('checks every live channel that has a key, stores its health and counts channels by health', async () => {
    const w = await healthWorld(3)
    w.messaging.setHealth('key-H00002CH', 'BLOCKED')
    const summary = await sweepHealth(w.deps, options())
    expect(summary).toMatchObject({ outcome: 'succeeded', live: 3, checked: 3, written: 3, changed: 3 })
    expect(summary.becameUnhealthy).toBe(1)
    expect(summary.byStatus).toMatchObject({ AVAILABLE: 2, BLOCKED: 1, unchecked: 0 })
    const blocked = await w.store.channels.get('H00002CH')
    expect(blocked?.health).toMatchObject({
      status: 'BLOCKED',
      checkedAt: '2026-01-15T10:00:00.000Z',
      errors: [{ code: 'meta_141006' }],
    })
    // The first health of a channel is a change from null; the event is dated by the check.
    const events = w.changes.events.filter((e) => e.detailType === 'Channel Health Changed')
    expect(events.map((e) => [e.detail.channelId, e.detail.from, e.detail.to])).toEqual([
      ['H00001CH', null, 'AVAILABLE'],
      ['H00002CH', null, 'BLOCKED'],
      ['H00003CH', null, 'AVAILABLE'],
    ])
    expect(events[0]?.detail).toMatchObject({ source: 'poll', at: '2026-01-15T10:00:00.000Z' })
  })

  it('never calls the Messaging API for a channel without a key, or one that is not live', async () => {
    const w = await healthWorld(2)
    w.keys.keys.delete('H00001CH')
    await w.store.channels.putIfNewer(liveChannel(7, { account_mode: 'sandbox' }))
    w.keys.keys.set('H00007CH', 'key-H00007CH')
    const summary = await sweepHealth(w.deps, options())
    expect(summary).toMatchObject({ live: 2, checked: 1, withoutKey: 1 })
    expect(summary.byStatus.unchecked).toBe(1)
    expect(w.messaging.calls.map((c) => c.apiKey)).toEqual(['key-H00002CH', 'key-H00002CH'])
    expect(w.keys.lookups).not.toContain('H00007CH')
    expect((await w.store.channels.get('H00001CH'))?.health).toBeUndefined()
  })

  it('skips a channel whose stored key is not active without even reading the key', async () => {
    const w = await healthWorld(1)
    const stored = await w.store.channels.get('H00001CH')
    // keyStatus is written on its own, outside the content hash (ChannelRepository.setKeyStatus).
    expect(
      await w.store.channels.setKeyStatus(
        'H00001CH',
        { keyStatus: 'invalid', keyNeeded: false },
        stored!.contentHash,
      ),
    ).toBe('written')
    const summary = await sweepHealth(w.deps, options())
    expect(summary).toMatchObject({ checked: 0, withoutKey: 1 })
    expect(w.keys.lookups).toEqual([])
  })

  it('publishes nothing and writes nothing when the same status is found again, until the refresh is due', async () => {
    const w = await healthWorld(1)
    await sweepHealth(w.deps, options())
    const writes = w.store.stats.writes
    w.clock.advance(15 * MIN)
    const again = await sweepHealth(w.deps, options())
    expect(again).toMatchObject({ checked: 1, written: 0, changed: 0 })
    w.clock.advance(HEALTH_REFRESH_MS)
    const refreshed = await sweepHealth(w.deps, options())
    expect(refreshed).toMatchObject({ checked: 1, written: 1, changed: 0 })
    expect((await w.store.channels.get('H00001CH'))?.health?.checkedAt).toBe(w.clock.now().toISOString())
    expect(w.changes.events.filter((e) => e.detailType === 'Channel Health Changed')).toHaveLength(1)
    expect(w.store.stats.writes).toBeGreaterThan(writes)
  })

  it('publishes one event per status change, with distinct ids, and counts a channel that became BLOCKED', async () => {
    const w = await healthWorld(1)
    await sweepHealth(w.deps, options())
    for (const status of ['BLOCKED', 'AVAILABLE', 'BLOCKED'] as const) {
      w.messaging.setHealth('key-H00001CH', status)
      w.clock.advance(15 * MIN)
      const s = await sweepHealth(w.deps, options())
      expect(s.changed).toBe(1)
      expect(s.becameUnhealthy).toBe(status === 'BLOCKED' ? 1 : 0)
    }
    const events = w.changes.events.filter((e) => e.detailType === 'Channel Health Changed')
    expect(events.map((e) => `${e.detail.from}->${e.detail.to}`)).toEqual([
      'null->AVAILABLE',
      'AVAILABLE->BLOCKED',
      'BLOCKED->AVAILABLE',
      'AVAILABLE->BLOCKED',
    ])
    expect(new Set(events.map((e) => e.detail.eventId)).size).toBe(4)
  })

  it('reads on-premise health from gateway_status and alarms a disconnected gateway', async () => {
    const w = await healthWorld(1)
    w.keys.kind = 'onpremise'
    w.messaging.addKey('key-H00001CH', {
      kind: 'onpremise',
      phoneNumber: '491510000001',
      gateway: 'disconnected',
    })
    const s = await sweepHealth(w.deps, options())
    expect(s).toMatchObject({ becameUnhealthy: 1 })
    expect(s.byStatus.disconnected).toBe(1)
    expect((await w.store.channels.get('H00001CH'))?.health?.status).toBe('disconnected')
  })

  it('on a 401 hands the key back once for re-provisioning, writes nothing and does not loop', async () => {
    const w = await healthWorld(1)
    w.messaging.revoke('key-H00001CH')
    const first = await sweepHealth(w.deps, options())
    expect(first).toMatchObject({ checked: 1, keysRejected: 1, written: 0 })
    expect(w.keys.rejections).toEqual(['H00001CH'])
    expect((await w.store.channels.get('H00001CH'))?.health).toBeUndefined()
    w.clock.advance(15 * MIN)
    const second = await sweepHealth(w.deps, options())
    expect(second).toMatchObject({ checked: 0, withoutKey: 1, keysRejected: 0 })
    expect(w.keys.rejections).toEqual(['H00001CH'])
    expect(w.messaging.callCount()).toBe(1)
  })

  it('checks again once a new key is stored for a channel whose key was refused', async () => {
    const w = await healthWorld(1)
    w.messaging.revoke('key-H00001CH')
    await sweepHealth(w.deps, options())
    expect((await w.store.channels.get('H00001CH'))?.keyRejected).toMatchObject({ key: 'ref-key-H00001CH' })
    w.keys.keys.set('H00001CH', 'key-2')
    w.messaging.addKey('key-2', { phoneNumber: '491510000001' })
    w.clock.advance(15 * MIN)
    const s = await sweepHealth(w.deps, options())
    expect(s).toMatchObject({ checked: 1, keysRejected: 0, changed: 1 })
    expect((await w.store.channels.get('H00001CH'))?.health?.status).toBe('AVAILABLE')
    expect(w.keys.rejections).toEqual(['H00001CH'])
  })

  it('keeps the stored health when a check fails for another reason, and counts it', async () => {
    const w = await healthWorld(1)
    await sweepHealth(w.deps, options())
    const before = await w.store.channels.get('H00001CH')
    w.messaging.failNext(
      'health',
      () => new UpstreamError('down', { upstreamStatus: 503, retryable: true, code: 'upstream_unavailable' }),
    )
    w.clock.advance(2 * HEALTH_REFRESH_MS)
    const s = await sweepHealth(w.deps, options())
    expect(s).toMatchObject({ failed: 1, written: 0 })
    expect((await w.store.channels.get('H00001CH'))?.health).toEqual(before?.health)
    expect(w.keys.rejections).toEqual([])
  })

  it('verifies the number behind the key on the first check and daily after, keeping a mismatch in errors', async () => {
    const w = await healthWorld(1)
    w.messaging.addKey('key-H00001CH', { phoneNumber: '15550100999' })
    const first = await sweepHealth(w.deps, options())
    expect(first.numberChecks).toBe(1)
    const health = (await w.store.channels.get('H00001CH'))?.health
    expect(health?.status).toBe('AVAILABLE')
    expect(health?.errors).toEqual([
      { code: 'number_mismatch', message: "the key answers for …0999, the channel's number is …0001" },
    ])
    w.clock.advance(15 * MIN)
    const second = await sweepHealth(w.deps, options())
    expect(second.numberChecks).toBe(0)
    expect(w.messaging.callCount('phoneNumber')).toBe(1)
    expect((await w.store.channels.get('H00001CH'))?.health?.errors[0]?.code).toBe('number_mismatch')
    w.messaging.addKey('key-H00001CH', { phoneNumber: '491510000001' })
    w.clock.advance(NUMBER_RECHECK_MS)
    const daily = await sweepHealth(w.deps, options())
    expect(daily.numberChecks).toBe(1)
    expect((await w.store.channels.get('H00001CH'))?.health?.errors).toEqual([])
  })

  it('keeps the health when only the number check fails, and verifies the number at the next check', async () => {
    const w = await healthWorld(1)
    w.messaging.failNext('phoneNumber', () => new UpstreamError('x', { upstreamStatus: 0, retryable: true }))
    const first = await sweepHealth(w.deps, options())
    expect(first).toMatchObject({ written: 1, numberChecks: 0 })
    w.clock.advance(15 * MIN)
    expect((await sweepHealth(w.deps, options())).numberChecks).toBe(1)
  })

  it('skips a sweep that starts too soon after the last one, or while another holds the lease', async () => {
    const w = await healthWorld(2)
    await sweepHealth(w.deps, options())
    const calls = w.messaging.callCount()
    w.clock.advance(15 * MIN - SCHEDULE_TOLERANCE_MS - 1)
    const early = await sweepHealth(w.deps, options())
    expect(early.outcome).toBe('skipped')
    expect(early.reason).toMatch(/last sweep started/)
    expect(w.messaging.callCount()).toBe(calls)
    w.clock.advance(SCHEDULE_TOLERANCE_MS)
    await w.store.ops.acquireLease('health', 'someone-else', w.clock.now(), 60_000)
    expect((await sweepHealth(w.deps, options())).reason).toBe('another sweep is running')
    expect((await w.store.ops.getHealthSweeps()).last?.outcome).toBe('skipped')
  })

  it('refuses an interval below the pacing minimum', async () => {
    const w = await healthWorld(1)
    await expect(sweepHealth(w.deps, options({ intervalMs: MIN_INTERVAL_MS - 1 }))).rejects.toThrow(
      RangeError,
    )
  })

  it('spreads the checks over the interval, each channel at the same offset every sweep', async () => {
    const w = await healthWorld(40)
    const times = timedCalls(w)
    const opts = options({ spread: true, sleep: fakeSleep(w) })
    const t0 = w.clock.now().getTime()
    await sweepHealth({ ...w.deps, messaging: times.messaging }, opts)
    const first = [...times.seen.values()].map((t) => (t[0] ?? 0) - t0)
    expect(first).toHaveLength(40)
    // Spread: not all at once, and within the window (interval − tolerance − 1 minute).
    expect(Math.max(...first)).toBeGreaterThan(5 * MIN)
    expect(Math.max(...first)).toBeLessThan(13 * MIN)
    w.clock.set(new Date(t0 + 15 * MIN).toISOString())
    await sweepHealth({ ...w.deps, messaging: times.messaging }, opts)
    for (const t of times.seen.values()) expect((t[1] ?? 0) - (t[0] ?? 0)).toBe(15 * MIN)
  })

  it('never checks a channel twice within 5 minutes, however the schedule fires and however slow checks are', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 30 * MIN }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 7, max: 20 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 * MIN }),
        async (gaps, intervalMinutes, spread, checkMs) => {
          const w = await healthWorld(6)
          const times = timedCalls(w, checkMs)
          const deps = { ...w.deps, messaging: times.messaging }
          const opts = options({
            intervalMs: intervalMinutes * MIN,
            spread,
            concurrency: 2,
            sleep: fakeSleep(w),
          })
          for (const gap of gaps) {
            w.clock.advance(gap)
            await sweepHealth(deps, opts)
          }
          for (const t of times.seen.values()) {
            for (let i = 1; i < t.length; i++) {
              expect((t[i] ?? 0) - (t[i - 1] ?? 0)).toBeGreaterThanOrEqual(MIN_CHECK_GAP_MS)
            }
          }
        },
      ),
      { numRuns: 60 },
    )
  })
})

import { describe, expect, it, vi } from 'vitest'
import { replayWebhooks } from '../../../shared/services/webhooks/replay-webhooks'
import { sweepPendingEvents } from '../../../shared/services/webhooks/sweep-webhooks'
import { MemoryStore } from '../../fakes/memory-store'
import { seededRandom } from '../../support/lambda'
import { bodyOf, createHarness, FIXTURE_EVENTS, insertRecord, lambdaContext, streamEvent } from './support'

const live = JSON.stringify(FIXTURE_EVENTS.channel_live)

describe('duplicates', () => {
  it('accepts the same event 10 times in a row with one stored event and one state change', async () => {
    const h = createHarness()
    const writeFact = vi.spyOn(h.store.channels, 'writeFact')
    const answers = []
    for (let i = 0; i < 10; i++) answers.push(await h.deliver(live))
    expect(answers.map((r) => r.statusCode)).toEqual(Array(10).fill(200))
    expect(answers.map((r) => bodyOf(r).duplicate)).toEqual([false, ...Array(9).fill(true)])
    expect(h.store.allEvents()).toEqual([expect.objectContaining({ status: 'applied', deliveries: 10 })])
    expect(writeFact).toHaveBeenCalledTimes(1)
    expect(h.changes()).toHaveLength(1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 10, duplicates: 9, applied: 1 })
  })

  it('accepts the same event 50 times at once with one stored event and one state change', async () => {
    const h = createHarness()
    const before = h.store.stats.writes
    const answers = await Promise.all(Array.from({ length: 50 }, () => h.post(live)))
    expect(answers.every((r) => r.statusCode === 200)).toBe(true)
    const created = answers.filter((r) => bodyOf(r).duplicate === false)
    expect(created).toHaveLength(1)
    // 50 event writes on the request path; concurrent counter updates share writes.
    const counterWrites = h.store.stats.writes - before - 50
    expect(counterWrites).toBeGreaterThanOrEqual(1)
    expect(counterWrites).toBeLessThan(50)
    // The stream announces the one INSERT: one channel write, one outcome, one counter write.
    const applying = h.store.stats.writes
    await h.stream(created.map((r) => bodyOf(r).eventKey as string))
    expect(h.store.stats.writes - applying).toBe(3)
    expect(h.store.allEvents()).toEqual([expect.objectContaining({ status: 'applied', deliveries: 50 })])
    expect(h.changes()).toHaveLength(1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 50, duplicates: 49, applied: 1 })
  })
})

describe('crash between store and apply', () => {
  /** Stored and acknowledged, then the applier fails on it (a throttled write): the event stays pending. */
  async function crashed() {
    const h = createHarness()
    const first = await h.post(live)
    vi.spyOn(h.store.channels, 'writeFact').mockRejectedValueOnce(new Error('throttled'))
    const applied = await h.applier(
      streamEvent([{ ...insertRecord(h.store, 'id:evt_06'), sequence: '000000000000000000042' }]),
      lambdaContext(),
    )
    return { h, first, applied }
  }

  it('still answers 200 once stored; the applier reports the record as failed and leaves it pending', async () => {
    const { h, first, applied } = await crashed()
    expect(first.statusCode).toBe(200)
    expect(applied).toEqual({ batchItemFailures: [{ itemIdentifier: '000000000000000000042' }] })
    expect(h.store.allEvents()[0]?.status).toBe('pending')
    expect(await h.store.channels.get('Pq7Wx2CH')).toBeNull()
    // Not completed, so not counted yet: `received` counts a new event once, when it is completed.
    expect(await h.store.ops.getCounters('webhooks')).toEqual({})
  })

  it('is healed by the next delivery of the same event', async () => {
    const { h } = await crashed()
    // A redelivery while the first delivery may still be applying leaves it alone.
    await h.post(live)
    expect(h.store.allEvents()[0]?.status).toBe('pending')
    h.clock.advance(10_000)
    const again = await h.post(live)
    expect(bodyOf(again)).toMatchObject({ duplicate: true })
    expect(h.store.allEvents()[0]?.status).toBe('applied')
    expect((await h.store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')
    expect(h.changes()).toHaveLength(1)
  })

  it('is healed by the sweep, which leaves young and finished events alone', async () => {
    const { h } = await crashed()
    await h.deliver(JSON.stringify(FIXTURE_EVENTS.channel_ready))
    expect(await sweepPendingEvents(h.deps)).toEqual({ swept: 0, applied: 0, failed: 0 })
    h.clock.advance(61_000)
    expect(await sweepPendingEvents(h.deps)).toEqual({ swept: 1, applied: 1, failed: 0 })
    expect(h.store.allEvents().map((e) => e.status)).toEqual(['applied', 'applied'])
    expect((await h.store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')
    expect(await sweepPendingEvents(h.deps)).toEqual({ swept: 0, applied: 0, failed: 0 })
  })

  it('counts an event the sweep cannot apply as failed and keeps it pending', async () => {
    const { h } = await crashed()
    h.clock.advance(61_000)
    vi.spyOn(h.store.channels, 'writeFact').mockRejectedValueOnce(new Error('still throttled'))
    expect(await sweepPendingEvents(h.deps, { olderThanMs: 1_000, limit: 10 })).toEqual({
      swept: 1,
      applied: 0,
      failed: 1,
    })
    expect(h.store.allEvents()[0]?.status).toBe('pending')
  })
})

describe('storage faults', () => {
  it('with 20 % of writes failing, every 200 has its event stored and the rest answer 503', async () => {
    const store = new MemoryStore({ random: seededRandom(42) })
    const h = createHarness({ store })
    const bodies = Array.from({ length: 200 }, (_, i) =>
      JSON.stringify({
        id: `e${i}`,
        event: 'channel_ready',
        data: {
          ...(FIXTURE_EVENTS.channel_ready?.data as object),
          id: `CH${i % 20}`,
          modified_at: `2025-03-10T10:${String(i % 60).padStart(2, '0')}:00Z`,
        },
        timestamp: '2025-03-10T11:00:00Z',
      }),
    )
    store.failureRate = 0.2
    let pendingBodies = bodies
    let unavailable = 0
    let streamFailures = 0
    // Senders retry what was not acknowledged; bounded.
    for (let round = 0; round < 20 && pendingBodies.length > 0; round++) {
      const answers = await Promise.all(pendingBodies.map((b) => h.post(b)))
      // The stream hands every new event to the applier, which meets the same faults.
      const created = answers
        .filter((a) => a.statusCode === 200 && bodyOf(a).duplicate === false)
        .map((a) => bodyOf(a).eventKey as string)
      const batch = streamEvent(created)
      const { batchItemFailures } = await h.applier(batch, lambdaContext())
      streamFailures += batchItemFailures.length
      const failedKeys = new Set(
        batchItemFailures.map(
          (f) =>
            batch.Records.find((r) => r.dynamodb?.SequenceNumber === f.itemIdentifier)?.dynamodb?.Keys
              ?.eventKey?.S,
        ),
      )
      // Reported failures are exactly the events the applier did not complete (read without faults).
      store.failureRate = 0
      for (const key of created) {
        const status = (await store.events.get(key))?.status
        expect(status === 'pending').toBe(failedKeys.has(key))
      }
      store.failureRate = 0.2
      const statuses = new Set(answers.map((a) => a.statusCode))
      expect([...statuses].every((s) => s === 200 || s === 503)).toBe(true)
      answers.forEach((a, i) => {
        if (a.statusCode !== 200) return
        const key = bodyOf(a).eventKey as string
        expect(store.allEvents().some((e) => e.eventKey === key)).toBe(true)
        expect(key).toBe(`id:${JSON.parse(pendingBodies[i] ?? '{}').id}`)
      })
      unavailable += answers.filter((a) => a.statusCode === 503).length
      pendingBodies = pendingBodies.filter((_, i) => answers[i]?.statusCode !== 200)
    }
    expect(pendingBodies).toHaveLength(0)
    expect(unavailable).toBeGreaterThan(0)
    expect(streamFailures).toBeGreaterThan(0)
    expect(store.allEvents()).toHaveLength(200)

    // After the faults stop, the sweep completes whatever was left pending; state equals a fault-free run.
    store.failureRate = 0
    h.clock.advance(120_000)
    await sweepPendingEvents(h.deps, { limit: 1_000 })
    expect(store.allEvents().filter((e) => e.status === 'pending')).toHaveLength(0)
    const clean = createHarness()
    for (const b of bodies) await clean.deliver(b)
    for (let c = 0; c < 20; c++) {
      const a = await h.store.channels.get(`CH${c}`)
      const b = await clean.store.channels.get(`CH${c}`)
      expect(a?.orderKey).toBe(b?.orderKey)
      expect(a?.contentHash).toBe(b?.contentHash)
    }
  })
})

describe('replay', () => {
  it('re-applies stored events idempotently and reports the outcomes', async () => {
    const h = createHarness()
    await h.deliver(JSON.stringify(FIXTURE_EVENTS.channel_running))
    await h.deliver(JSON.stringify(FIXTURE_EVENTS.channel_live))
    await h.deliver(JSON.stringify(FIXTURE_EVENTS.waba_template_status_changed))
    const writes = h.store.stats.writes
    const published = h.changes().length
    const summary = await replayWebhooks(h.deps, { since: '2025-01-01T00:00:00Z' })
    // channel_running is older than the live state now: stale on replay, but its record stays applied.
    expect(summary).toEqual({
      scanned: 3,
      outcomes: { applied: 1, stale: 1, rejected: 0, unknown_type: 1 },
      failed: 0,
    })
    // Nothing changed: each channel fact is one conditional write, refused (no read, no item
    // changed), and nothing is published twice.
    expect(h.store.stats.writes - writes).toBe(2)
    expect(h.changes()).toHaveLength(published)
    expect(
      h.store
        .allEvents()
        .map((e) => e.status)
        .sort(),
    ).toEqual(['applied', 'applied', 'unknown_type'])
  })

  it('applies an event rejected as unmatched once its channel is known', async () => {
    const h = createHarness()
    await h.deliver(JSON.stringify(FIXTURE_EVENTS.template_messaging_enabled))
    expect(h.store.allEvents()[0]?.status).toBe('rejected')
    await h.deliver(JSON.stringify(FIXTURE_EVENTS.channel_live))
    const summary = await replayWebhooks(h.deps, { since: '2025-07-01T00:00:00Z' })
    expect(summary.outcomes.applied).toBe(2)
    expect((await h.store.channels.get('Pq7Wx2CH'))?.templateMessaging).toBe('enabled')
  })

  it('refuses a since that is not a date', async () => {
    const h = createHarness()
    await expect(replayWebhooks(h.deps, { since: 'yesterday' })).rejects.toThrow('ISO')
  })
})

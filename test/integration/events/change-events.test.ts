import { afterEach, describe, expect, it } from 'vitest'
import { type App, startApp } from '../../../local/app'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import type { ChangeEvent } from '../../../shared/domain/types'
import type { EventSink } from '../../../shared/ports'
import { signedFetch } from '../../support/signed-fetch'

let app: App | null = null
afterEach(async () => {
  await app?.close()
  app = null
})

/** A sink that refuses everything while `down`, and keeps what it accepts. */
function flakySink(): EventSink & { down: boolean; calls: number; events: ChangeEvent[] } {
  const inner = createMemoryEventSink()
  const sink = {
    down: true,
    calls: 0,
    events: inner.events,
    async publish(events: ChangeEvent[]) {
      sink.calls++
      if (sink.down) return { published: 0, error: new Error('sink down') }
      return inner.publish(events)
    },
  }
  return sink
}

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((ok) => setTimeout(ok, 25))
  if (!cond()) throw new Error(`timed out waiting for ${what}`)
}

async function start(sink: EventSink, retryAttempts: number): Promise<App> {
  app = await startApp({
    pollIntervalSeconds: null,
    simulator: { seed: 'empty', deliverWebhooks: false },
    sink,
    changeRetries: { retryAttempts, retryDelayMs: 20, maxRetryDelayMs: 100 },
  })
  app.simulator?.generate({ clients: 3, channels: 12 })
  return app
}

describe('change events from the local change stream', () => {
  it('publishes a change written while the sink is failing once the sink recovers', async () => {
    const sink = flakySink()
    const a = await start(sink, 1000)
    await a.poll()
    // The state is stored and the poll has answered; the publisher keeps retrying a refused batch.
    await until(() => sink.calls >= 3, 'publish attempts')
    expect(sink.events).toEqual([])
    const stored = (await a.deps.store.channels.list({ limit: 100 })).items
    expect(stored).toHaveLength(12)

    sink.down = false
    await a.settle()
    const discovered = sink.events.filter((e) => e.detailType === 'Channel Discovered')
    expect(discovered.map((e) => e.detail.channelId).sort()).toEqual(stored.map((c) => c.channelId).sort())
    expect(sink.events.filter((e) => e.detailType === 'Client Discovered')).toHaveLength(3)
    // Every id once: the refused attempts published nothing, so nothing is repeated.
    const ids = sink.events.map((e) => e.detail.eventId)
    expect(new Set(ids).size).toBe(ids.length)
    expect(a.changes.failureDepth()).toBe(0)
  })

  it('parks a batch in the failure queue after the retries, shows it in GET /status, and redrives it', async () => {
    const sink = flakySink()
    const a = await start(sink, 2)
    await a.poll()
    await a.settle()
    // Writes arrive over the run, so several batches may each exhaust their retries.
    const parked = a.changes.failureDepth()
    expect(parked).toBeGreaterThan(0)
    const before = (await (await signedFetch(a, '/status')).json()) as {
      changeEvents: { failureQueueDepth: number; published: number; lastPublishedAt: string | null }
    }
    expect(before.changeEvents).toMatchObject({
      failureQueueDepth: parked,
      published: 0,
      lastPublishedAt: null,
    })

    sink.down = false
    expect(a.changes.redrive()).toBeGreaterThan(0)
    await a.settle()
    expect(sink.events.filter((e) => e.detailType === 'Channel Discovered')).toHaveLength(12)
    const after = (await (await signedFetch(a, '/status')).json()) as {
      changeEvents: { failureQueueDepth: number; published: number; lagMs: number; lastChangeAt: string }
    }
    expect(after.changeEvents.failureQueueDepth).toBe(0)
    expect(after.changeEvents.published).toBe(sink.events.length)
    expect(after.changeEvents.lagMs).toBeGreaterThanOrEqual(0)
  })
})

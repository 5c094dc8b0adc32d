import { afterAll, describe, expect, it } from 'vitest'
import { type App, startApp } from '../../../local/app'
import { channelFromUpstream } from '../../../shared/domain/mapping'
import { upstreamChannelSchema } from '../../../shared/domain/upstream'

/**
 * The simulator with every real-world variant on for every object and delivery (numeric ids, nested
 * entities, undated webhooks, missing optional fields, unknown fields, version 1 channels,
 * channel_permission_granted), delivering signed webhooks to the local server: no delivery is
 * refused or rejected, and webhooks alone bring each channel to the lifecycle upstream has.
 */

let app: App | null = null
afterAll(async () => {
  await app?.close()
})

describe('simulator variance against the webhook receiver', () => {
  it('accepts and applies every variant, ending in the lifecycle upstream has', async () => {
    app = await startApp({
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: true, variance: 'on', varianceRate: 1 },
    })
    const sim = app.simulator
    if (!sim) throw new Error('the simulator is required')
    const channels: string[] = []
    for (let i = 0; i < 3; i++) {
      const onboarded = await sim.onboard({ channels: 2 })
      channels.push(...onboarded.channels.map((c) => c.id))
    }
    // Move each channel a different number of steps forward (delivering each step's webhook).
    for (const [i, id] of channels.entries()) for (let s = 0; s < 1 + i; s++) await sim.advance(id)
    // Bounded wait for the asynchronous deliveries, then for the applier.
    for (let i = 0; i < 100 && sim.deliveries().some((d) => d.status === 'pending'); i++) {
      await new Promise((r) => setTimeout(r, 20))
    }
    await app.settle()
    expect(sim.deliveries().length).toBeGreaterThan(channels.length)
    expect(sim.deliveries().every((d) => d.status === 200)).toBe(true)
    const counters = await app.deps.store.ops.getCounters('webhooks')
    expect(counters.rejected ?? 0).toBe(0)
    expect(counters.applied ?? 0).toBeGreaterThan(0)
    const now = new Date()
    for (const id of channels) {
      const upstream = (await app.deps.partnerApi.findChannel(id)) ?? null
      expect(upstream, id).not.toBeNull()
      const truth = channelFromUpstream(upstreamChannelSchema.parse(upstream), {
        now,
        source: 'poll',
        kind: 'snapshot',
      })
      expect((await app.deps.store.channels.get(id))?.lifecycle, id).toBe(truth.lifecycle)
    }
  })
})

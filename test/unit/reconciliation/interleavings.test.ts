import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { channelFromUpstream } from '../../../shared/domain/mapping'
import { orderKey } from '../../../shared/domain/ordering'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import type { IterateOptions } from '../../../shared/ports'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { applyWebhookEvent } from '../../../shared/services/webhooks/apply-webhook-event'
import { FakePartnerApi } from '../../fakes/partner-api'
import { makeDeps, upChannel, upClient } from './support'

/** Lifecycle steps a channel goes through upstream, each with its webhook event. */
const STEPS: { event: string; patch: Partial<UpstreamChannel> }[] = [
  { event: 'channel_created', patch: { status: 'created', account_mode: 'sandbox', integration: null } },
  { event: 'channel_submitted', patch: { status: 'submitted', account_mode: 'sandbox' } },
  { event: 'channel_ready', patch: { status: 'ready', account_mode: 'sandbox' } },
  { event: 'channel_running', patch: { status: 'running', account_mode: 'sandbox' } },
  { event: 'channel_live', patch: { status: 'live', account_mode: 'live' } },
  { event: 'cancellation_request', patch: { status: 'live', terminated_at: '2026-01-31T23:59:59Z' } },
  { event: 'cancellation_revoke', patch: { status: 'live', terminated_at: null } },
]

/** Version `v` of channel `n`: step v of STEPS, modified one minute after the previous version. */
function version(n: number, v: number): UpstreamChannel {
  const step = STEPS[v] as (typeof STEPS)[number]
  return upChannel(n, 1, {
    ...step.patch,
    modified_at: new Date(Date.UTC(2026, 0, 1, 0, v) + n).toISOString(),
  })
}

interface Fact {
  channel: UpstreamChannel
  kind: string
}

/** Records every channel a poll walk hands out, so the model knows which snapshots reached the store. */
class RecordingPartnerApi extends FakePartnerApi {
  readonly served: UpstreamChannel[] = []
  override iterateChannels(opts?: IterateOptions): AsyncIterable<UpstreamChannel[]> {
    const inner = super.iterateChannels(opts)
    const served = this.served
    return (async function* () {
      for await (const page of inner) {
        served.push(...structuredClone(page))
        yield page
      }
    })()
  }
}

const scenario = fc.record({
  /** Last upstream version reached by each of two channels. */
  last: fc.tuple(
    fc.integer({ min: 0, max: STEPS.length - 1 }),
    fc.integer({ min: 0, max: STEPS.length - 1 }),
  ),
  /** Per channel and version: is its webhook delivered (0 = lost, 1, or 2 = duplicated). */
  deliveries: fc.array(fc.integer({ min: 0, max: 2 }), {
    minLength: 2 * STEPS.length,
    maxLength: 2 * STEPS.length,
  }),
  polls: fc.integer({ min: 1, max: 3 }),
  pageSize: fc.integer({ min: 1, max: 2 }),
})

describe('webhook × poll interleavings', () => {
  it('never moves a stored order key backwards and ends in the state of the newest fact applied', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.scheduler(), async ({ last, deliveries, polls, pageSize }, s) => {
        const partnerApi = new RecordingPartnerApi()
        partnerApi.pageSize = pageSize
        partnerApi.clients.set(upClient(1).id, upClient(1))
        const deps = makeDeps({ partnerApi })
        const ids = [1, 2]
        for (const n of ids) partnerApi.channels.set(version(n, 0).id, version(n, 0))

        // Every store read and write of a channel is a point where the scheduler may switch tasks.
        const raw = { ...deps.store.channels }
        const highest = new Map<string, string>()
        const observe = async (id: string): Promise<void> => {
          const now = await raw.get(id)
          if (!now) return
          const before = highest.get(id)
          if (before !== undefined && now.orderKey < before) {
            throw new Error(`order key of ${id} moved back from ${before} to ${now.orderKey}`)
          }
          highest.set(id, now.orderKey)
        }
        deps.store.channels.get = s.scheduleFunction(async (id: string) => raw.get(id))
        const guardedPut = s.scheduleFunction(async (c: Parameters<typeof raw.putIfNewer>[0]) =>
          raw.putIfNewer(c),
        )
        deps.store.channels.putIfNewer = async (c) => {
          const out = await guardedPut(c)
          await observe(c.channelId)
          return out
        }
        deps.store.channels.markAbsence = async (id, key, runs, since) => {
          const out = await raw.markAbsence(id, key, runs, since)
          await observe(id)
          return out
        }

        const facts: Fact[] = []
        const tasks: Promise<unknown>[] = []
        // Upstream moves forward version by version, in order.
        for (const [i, n] of ids.entries()) {
          let chain: Promise<unknown> = Promise.resolve()
          for (let v = 1; v <= (last[i] ?? 0); v++) {
            chain = chain
              .then(() => s.schedule(Promise.resolve(), `upstream ${n} v${v}`))
              .then(() => partnerApi.channels.set(version(n, v).id, version(n, v)))
          }
          tasks.push(chain)
        }
        // Webhooks: any subset, duplicated, in any order.
        for (const [i, n] of ids.entries()) {
          for (let v = 0; v <= (last[i] ?? 0); v++) {
            const times = deliveries[i * STEPS.length + v] ?? 0
            const up = version(n, v)
            const kind = (STEPS[v] as (typeof STEPS)[number]).event
            for (let k = 0; k < times; k++) {
              facts.push({ channel: up, kind })
              tasks.push(
                s
                  .schedule(Promise.resolve(), `webhook ${n} ${kind}`)
                  .then(() =>
                    applyWebhookEvent(
                      deps,
                      { id: `${up.id}-${v}`, event: kind, data: up },
                      { receivedAt: deps.clock.now().toISOString() },
                    ),
                  ),
              )
            }
          }
        }
        for (let p = 0; p < polls; p++) {
          tasks.push(s.schedule(Promise.resolve(), `poll ${p}`).then(() => reconcile(deps)))
        }

        await s.waitFor(Promise.all(tasks))

        for (const up of partnerApi.served) facts.push({ channel: up, kind: 'snapshot' })
        for (const n of ids) {
          const id = version(n, 0).id
          const mine = facts.filter((f) => f.channel.id === id)
          const stored = await raw.get(id)
          if (mine.length === 0) {
            expect(stored).toBeNull()
            continue
          }
          const newest = mine.reduce((a, b) =>
            orderKey(b.channel.modified_at, b.kind) > orderKey(a.channel.modified_at, a.kind) ? b : a,
          )
          const model = channelFromUpstream(newest.channel, {
            now: deps.clock.now(),
            source: 'poll',
            kind: newest.kind,
          })
          expect(stored?.contentHash).toBe(model.contentHash)
          expect(stored?.lifecycle).toBe(model.lifecycle)
          expect(stored?.upstreamModifiedAt).toBe(newest.channel.modified_at)
        }

        // A last poll after everything settled (no scheduler any more) brings the store to upstream's state.
        deps.store.channels.get = raw.get
        deps.store.channels.putIfNewer = raw.putIfNewer
        await reconcile(deps)
        for (const n of ids) {
          const current = partnerApi.channels.get(version(n, 0).id) as UpstreamChannel
          const stored = await raw.get(current.id)
          expect(stored?.contentHash).toBe(
            channelFromUpstream(current, { now: deps.clock.now(), source: 'poll', kind: 'snapshot' })
              .contentHash,
          )
        }
      }),
      { numRuns: 500 },
    )
  }, 120_000)
})

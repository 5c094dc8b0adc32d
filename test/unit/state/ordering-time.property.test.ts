import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { channelFromUpstream } from '../../../shared/domain/mapping'
import { orderKey } from '../../../shared/domain/ordering'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import type { FakePartnerApi } from '../../fakes/partner-api'
import { upChannel, upClient } from '../reconciliation/support'
import { createHarness } from '../webhooks/support'

/**
 * Webhooks (dated, dated by the envelope only, undated, dated in the future) and polls (whose items
 * may be undated or future-dated too) in any interleaving, with the clock moving between them: the
 * stored channel always ends as the fact that is latest by the ordering rule (README, Ordering).
 */

const T0 = Date.parse('2025-06-01T00:00:00Z')
const FAR_FUTURE = '2099-01-01T00:00:00.000Z'
const iso = (ms: number): string => new Date(ms).toISOString()

/** Upstream versions of the channel, each with its webhook event. */
const STEPS: { event: string; patch: Partial<UpstreamChannel> }[] = [
  { event: 'channel_created', patch: { status: 'created', account_mode: 'sandbox', integration: null } },
  { event: 'channel_submitted', patch: { status: 'submitted', account_mode: 'sandbox' } },
  { event: 'channel_ready', patch: { status: 'ready', account_mode: 'sandbox' } },
  { event: 'channel_running', patch: { status: 'running', account_mode: 'sandbox' } },
  { event: 'channel_live', patch: { status: 'live', account_mode: 'live' } },
  { event: 'cancellation_request', patch: { status: 'live', terminated_at: '2026-01-31T23:59:59Z' } },
  { event: 'cancellation_revoke', patch: { status: 'live', terminated_at: null } },
]

type Dating = 'dated' | 'envelope' | 'undated' | 'future'

/** Version v as upstream holds it: modified v × 2 minutes after T0, dated as asked. */
function version(v: number, dating: Dating): UpstreamChannel {
  const step = STEPS[v] as (typeof STEPS)[number]
  const item: Record<string, unknown> = { ...upChannel(1, 1, step.patch) }
  delete item.modified_at
  if (dating === 'dated') item.modified_at = iso(T0 + v * 120_000)
  if (dating === 'future') item.modified_at = FAR_FUTURE
  return item as UpstreamChannel
}

type Action =
  | { type: 'webhook'; v: number; dating: Dating; wait: number }
  | { type: 'upstream'; v: number; dating: Dating }
  | { type: 'poll'; wait: number }

const dating = fc.constantFrom<Dating>('dated', 'envelope', 'undated', 'future')
const step = fc.integer({ min: 0, max: STEPS.length - 1 })
const wait = fc.integer({ min: 0, max: 4 })
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ type: fc.constant('webhook' as const), v: step, dating, wait }),
  fc.record({ type: fc.constant('upstream' as const), v: step, dating }),
  fc.record({ type: fc.constant('poll' as const), wait }),
)

/** One fact as applied, with what the rule needs. */
interface Fact {
  data: UpstreamChannel
  kind: string
  envelopeTime: string | null
  receivedAt: string
}

/** The ordering rule restated for the model. */
function ruleKey(f: Fact): string {
  const upstream = f.data.modified_at ?? f.envelopeTime
  const t = upstream === null || upstream === undefined ? f.receivedAt : iso(Date.parse(upstream))
  return orderKey(t > f.receivedAt ? f.receivedAt : t, f.kind)
}

describe('ordering time over webhooks and polls (property)', () => {
  it('ends in the state of the latest fact by the rule, whatever the dating and interleaving (300 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 14 }), async (actions) => {
        const h = createHarness()
        h.clock.set(iso(T0 + 60_000))
        const api = h.deps.partnerApi as FakePartnerApi
        api.clients.set(upClient(1).id, upClient(1))
        let upstream = version(0, 'dated')
        api.channels.set(upstream.id, upstream)
        const applied: Fact[] = []
        let n = 0
        for (const a of actions) {
          if (a.type === 'upstream') {
            upstream = version(a.v, a.dating)
            api.channels.set(upstream.id, upstream)
            continue
          }
          // At least a millisecond per action: no two facts are received at the same instant.
          h.clock.advance(1 + a.wait * 60_000)
          const receivedAt = h.clock.now().toISOString()
          if (a.type === 'poll') {
            // The model's poll reads everything upstream holds: a full sweep (an incremental run reads
            // only what is dated after the previous run, and these versions are dated arbitrarily).
            await reconcile({ ...h.deps, config: { ...h.deps.config, FULL_SWEEP_INTERVAL_SECONDS: 0 } })
            applied.push({ data: upstream, kind: 'snapshot', envelopeTime: null, receivedAt })
            continue
          }
          const data = version(a.v, a.dating === 'envelope' ? 'undated' : a.dating)
          const kind = (STEPS[a.v] as (typeof STEPS)[number]).event
          const envelopeTime = a.dating === 'undated' ? null : iso(T0 + a.v * 120_000)
          const body = JSON.stringify({
            id: `w${n++}`,
            event: kind,
            data,
            ...(envelopeTime === null ? {} : { timestamp: envelopeTime }),
          })
          expect((await h.deliver(body)).statusCode).toBe(200)
          applied.push({ data, kind, envelopeTime, receivedAt })
        }
        const stored = await h.store.channels.get(upstream.id)
        if (applied.length === 0) {
          expect(stored).toBeNull()
          return
        }
        // Greatest key wins; among equal keys the one applied last (an equal key with other content replaces).
        const latest = applied.reduce((a, b) => (ruleKey(b) >= ruleKey(a) ? b : a))
        const model = channelFromUpstream(latest.data, {
          now: h.clock.now(),
          source: 'webhook',
          kind: latest.kind,
          envelopeTime: latest.envelopeTime,
          receivedAt: latest.receivedAt,
        })
        expect({
          lifecycle: stored?.lifecycle,
          status: stored?.status,
          upstreamModifiedAt: stored?.upstreamModifiedAt,
          contentHash: stored?.contentHash,
        }).toEqual({
          lifecycle: model.lifecycle,
          status: model.status,
          upstreamModifiedAt: model.upstreamModifiedAt,
          contentHash: model.contentHash,
        })
        // No stored event is left pending; a fact is stale only when the rule says so.
        expect(h.store.allEvents().every((e) => e.status === 'applied' || e.status === 'stale')).toBe(true)
      }),
      { numRuns: 300 },
    )
  }, 120_000)
})

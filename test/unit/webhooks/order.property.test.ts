import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { channelFromUpstream } from '../../../shared/domain/mapping'
import { orderKey } from '../../../shared/domain/ordering'
import type { Channel } from '../../../shared/domain/types'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import { bodyOf, createHarness, FIXTURE_EVENTS, type Harness, lambdaContext, streamEvent } from './support'

const BASE = FIXTURE_EVENTS.channel_created?.data as UpstreamChannel
const CHANNEL = 'Ord3r1CH'
const T0 = Date.parse('2025-03-01T00:00:00Z')
const FUTURE_END = '2026-12-31T23:59:59Z'
const PAST_END = '2025-05-01T00:00:00Z'
const FAR_FUTURE = '2099-01-01T00:00:00.000Z'

/** The lifecycle of one channel as upstream reports it, step by step. */
const STEPS: { kind: string; patch: Partial<UpstreamChannel> }[] = [
  { kind: 'channel_submitted', patch: { status: 'submitted', account_mode: 'sandbox' } },
  { kind: 'channel_ready', patch: { status: 'ready', account_mode: 'sandbox' } },
  { kind: 'channel_running', patch: { status: 'running', account_mode: 'sandbox' } },
  { kind: 'channel_live', patch: { status: 'live', account_mode: 'live' } },
  {
    kind: 'cancellation_request',
    patch: { status: 'live', account_mode: 'live', terminated_at: FUTURE_END },
  },
  { kind: 'cancellation_revoke', patch: { status: 'live', account_mode: 'live', terminated_at: null } },
  {
    kind: 'cancellation_processed',
    patch: { status: 'terminated', account_mode: 'live', terminated_at: PAST_END },
  },
]

/**
 * How a delivery is dated: `modified_at` and envelope timestamp; the envelope timestamp only; not at
 * all (the .NET client's model); or a `modified_at` far in the future (a bad body).
 */
type Dating = 'dated' | 'envelope' | 'undated' | 'future'
const DATINGS: Dating[] = ['dated', 'envelope', 'undated', 'future']

interface Delivery {
  id: string
  kind: string
  /** The upstream time of the fact (minutes after T0), whether or not the body carries it. */
  time: string
  modifiedAt: string | null
  timestamp: string | null
  body: string
  data: Record<string, unknown>
}

const iso = (minutes: number): string => new Date(T0 + minutes * 60_000).toISOString()

function channelDelivery(
  id: string,
  kind: string,
  minutes: number,
  patch: Partial<UpstreamChannel>,
  dating: Dating,
): Delivery {
  const time = iso(minutes)
  const modifiedAt = dating === 'dated' ? time : dating === 'future' ? FAR_FUTURE : null
  const timestamp = dating === 'undated' ? null : time
  const data: Record<string, unknown> = { ...BASE, id: CHANNEL, ...patch }
  delete data.modified_at
  if (modifiedAt !== null) data.modified_at = modifiedAt
  const envelope = { id, event: kind, data, ...(timestamp === null ? {} : { timestamp }) }
  return { id, kind, time, modifiedAt, timestamp, data, body: JSON.stringify(envelope) }
}

function noticeDelivery(id: string, kind: string, minutes: number, violationType: string): Delivery {
  const time = iso(minutes)
  const data = { channel_id: CHANNEL, violation_type: violationType }
  return {
    id,
    kind,
    time,
    modifiedAt: null,
    timestamp: time,
    data,
    body: JSON.stringify({ id, event: kind, data, timestamp: time }),
  }
}

/**
 * The ordering rule restated for the model (README, Ordering): modified_at, else the envelope
 * timestamp, else the time stored; an upstream time after the time stored counts as the time stored.
 */
function ruleTime(d: Delivery, storedAt: string): string {
  const upstream = d.modifiedAt ?? d.timestamp
  if (upstream === null) return storedAt
  const t = new Date(upstream).toISOString()
  return t > storedAt ? storedAt : t
}

const scenario = fc
  .record({
    steps: fc.subarray(
      STEPS.map((_, i) => i),
      { minLength: 1 },
    ),
    gaps: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: STEPS.length, maxLength: STEPS.length }),
    dating: fc.array(fc.constantFrom(...DATINGS), { minLength: STEPS.length, maxLength: STEPS.length }),
    notices: fc.uniqueArray(
      fc.record({
        minute: fc.integer({ min: 0, max: 40 }),
        kind: fc.constantFrom(
          'account_violation',
          'account_restriction',
          'template_messaging_enabled',
          'template_messaging_disabled',
        ),
        type: fc.constantFrom('SPAM', 'SCAM', 'FRAUD'),
      }),
      { maxLength: 5, selector: (n) => n.minute },
    ),
    duplicates: fc.array(fc.nat(), { maxLength: 5 }),
    /** After which deliveries the stream hands the new events to the applier (as one batch). */
    flushes: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
    /** Minutes the clock moves before each post: receipt times interleave with the upstream times. */
    waits: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 16, maxLength: 16 }),
  })
  .map((s) => {
    const deliveries: Delivery[] = []
    let minute = 1
    for (const i of s.steps) {
      minute += s.gaps[i] ?? 0
      const step = STEPS[i]
      if (step)
        deliveries.push(channelDelivery(`c${i}`, step.kind, minute, step.patch, s.dating[i] ?? 'dated'))
    }
    s.notices.forEach((n, i) => {
      deliveries.push(noticeDelivery(`n${i}`, n.kind, n.minute, n.type))
    })
    const withDuplicates = [
      ...deliveries,
      ...s.duplicates.map((d) => deliveries[d % deliveries.length] as Delivery),
    ]
    return { deliveries, withDuplicates, flushes: s.flushes, waits: s.waits }
  })
  .chain(({ deliveries, withDuplicates, flushes, waits }) =>
    fc
      .shuffledSubarray(withDuplicates, {
        minLength: withDuplicates.length,
        maxLength: withDuplicates.length,
      })
      .map((order) => ({ deliveries, order, flushes, waits })),
  )

/**
 * Hands the queued keys to the applier as one stream batch and retries the records it reports as
 * failed, as the event source mapping would; bounded.
 */
async function flush(h: Harness, queued: string[]): Promise<void> {
  let keys = queued.splice(0)
  for (let attempt = 0; attempt < 5 && keys.length > 0; attempt++) {
    const batch = streamEvent(keys)
    const { batchItemFailures } = await h.applier(batch, lambdaContext())
    const failed = new Set(batchItemFailures.map((f) => f.itemIdentifier))
    keys = batch.Records.filter((r) => failed.has(r.dynamodb?.SequenceNumber ?? '')).map(
      (r) => r.dynamodb?.Keys?.eventKey?.S ?? '',
    )
  }
  expect(keys).toEqual([])
}

/**
 * The model: each kind of fact is decided by its greatest order key under the ordering rule, whatever
 * the delivery order; a cancellation_processed that was applied stays (it is sticky by design).
 */
function model(
  deliveries: Delivery[],
  seed: Delivery,
  storedAt: ReadonlyMap<string, string>,
  processedApplied: boolean,
  now: Date,
) {
  const facts = [seed, ...deliveries.filter((d) => d.id.startsWith('c'))]
  const keyOf = (d: Delivery): string => orderKey(ruleTime(d, storedAt.get(d.id) as string), d.kind)
  const last = facts.reduce((a, b) => (keyOf(b) > keyOf(a) ? b : a))
  const channel = channelFromUpstream(last.data as UpstreamChannel, {
    now,
    source: 'webhook',
    kind: last.kind,
    envelopeTime: last.timestamp,
    receivedAt: storedAt.get(last.id) as string,
    previous: { cancellationProcessed: processedApplied } as Channel,
  })
  const violations = deliveries.filter((d) => d.kind.startsWith('account_'))
  const newestViolation = violations.reduce<Delivery | null>(
    (a, b) => (a === null || keyOf(b) > keyOf(a) ? b : a),
    null,
  )
  const templates = deliveries.filter((d) => d.kind.startsWith('template_messaging_'))
  const newestTemplate = templates.reduce<Delivery | null>(
    (a, b) => (a === null || keyOf(b) > keyOf(a) ? b : a),
    null,
  )
  return {
    status: channel.status,
    accountMode: channel.accountMode,
    terminatedAt: channel.terminatedAt,
    lifecycle: channel.lifecycle,
    orderKey: channel.orderKey,
    cancellationProcessed: channel.cancellationProcessed,
    violation: newestViolation
      ? {
          type: newestViolation.data.violation_type,
          restricted: violations.some((v) => v.kind === 'account_restriction'),
          at: ruleTime(newestViolation, storedAt.get(newestViolation.id) as string),
        }
      : null,
    templateMessaging: newestTemplate
      ? newestTemplate.kind === 'template_messaging_enabled'
        ? 'enabled'
        : 'disabled'
      : null,
  }
}

describe('order safety (property)', () => {
  it('ends in the model state whatever the order, dating, duplicates and stream batching, and the version never decreases (500 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ deliveries, order, flushes, waits }) => {
        const h = createHarness()
        // Receipt times fall among the upstream times (T0 + 1 … 40 minutes), so capping and undated
        // facts land both before and after dated ones.
        h.clock.set(iso(5))
        const seed = channelDelivery(
          'seed',
          'channel_created',
          0,
          { status: 'created', account_mode: 'sandbox' },
          'dated',
        )
        const storedAt = new Map<string, string>([['seed', h.clock.now().toISOString()]])
        expect((await h.deliver(seed.body)).statusCode).toBe(200)
        let version = (await h.store.channels.get(CHANNEL))?.orderKey ?? ''
        const queued: string[] = []
        for (const [i, d] of order.entries()) {
          // At least a millisecond per post: two posts are never received at the same instant.
          h.clock.advance(1 + (waits[i % waits.length] ?? 0) * 60_000)
          if (!storedAt.has(d.id)) storedAt.set(d.id, h.clock.now().toISOString())
          const res = await h.post(d.body)
          expect(res.statusCode).toBe(200)
          if (bodyOf(res).duplicate === false) queued.push(bodyOf(res).eventKey as string)
          if (flushes[i % flushes.length] || i === order.length - 1) await flush(h, queued)
          const now = (await h.store.channels.get(CHANNEL))?.orderKey ?? ''
          expect(now >= version).toBe(true)
          version = now
        }
        const stored = await h.store.channels.get(CHANNEL)
        const processed = deliveries.find((d) => d.kind === 'cancellation_processed')
        const processedApplied =
          processed !== undefined && (await h.store.events.get(`id:${processed.id}`))?.status === 'applied'
        expect({
          status: stored?.status,
          accountMode: stored?.accountMode,
          terminatedAt: stored?.terminatedAt,
          lifecycle: stored?.lifecycle,
          orderKey: stored?.orderKey,
          cancellationProcessed: stored?.cancellationProcessed,
          violation: stored?.violation,
          templateMessaging: stored?.templateMessaging,
        }).toEqual(model(deliveries, seed, storedAt, processedApplied, h.clock.now()))
        // One stored event per distinct delivery, none left pending; one discovery.
        const events = h.store.allEvents()
        expect(events).toHaveLength(deliveries.length + 1)
        expect(events.every((e) => e.status !== 'pending')).toBe(true)
        expect(h.changes().filter((c) => c.detailType === 'Channel Discovered')).toHaveLength(1)
      }),
      { numRuns: 500 },
    )
  }, 60_000)
})

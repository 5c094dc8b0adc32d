import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import type { CancellationRecord, WebhookEventRecord } from '../../../shared/domain/types'
import type { UpstreamChannel } from '../../../shared/domain/upstream'
import type { IterateOptions } from '../../../shared/ports'
import { CHANNEL_SORT, POLL_LEASE, reconcile } from '../../../shared/services/reconciliation/reconcile'
import { FakePartnerApi } from '../../fakes/partner-api'
import { countEntityCalls, makeDeps, seedUpstream, upChannel } from './support'

/** A fake upstream whose channel walk leaves out the ids in `hidden` (a page shifted under the walk). */
class HidingPartnerApi extends FakePartnerApi {
  readonly hidden = new Set<string>()
  override iterateChannels(opts?: IterateOptions): AsyncIterable<UpstreamChannel[]> {
    const inner = super.iterateChannels(opts)
    const hidden = this.hidden
    return (async function* () {
      for await (const page of inner) yield page.filter((c) => !hidden.has(c.id))
    })()
  }
}

describe('reconcile', () => {
  it('stores every client and channel on the first run and publishes discovery events', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 3, 10)
    const summary = await reconcile(deps)

    expect(summary).toMatchObject({
      outcome: 'succeeded',
      complete: true,
      error: null,
      seen: { clients: 3, channels: 10 },
      changed: { clients: 3, channels: 10 },
      missing: { clients: 0, channels: 0 },
    })
    const stored = await deps.store.channels.get('H00001CH')
    expect(stored).toMatchObject({ clientId: 'C00001CL', lifecycle: 'live', source: 'poll', absentRuns: 0 })
    const types = deps.changes.events.map((e) => e.detailType)
    expect(types.filter((t) => t === 'Client Discovered')).toHaveLength(3)
    expect(types.filter((t) => t === 'Channel Discovered')).toHaveLength(10)
    expect((await deps.store.ops.getRunSummaries()).last).toEqual(summary)
  })

  it('asks the Partner API for a stable sort, the configured page size and concurrency', async () => {
    const deps = makeDeps({ env: { POLL_PAGE_SIZE: '250', POLL_CONCURRENCY: '6' } })
    seedUpstream(deps.partnerApi, 1, 1)
    await reconcile(deps)
    const call = deps.partnerApi.calls.find((c) => c.method === 'iterateChannels')
    const opts = call?.args[0] as IterateOptions | undefined
    expect(opts).toMatchObject({ sort: CHANNEL_SORT, limit: 250, concurrency: 6 })
    expect(opts?.budgetMs).toBeLessThanOrEqual(deps.config.POLL_BUDGET_MS)
  })

  it('makes zero writes and zero item reads on an unchanged re-run', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 4, 40)
    await reconcile(deps)
    const counted = countEntityCalls(deps.store)
    const writesBefore = deps.store.stats.writes
    const eventsBefore = deps.changes.events.length

    const summary = await reconcile(deps)

    expect(summary.changed).toEqual({ clients: 0, channels: 0 })
    expect(counted.writes()).toBe(0)
    expect(counted.reads()).toBe(0)
    // Only the run's own records: lease taken, reconciliation state (watermark) saved, summary saved,
    // lease released.
    expect(deps.store.stats.writes - writesBefore).toBe(4)
    expect(deps.changes.events.length).toBe(eventsBefore)
  })

  it('writes exactly the channels whose content changed upstream', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 2, 20)
    await reconcile(deps)
    const counted = countEntityCalls(deps.store)
    for (const id of ['H00003CH', 'H00011CH']) {
      const ch = deps.partnerApi.channels.get(id) as UpstreamChannel
      deps.partnerApi.channels.set(id, {
        ...ch,
        account_mode: 'sandbox',
        modified_at: '2025-07-01T00:00:00.000Z',
      })
    }
    const summary = await reconcile(deps)
    expect(summary.changed.channels).toBe(2)
    expect(counted.writes()).toBe(2)
    expect((await deps.store.channels.get('H00003CH'))?.accountMode).toBe('sandbox')
    expect(deps.changes.events.at(-1)).toMatchObject({
      detailType: 'Channel Lifecycle Changed',
      detail: { from: 'live', source: 'poll' },
    })
  })

  it('keeps sticky fields and writes nothing when only a sticky field makes the hashes differ', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 1, 3)
    await reconcile(deps)
    const stored = await deps.store.channels.get('H00002CH')
    if (!stored) throw new Error('not stored')
    const { rehash } = await import('../../../shared/domain/mapping')
    await deps.store.channels.putIfVersion(
      rehash({ ...stored, violation: { type: 'spam', restricted: true, at: '2026-01-10T00:00:00.000Z' } }),
      stored.orderKey,
    )
    const counted = countEntityCalls(deps.store)

    const summary = await reconcile(deps)

    expect(summary.changed.channels).toBe(0)
    expect(counted.writes()).toBe(0)
    expect(counted.reads()).toBe(1)
    expect((await deps.store.channels.get('H00002CH'))?.violation).toMatchObject({ type: 'spam' })
  })

  it('writes a channel again once its terminated_at has passed', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 1, 2)
    const ch = deps.partnerApi.channels.get('H00001CH') as UpstreamChannel
    deps.partnerApi.channels.set('H00001CH', { ...ch, terminated_at: '2026-01-31T23:59:59Z' })
    await reconcile(deps)
    expect((await deps.store.channels.get('H00001CH'))?.lifecycle).toBe('pending_deletion')

    deps.clock.set('2026-02-01T00:10:00.000Z')
    const counted = countEntityCalls(deps.store)
    const summary = await reconcile(deps)

    expect(summary.changed.channels).toBe(1)
    expect(counted.writes()).toBe(1)
    expect((await deps.store.channels.get('H00001CH'))?.lifecycle).toBe('terminated')
    expect(deps.changes.events.at(-1)).toMatchObject({
      detailType: 'Channel Lifecycle Changed',
      detail: { channelId: 'H00001CH', from: 'pending_deletion', to: 'terminated' },
    })
  })

  it('never overwrites a newer stored state with an older snapshot', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 1, 1)
    await reconcile(deps)
    const stored = await deps.store.channels.get('H00001CH')
    if (!stored) throw new Error('not stored')
    await deps.store.channels.putIfNewer({
      ...stored,
      orderKey: '2030-01-01T00:00:00.000Z#50',
      contentHash: 'newer',
      accountMode: 'sandbox',
    })
    const summary = await reconcile(deps)
    expect(summary.changed.channels).toBe(0)
    expect((await deps.store.channels.get('H00001CH'))?.orderKey).toBe('2030-01-01T00:00:00.000Z#50')
  })

  describe('missing items', () => {
    it('marks a channel missing only on the second complete run without it', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 5)
      await reconcile(deps)
      deps.partnerApi.channels.delete('H00004CH')

      const first = await reconcile(deps, { absenceLookups: 0 })
      expect(first.missing.channels).toBe(0)
      expect(await deps.store.channels.get('H00004CH')).toMatchObject({ absentRuns: 1, missingSince: null })

      deps.clock.advance(60_000)
      const second = await reconcile(deps, { absenceLookups: 0 })
      expect(second.missing.channels).toBe(1)
      expect(await deps.store.channels.get('H00004CH')).toMatchObject({
        absentRuns: 2,
        missingSince: '2026-01-15T10:01:00.000Z',
      })

      const counted = countEntityCalls(deps.store)
      await reconcile(deps, { absenceLookups: 0 })
      expect(counted.writes()).toBe(0)
    })

    it('marks a channel missing at once when a lookup by id confirms it is gone', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 5)
      await reconcile(deps)
      deps.partnerApi.channels.delete('H00002CH')
      const summary = await reconcile(deps)
      expect(summary.missing.channels).toBe(1)
      expect(deps.partnerApi.calls.filter((c) => c.method === 'findChannel').map((c) => c.args[0])).toEqual([
        'H00002CH',
      ])
      expect((await deps.store.channels.get('H00002CH'))?.missingSince).toBe('2026-01-15T10:00:00.000Z')
    })

    it('recovers a channel the walk skipped (pagination drift) instead of counting it absent', async () => {
      const partnerApi = new HidingPartnerApi()
      const deps = makeDeps({ partnerApi })
      seedUpstream(partnerApi, 1, 5)
      await reconcile(deps)
      partnerApi.hidden.add('H00003CH')
      const counted = countEntityCalls(deps.store)

      const summary = await reconcile(deps)

      expect(summary.missing.channels).toBe(0)
      expect(summary.seen.channels).toBe(5)
      expect(counted.writes()).toBe(0)
      expect(await deps.store.channels.get('H00003CH')).toMatchObject({ absentRuns: 0, missingSince: null })
    })

    it('resets the absence count when the channel is seen again', async () => {
      const partnerApi = new HidingPartnerApi()
      const deps = makeDeps({ partnerApi })
      seedUpstream(partnerApi, 1, 3)
      await reconcile(deps)
      partnerApi.hidden.add('H00001CH')
      await reconcile(deps, { absenceLookups: 0 })
      expect((await deps.store.channels.get('H00001CH'))?.absentRuns).toBe(1)

      partnerApi.hidden.clear()
      const counted = countEntityCalls(deps.store)
      const summary = await reconcile(deps, { absenceLookups: 0 })
      expect(summary.changed.channels).toBe(0)
      expect(counted.writes()).toBe(1)
      expect(await deps.store.channels.get('H00001CH')).toMatchObject({ absentRuns: 0, missingSince: null })
    })

    it('clears missingSince when a missing channel comes back', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 2)
      await reconcile(deps)
      const gone = deps.partnerApi.channels.get('H00002CH') as UpstreamChannel
      deps.partnerApi.channels.delete('H00002CH')
      await reconcile(deps)
      expect((await deps.store.channels.get('H00002CH'))?.missingSince).not.toBeNull()

      deps.partnerApi.channels.set(gone.id, gone)
      await reconcile(deps)
      expect(await deps.store.channels.get('H00002CH')).toMatchObject({ absentRuns: 0, missingSince: null })
    })

    it('marks a client missing when a lookup confirms it is gone, and clears it when it returns', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 3, 3)
      await reconcile(deps)
      const gone = deps.partnerApi.clients.get('C00003CL')
      deps.partnerApi.clients.delete('C00003CL')
      const summary = await reconcile(deps)
      expect(summary.missing.clients).toBe(1)
      expect((await deps.store.clients.get('C00003CL'))?.missingSince).toBe('2026-01-15T10:00:00.000Z')

      const counted = countEntityCalls(deps.store)
      await reconcile(deps)
      expect(counted.writes()).toBe(0)

      if (gone) deps.partnerApi.clients.set(gone.id, gone)
      await reconcile(deps)
      expect((await deps.store.clients.get('C00003CL'))?.missingSince).toBeNull()
    })

    it('marks nothing missing after a run that did not complete', async () => {
      const partnerApi = new (class extends HidingPartnerApi {
        failAfterFirstPage = false
        override iterateChannels(opts?: IterateOptions): AsyncIterable<UpstreamChannel[]> {
          const inner = super.iterateChannels(opts)
          const fail = this.failAfterFirstPage
          return (async function* () {
            let pages = 0
            for await (const page of inner) {
              if (fail && pages++ > 0) {
                throw new UpstreamError('partner API GET /channels failed with 503', {
                  upstreamStatus: 503,
                  retryable: true,
                })
              }
              yield page
            }
          })()
        }
      })()
      partnerApi.pageSize = 2
      const deps = makeDeps({ partnerApi })
      seedUpstream(partnerApi, 1, 6)
      await reconcile(deps)
      partnerApi.failAfterFirstPage = true
      partnerApi.channels.delete('H00006CH')

      await expect(reconcile(deps, { absenceLookups: 0 })).rejects.toThrow(/503/)
      await expect(reconcile(deps, { absenceLookups: 0 })).rejects.toThrow(/503/)

      expect(await deps.store.channels.get('H00006CH')).toMatchObject({ absentRuns: 0, missingSince: null })
      expect((await deps.store.ops.getRunSummaries()).last).toMatchObject({
        outcome: 'failed',
        complete: false,
      })
      expect(partnerApi.callCount('findChannel')).toBe(0)
    })
  })

  describe('failures', () => {
    it('saves a failed summary, releases the lease, then throws', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 1)
      const boom = new UpstreamError('partner API GET /partners/testPA/clients failed with 503', {
        upstreamStatus: 503,
        retryable: true,
      })
      deps.partnerApi.failNext('iterateClients', () => boom)
      const seen: string[] = []

      await expect(reconcile(deps, { onSummary: (s) => void seen.push(s.outcome) })).rejects.toBe(boom)

      const { last, lastSuccess } = await deps.store.ops.getRunSummaries()
      expect(last).toMatchObject({ outcome: 'failed', complete: false, error: expect.stringMatching(/503/) })
      expect(lastSuccess).toBeNull()
      expect(seen).toEqual(['failed'])
      expect(await deps.store.ops.acquireLease(POLL_LEASE, 'someone-else', deps.clock.now(), 1000)).toBe(true)
    })

    it('saves a sweep that reaches its budget and continues it in the next run, keeping what it wrote', async () => {
      const deps = makeDeps({ env: { POLL_BUDGET_MS: '1000' } })
      deps.partnerApi.pageSize = 2
      seedUpstream(deps.partnerApi, 1, 6)
      const slowClock = deps.clock
      const original = deps.store.channels.putIfNewer
      deps.store.channels.putIfNewer = async (c) => {
        slowClock.advance(400)
        return original(c)
      }
      const first = await reconcile(deps)
      expect(first).toMatchObject({ outcome: 'succeeded', complete: false, mode: 'full' })
      expect(first.changed.channels).toBeGreaterThan(0)
      expect(first.changed.channels).toBeLessThan(6)
      expect(first.sweep).toMatchObject({ phase: 'channels', invocations: 1 })
      expect((await deps.store.ops.getReconcileState())?.sweep?.offset).toBe(first.changed.channels)

      deps.store.channels.putIfNewer = original
      const second = await reconcile(deps)
      expect(second).toMatchObject({ outcome: 'succeeded', complete: true })
      expect(second.sweep).toMatchObject({ sweepId: first.sweep?.sweepId, phase: 'done', invocations: 2 })
      expect(second.changed.channels).toBe(6 - first.changed.channels)
      expect(second.sweep?.changed).toEqual({ clients: 1, channels: 6 })
      // Resumed where the first stopped: the first run's channels were not read again.
      expect(second.seen.channels).toBe(6 - first.changed.channels)
    })

    it('keeps a successful outcome when the summary hook (metrics) fails', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 1)
      const summary = await reconcile(deps, {
        onSummary: () => {
          throw new Error('metrics unavailable')
        },
      })
      expect(summary.outcome).toBe('succeeded')
    })

    it('still throws when the summary itself cannot be saved', async () => {
      const deps = makeDeps()
      deps.store.ops.saveRunSummary = async () => {
        throw new Error('table unavailable')
      }
      await expect(reconcile(deps)).rejects.toThrow('table unavailable')
    })
  })

  describe('lease', () => {
    it('skips the run, says so and does nothing while another run holds the lease', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 1)
      await deps.store.ops.acquireLease(POLL_LEASE, 'other-run', deps.clock.now(), deps.config.POLL_LEASE_MS)
      const info = vi.spyOn(deps.logger, 'info')

      const summary = await reconcile(deps)

      expect(summary.outcome).toBe('skipped')
      expect(info).toHaveBeenCalledWith('another run holds the lease', expect.anything())
      expect(deps.partnerApi.calls).toHaveLength(0)
      expect(await deps.store.channels.get('H00001CH')).toBeNull()
    })

    it('takes over the lease of a crashed run once it has expired', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 1)
      await deps.store.ops.acquireLease(
        POLL_LEASE,
        'crashed-run',
        deps.clock.now(),
        deps.config.POLL_LEASE_MS,
      )
      deps.clock.advance(deps.config.POLL_LEASE_MS + 1)
      expect((await reconcile(deps)).outcome).toBe('succeeded')
    })

    it('lets exactly one of 2 to 10 concurrent invocations do the work', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 2, max: 10 }), async (n) => {
          const deps = makeDeps()
          seedUpstream(deps.partnerApi, 2, 8)
          const summaries = await Promise.all(Array.from({ length: n }, () => reconcile(deps)))
          expect(summaries.filter((s) => s.outcome === 'succeeded')).toHaveLength(1)
          expect(summaries.filter((s) => s.outcome === 'skipped')).toHaveLength(n - 1)
          expect(deps.partnerApi.callCount('iterateChannels')).toBe(1)
          expect(deps.changes.events.filter((e) => e.detailType === 'Channel Discovered')).toHaveLength(8)
        }),
        { numRuns: 30 },
      )
    })
  })

  describe('side duties', () => {
    it('confirms a pending cancellation when terminated_at appears', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 2)
      await reconcile(deps)
      const record: CancellationRecord = {
        channelId: 'H00002CH',
        clientId: 'C00001CL',
        state: 'requested',
        requestedBy: 'arn:aws:iam::123456789012:user/ops',
        requestedAt: '2026-01-15T09:00:00.000Z',
        idempotencyKey: 'k1',
        reason: null,
        terminatesAt: null,
        confirmedAt: null,
        upstreamStatus: 200,
        upstreamMessage: null,
        updatedAt: '2026-01-15T09:00:00.000Z',
        inFlight: null,
        version: 1,
      }
      await deps.store.cancellations.put(record, null)
      const ch = deps.partnerApi.channels.get('H00002CH') as UpstreamChannel
      deps.partnerApi.channels.set('H00002CH', {
        ...ch,
        terminated_at: '2026-01-31T23:59:59Z',
        modified_at: '2026-01-15T09:30:00.000Z',
      })

      const summary = await reconcile(deps)

      expect(summary.confirmedCancellations).toBe(1)
      expect(await deps.store.cancellations.get('H00002CH')).toMatchObject({
        state: 'confirmed',
        terminatesAt: '2026-01-31T23:59:59Z',
      })
      expect(deps.changes.events.map((e) => e.detailType)).toContain('Cancellation State Changed')
    })

    it('applies webhook events that were stored but never applied', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 1)
      const record: WebhookEventRecord = {
        eventKey: 'evt-1',
        eventType: 'channel_created',
        body: JSON.stringify({ id: 'evt-1', event: 'channel_created', data: upChannel(77, 1) }),
        receivedAt: '2026-01-15T09:00:00.000Z',
        status: 'pending',
        reason: null,
        appliedAt: null,
        expiresAt: 0,
        deliveries: 1,
      }
      await deps.store.events.putNew(record)

      const summary = await reconcile(deps)

      expect(summary.swept).toBe(1)
      expect((await deps.store.events.get('evt-1'))?.status).not.toBe('pending')
      expect(await deps.store.channels.get('H00077CH')).not.toBeNull()
    })

    it('publishes nothing itself: its writes carry the change events', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 250)
      deps.partnerApi.pageSize = 250
      const publish = vi.spyOn(deps.events, 'publish')
      await reconcile(deps)
      expect(publish).not.toHaveBeenCalled()
      expect(deps.changes.events).toHaveLength(251)
    })

    it('counts upstream calls and retries of the run only', async () => {
      const deps = makeDeps()
      seedUpstream(deps.partnerApi, 1, 1)
      await deps.partnerApi.getPartner()
      const summary = await reconcile(deps)
      expect(summary.calls).toBe(2)
      expect(summary.retries).toBe(0)
    })
  })
})

import { describe, expect, it, vi } from 'vitest'
import { buildPollerHandler } from '../../../functions/poller/handler'
import { UpstreamError } from '../../../shared/domain/errors'
import { POLL_LEASE } from '../../../shared/services/reconciliation/reconcile'
import { lambdaContext } from '../../support/lambda'
import { makeDeps, seedUpstream } from './support'

const context = lambdaContext('poller', 300_000)

const scheduledEvent = { 'detail-type': 'Scheduled Event', source: 'aws.scheduler', detail: {} }

function metricsOf(spy: { mock: { calls: unknown[][] } }): Record<string, number> {
  return Object.fromEntries(spy.mock.calls.map((c) => [c[0] as string, c[2] as number]))
}

describe('poller handler', () => {
  it('runs one reconciliation and emits a metric for every summary figure', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 2, 5)
    const addMetric = vi.spyOn(deps.metrics, 'addMetric')
    const publish = vi.spyOn(deps.metrics, 'publishStoredMetrics')

    const summary = await buildPollerHandler(deps)(scheduledEvent, context)

    expect(summary).toMatchObject({ outcome: 'succeeded', seen: { clients: 2, channels: 5 } })
    expect(metricsOf(addMetric)).toMatchObject({
      RunSucceeded: 1,
      RunFailed: 0,
      RunSkipped: 0,
      RunComplete: 1,
      Pages: 2,
      UpstreamCalls: 2,
      UpstreamRetries: 0,
      ClientsSeen: 2,
      ChannelsSeen: 5,
      ClientsChanged: 2,
      ChannelsChanged: 5,
      ClientsMissing: 0,
      ChannelsMissing: 0,
      EventsSwept: 0,
      CancellationsConfirmed: 0,
      ItemsQuarantined: 0,
      WarningItemsKeyMissing: 0,
      WarningTotalMismatch: 0,
      WarningMassMissingHalted: 0,
      WarningQuarantinedItems: 0,
      WarningSortFallback: 0,
      RunIncremental: 0,
      SecondsSinceLastSuccess: 0,
    })
    expect(metricsOf(addMetric)).toHaveProperty('RunDuration')
    expect(publish).toHaveBeenCalled()
  })

  it('throws a failed run after emitting its metrics, with the time since the last success', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 1, 1)
    const handler = buildPollerHandler(deps)
    await handler(scheduledEvent, context)
    deps.clock.advance(120_000)
    deps.partnerApi.failNext(
      'iterateClients',
      () => new UpstreamError('partner API failed with 503', { upstreamStatus: 503, retryable: true }),
    )
    const addMetric = vi.spyOn(deps.metrics, 'addMetric')

    await expect(handler(scheduledEvent, context)).rejects.toThrow(/503/)

    expect(metricsOf(addMetric)).toMatchObject({
      RunFailed: 1,
      RunSucceeded: 0,
      SecondsSinceLastSuccess: 120,
    })
    expect((await deps.store.ops.getRunSummaries()).last?.outcome).toBe('failed')
  })

  it('emits the halted missing detection as a metric the alarm reads', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 2, 20)
    const handler = buildPollerHandler(deps)
    await handler(scheduledEvent, context)
    deps.partnerApi.channels.clear()
    const addMetric = vi.spyOn(deps.metrics, 'addMetric')
    const summary = await handler(scheduledEvent, context)
    expect(summary).toMatchObject({ outcome: 'succeeded', warnings: ['mass_missing_halted'] })
    expect(metricsOf(addMetric)).toMatchObject({ WarningMassMissingHalted: 1, ChannelsMissing: 0 })
  })

  it('answers a skipped summary while another run holds the lease', async () => {
    const deps = makeDeps()
    await deps.store.ops.acquireLease(POLL_LEASE, 'other', deps.clock.now(), 60_000)
    const addMetric = vi.spyOn(deps.metrics, 'addMetric')
    const summary = await buildPollerHandler(deps)(scheduledEvent, context)
    expect(summary.outcome).toBe('skipped')
    expect(metricsOf(addMetric)).toMatchObject({ RunSkipped: 1, RunSucceeded: 0 })
    expect(metricsOf(addMetric)).not.toHaveProperty('ChannelsSeen')
  })
})

import { startApp } from '../../local/app'
import type { ChangeEvent } from '../../shared/domain/types'
import type { EventSink } from '../../shared/ports'
import { applyChannel } from '../../shared/services/state/apply-upstream'
import { type Bench, type BenchTable, percentile, round } from './harness'

/**
 * Change events from the local change stream: the delay from a state write to its event in the sink
 * (the publisher runs in the same process, as the stream's Lambda does in AWS), and what publishing
 * from the stream costs per change against publishing inline (one PutEvents call per changing write).
 */
export const bench: Bench = {
  name: 'change-events',
  async run(): Promise<BenchTable[]> {
    const published: { event: ChangeEvent; at: number }[] = []
    let putEvents = 0
    const sink: EventSink = {
      async publish(events) {
        // What the EventBridge sink would send: 10 entries per call.
        putEvents += Math.ceil(events.length / 10)
        const at = Date.now()
        for (const event of events) published.push({ event, at })
        return { published: events.length }
      },
    }
    const app = await startApp({
      pollIntervalSeconds: null,
      simulator: { seed: 'empty', deliverWebhooks: false },
      sink,
    })
    const rows: (string | number)[][] = []
    try {
      // 1. A burst: a first reconciliation of 2,000 channels of 200 clients.
      app.simulator?.generate({ clients: 200, channels: 2000 })
      const before = app.changes.invocations()
      await app.poll()
      await app.settle()
      const burst = published.splice(0)
      const delays = burst.map((p) => p.at - Date.parse(p.event.detail.at))
      const invocations = app.changes.invocations() - before
      rows.push([
        'burst: first poll, 2,200 new items',
        burst.length,
        round(percentile(delays, 50)),
        round(percentile(delays, 99)),
        round(putEvents / burst.length, 3),
        round(invocations / burst.length, 3),
      ])

      // 2. Quiet: one lifecycle change at a time, the publisher idle in between.
      putEvents = 0
      const quietBefore = app.changes.invocations()
      const up = await app.deps.partnerApi.listChannels({ limit: 50 })
      for (const [i, c] of up.items.entries()) {
        const moved = {
          ...c,
          modified_at: new Date(Date.now() + 86_400_000 + i).toISOString(),
          terminated_at: '2030-01-01T00:00:00Z',
        }
        await applyChannel(app.deps, moved, { source: 'webhook', kind: 'cancellation_request' })
        await app.settle()
      }
      const quiet = published.splice(0)
      const quietDelays = quiet.map((p) => p.at - Date.parse(p.event.detail.at))
      const quietInvocations = app.changes.invocations() - quietBefore
      rows.push([
        'quiet: one change at a time',
        quiet.length,
        round(percentile(quietDelays, 50)),
        round(percentile(quietDelays, 99)),
        round(putEvents / Math.max(1, quiet.length), 3),
        round(quietInvocations / Math.max(1, quiet.length), 3),
      ])
    } finally {
      await app.close()
    }
    return [
      {
        title: 'Change events from the stream (local)',
        note: 'Delay: sink time minus the write time the event carries (`at`). Inline publishing cost 1 PutEvents call per changing write on the webhook path (batched by 100 in a poll) and no extra invocation; the stream adds one publisher invocation per batch and one ops UpdateItem per batch that published.',
        columns: [
          'case',
          'events',
          'delay p50 ms',
          'delay p99 ms',
          'PutEvents per event',
          'publisher invocations per event',
        ],
        rows,
      },
    ]
  },
}

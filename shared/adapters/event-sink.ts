import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge'
import { DependencyUnavailableError } from '../domain/errors'
import type { ChangeEvent } from '../domain/types'
import type { EventSink } from '../ports'

/** Source of every PartnerOps change event (docs/change-events.md). */
export const EVENT_SOURCE = 'partnerops'

// PutEvents takes at most 10 entries per call.
const BATCH = 10

/** Publishes change events to an EventBridge bus; failed entries are retried once, then reported. */
export function createEventBridgeSink(opts: { busName: string; client?: EventBridgeClient }): EventSink {
  const client = opts.client ?? new EventBridgeClient({})
  const toEntry = (e: ChangeEvent): PutEventsRequestEntry => ({
    EventBusName: opts.busName,
    Source: EVENT_SOURCE,
    DetailType: e.detailType,
    Detail: JSON.stringify(e.detail),
  })
  const send = async (entries: PutEventsRequestEntry[]): Promise<PutEventsRequestEntry[]> => {
    const out = await client.send(new PutEventsCommand({ Entries: entries }))
    if (!out.FailedEntryCount) return []
    return entries.filter((_e, i) => out.Entries?.[i]?.ErrorCode !== undefined)
  }
  return {
    async publish(events) {
      for (let i = 0; i < events.length; i += BATCH) {
        const batch = events.slice(i, i + BATCH).map(toEntry)
        try {
          const failed = await send(batch)
          if (failed.length > 0 && (await send(failed)).length > 0) {
            throw new DependencyUnavailableError('Some change events could not be published')
          }
        } catch (err) {
          if (err instanceof DependencyUnavailableError) throw err
          throw new DependencyUnavailableError('Change events could not be published', { cause: err })
        }
      }
    },
  }
}

/** Appends change events as JSON lines to a file (the local runner's stand-in for the bus). */
export function createFileEventSink(opts: { path: string; onEvent?: (e: ChangeEvent) => void }): EventSink {
  let ready: Promise<unknown> | null = null
  return {
    async publish(events) {
      if (events.length === 0) return
      ready ??= mkdir(dirname(opts.path), { recursive: true })
      await ready
      const lines = events.map((e) =>
        JSON.stringify({ source: EVENT_SOURCE, 'detail-type': e.detailType, detail: e.detail }),
      )
      await appendFile(opts.path, `${lines.join('\n')}\n`)
      for (const e of events) opts.onEvent?.(e)
    },
  }
}

/** Collects events in memory (tests) or drops them (EVENT_SINK=none). */
export function createMemoryEventSink(): EventSink & { events: ChangeEvent[] } {
  const events: ChangeEvent[] = []
  return {
    events,
    async publish(batch) {
      events.push(...batch)
    },
  }
}

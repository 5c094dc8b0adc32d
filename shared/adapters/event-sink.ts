import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type {
  EventBridgeClient,
  PutEventsCommand as PutEventsCommandType,
  PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge'
import { DependencyUnavailableError, errorName } from '../domain/errors'
import type { ChangeEvent } from '../domain/types'
import type { EventSink } from '../ports'

/** Source of every PartnerOps change event (docs/change-events.md). */
export const EVENT_SOURCE = 'partnerops'

// PutEvents takes at most 10 entries per call.
const BATCH = 10

/**
 * Publishes change events to an EventBridge bus, 10 entries per PutEvents call, in order. Entries a
 * call reports as failed (`FailedEntryCount`, e.g. throttled) are sent once more; if one still fails,
 * or a call fails outright, publishing stops there and the answer says how many leading events were
 * accepted. Entries after the failed one in the same call may have been accepted too: a retry
 * publishes them again with the same `eventId`.
 *
 * The SDK module is loaded, and the client built, on the first publish (a dynamic import), not at init.
 */
export function createEventBridgeSink(opts: { busName: string; client?: EventBridgeClient }): EventSink {
  let sdk: Promise<{ client: EventBridgeClient; PutEventsCommand: typeof PutEventsCommandType }> | null = null
  const load = async () => {
    const mod = await import('./sdk/eventbridge')
    return { client: opts.client ?? new mod.EventBridgeClient({}), PutEventsCommand: mod.PutEventsCommand }
  }
  const toEntry = (e: ChangeEvent): PutEventsRequestEntry => {
    const time = new Date(String(e.detail.at))
    return {
      EventBusName: opts.busName,
      Source: EVENT_SOURCE,
      DetailType: e.detailType,
      Detail: JSON.stringify(e.detail),
      // The time of the state change, not of the publish (which may come after retries).
      ...(Number.isNaN(time.getTime()) ? {} : { Time: time }),
    }
  }
  /** Index of the first entry not accepted, or null when all were; failed entries are sent twice. */
  const send = async (
    entries: PutEventsRequestEntry[],
  ): Promise<{ failedAt: number | null; code?: string }> => {
    sdk ??= load().catch((err: unknown) => {
      sdk = null
      throw err
    })
    const { client, PutEventsCommand } = await sdk
    let pending = entries.map((_e, i) => i)
    let code: string | undefined
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      const out = await client.send(
        new PutEventsCommand({ Entries: pending.map((i) => entries[i] as PutEventsRequestEntry) }),
      )
      if (!out.FailedEntryCount) return { failedAt: null }
      const results = out.Entries ?? []
      pending = pending.filter((_i, j) => {
        const failed = results[j] === undefined || results[j]?.ErrorCode !== undefined
        if (failed) code ??= results[j]?.ErrorCode
        return failed
      })
    }
    return pending.length === 0
      ? { failedAt: null }
      : { failedAt: pending[0] ?? 0, ...(code ? { code } : {}) }
  }
  return {
    async publish(events) {
      for (let start = 0; start < events.length; start += BATCH) {
        try {
          const { failedAt, code } = await send(events.slice(start, start + BATCH).map(toEntry))
          if (failedAt !== null) {
            return {
              published: start + failedAt,
              error: new DependencyUnavailableError(
                `EventBridge refused a change event (${code ?? 'unknown'})`,
              ),
            }
          }
        } catch (err) {
          return {
            published: start,
            error: new DependencyUnavailableError(`EventBridge PutEvents failed (${errorName(err)})`, {
              cause: err,
            }),
          }
        }
      }
      return { published: events.length }
    },
  }
}

/** Appends change events as JSON lines to a file (the local runner's stand-in for the bus). */
export function createFileEventSink(opts: { path: string; onEvent?: (e: ChangeEvent) => void }): EventSink {
  let ready: Promise<unknown> | null = null
  return {
    async publish(events) {
      if (events.length === 0) return { published: 0 }
      try {
        ready ??= mkdir(dirname(opts.path), { recursive: true })
        await ready
        const lines = events.map((e) =>
          JSON.stringify({ source: EVENT_SOURCE, 'detail-type': e.detailType, detail: e.detail }),
        )
        // One append of whole lines: a failed write leaves no event half published.
        await appendFile(opts.path, `${lines.join('\n')}\n`)
      } catch (error) {
        ready = null
        return { published: 0, error }
      }
      for (const e of events) opts.onEvent?.(e)
      return { published: events.length }
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
      return { published: batch.length }
    },
  }
}

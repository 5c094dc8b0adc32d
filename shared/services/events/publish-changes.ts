import type { Logger } from '@aws-lambda-powertools/logger'
import { deriveChangeEvents, type StreamChange } from '../../domain/change-events'
import type { ChangeEvent } from '../../domain/types'
import type { Clock, EventSink, OpsRepository } from '../../ports'

/** What the publisher needs: the sink, the ops table for its progress mark, a clock and a logger. */
export interface PublishChangesDeps {
  events: EventSink
  store: { ops: Pick<OpsRepository, 'markChangesPublished'> }
  clock: Clock
  logger: Pick<Logger, 'warn' | 'error'>
}

export type { StreamChange } from '../../domain/change-events'

/** What one batch achieved. */
export interface PublishChangesResult {
  /** Records handled in full (their events accepted, or they carried none). */
  done: number
  /** Change events accepted by the sink. */
  published: number
  /** Sequence of the first record not done: retry from here (null: the whole batch is done). */
  retryFrom: string | null
  /** Publish delay of the newest change done, in ms (null when the batch published nothing). */
  delayMs: number | null
}

/**
 * Publishes the change events of a batch of stream records, in stream order (so per item in the
 * order of its writes), and stops at the first record whose events were not all accepted: that record
 * and every later one are retried from there (Lambda's partial batch response checkpoints the records
 * before it). A retried record re-derives the same events with the same ids, so a consumer sees at
 * worst a repeat, never a gap. Records that make no event cost nothing but their place in the batch.
 */
export async function publishChanges(
  deps: PublishChangesDeps,
  records: readonly StreamChange[],
): Promise<PublishChangesResult> {
  const events: ChangeEvent[] = []
  /** owners[i]: index of the record that made events[i]. */
  const owners: number[] = []
  let derived = records.length
  for (let r = 0; r < records.length; r++) {
    try {
      for (const e of deriveChangeEvents(records[r] as StreamChange)) {
        events.push(e)
        owners.push(r)
      }
    } catch (error) {
      // A record the derivation cannot read (a bug, or an item shape it does not know) stops the
      // batch here: it goes through the retries to the on-failure queue, later records wait.
      deps.logger.error('change record not derivable', { sequence: records[r]?.sequence, error })
      derived = r
      break
    }
  }
  const outcome = events.length > 0 ? await deps.events.publish(events) : { published: 0 }
  // The first record with an event not accepted, or the first underivable one.
  const done = outcome.published < events.length ? (owners[outcome.published] ?? derived) : derived
  if (outcome.published < events.length) {
    deps.logger.warn('change events not published; retrying from the first record not done', {
      records: records.length,
      done,
      events: events.length,
      published: outcome.published,
      error: outcome.error,
    })
  }
  const last = done > 0 ? records[done - 1] : undefined
  const publishedAt = deps.clock.now()
  const changeAt = last?.changedAt ?? null
  let delayMs: number | null = null
  if (outcome.published > 0 && changeAt) {
    delayMs = Math.max(0, publishedAt.getTime() - Date.parse(changeAt))
    try {
      await deps.store.ops.markChangesPublished({
        changeAt,
        publishedAt: publishedAt.toISOString(),
        events: outcome.published,
      })
    } catch (error) {
      // The mark only feeds GET /status: the events are out, and failing here would publish them again.
      deps.logger.warn('change feed mark not saved', { error })
    }
  }
  return {
    done,
    published: outcome.published,
    retryFrom: done < records.length ? (records[done]?.sequence ?? null) : null,
    delayMs,
  }
}

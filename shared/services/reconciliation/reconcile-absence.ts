import pLimit from 'p-limit'
import { rehash } from '../../domain/mapping'
import type { Client } from '../../domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../domain/upstream'
import type { Digest } from '../../ports'

/** What absence handling reports back to the run. */
export interface AbsenceOutcome {
  /** Items newly marked missing in this run. */
  missing: number
  /** Items found again by a lookup (skipped by the walk, e.g. because of pagination drift). */
  recovered: number
  lookups: number
  writes: number
}

/** Shared knobs of absence handling. */
export interface AbsenceContext {
  now: Date
  /** Lookups by id still allowed in this run (shared by clients and channels). */
  lookupBudget: { remaining: number }
  concurrency: number
  /** Throws when the run is over its time budget. */
  checkBudget: () => void
}

/** Port pieces absence handling needs for channels. */
export interface ChannelAbsenceDeps {
  findChannel(channelId: string): Promise<UpstreamChannel | null>
  markAbsence(
    channelId: string,
    expectedOrderKey: string,
    absentRuns: number,
    missingSince: string | null,
  ): Promise<'written' | 'stale'>
  /** Applies an item found by a lookup the way the walk would have. */
  applyFound(up: UpstreamChannel): Promise<void>
}

/**
 * Channels the complete walk did not see. The first absence asks the Partner API by id (bounded per
 * run): gone → missing at once; found → applied as if the walk had seen it. Otherwise the absence is
 * counted, and the second consecutive complete run without the channel marks it missing.
 */
export async function markAbsentChannels(
  absent: Digest[],
  ctx: AbsenceContext,
  deps: ChannelAbsenceDeps,
): Promise<AbsenceOutcome> {
  const out: AbsenceOutcome = { missing: 0, recovered: 0, lookups: 0, writes: 0 }
  const at = ctx.now.toISOString()
  const limit = pLimit(ctx.concurrency)
  const mark = async (d: Digest, runs: number, missing: boolean): Promise<void> => {
    const written = await deps.markAbsence(d.id, d.orderKey, runs, missing ? at : null)
    if (written === 'written') {
      out.writes += 1
      if (missing) out.missing += 1
    }
  }
  await Promise.all(
    absent
      .filter((d) => d.missingSince === null)
      .map((d) =>
        limit(async () => {
          ctx.checkBudget()
          const runs = d.absentRuns + 1
          if (runs >= 2) return mark(d, runs, true)
          if (ctx.lookupBudget.remaining <= 0) return mark(d, runs, false)
          ctx.lookupBudget.remaining -= 1
          out.lookups += 1
          const found = await deps.findChannel(d.id)
          if (found === null) return mark(d, runs, true)
          out.recovered += 1
          await deps.applyFound(found)
        }),
      ),
  )
  return out
}

/** Port pieces absence handling needs for clients. */
export interface ClientAbsenceDeps {
  findClient(clientId: string): Promise<UpstreamClient | null>
  get(clientId: string): Promise<Client | null>
  putIfVersion(client: Client, expectedOrderKey: string | null): Promise<'written' | 'stale'>
  applyFound(up: UpstreamClient): Promise<void>
}

/**
 * Clients the complete walk did not see. The client port keeps no absence counter, so a client is
 * marked missing only when a lookup by id confirms it is gone (bounded per run; the rest wait for the
 * next complete run). `missingSince` is content, so the record is rehashed and the next sighting clears it.
 */
export async function markAbsentClients(
  absent: Digest[],
  ctx: AbsenceContext,
  deps: ClientAbsenceDeps,
): Promise<AbsenceOutcome> {
  const out: AbsenceOutcome = { missing: 0, recovered: 0, lookups: 0, writes: 0 }
  const at = ctx.now.toISOString()
  const limit = pLimit(ctx.concurrency)
  await Promise.all(
    absent
      .filter((d) => d.missingSince === null)
      .map((d) =>
        limit(async () => {
          ctx.checkBudget()
          if (ctx.lookupBudget.remaining <= 0) return
          ctx.lookupBudget.remaining -= 1
          out.lookups += 1
          const found = await deps.findClient(d.id)
          if (found !== null) {
            out.recovered += 1
            await deps.applyFound(found)
            return
          }
          const stored = await deps.get(d.id)
          if (!stored || stored.orderKey !== d.orderKey || stored.missingSince !== null) return
          const written = await deps.putIfVersion(rehash({ ...stored, missingSince: at }), d.orderKey)
          if (written === 'written') {
            out.writes += 1
            out.missing += 1
          }
        }),
      ),
  )
  return out
}

import pLimit from 'p-limit'
import type { AppDeps } from '../../deps'
import { UpstreamError } from '../../domain/errors'
import { channelFromUpstream, clientFromUpstream } from '../../domain/mapping'
import type { RunWarning } from '../../domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../domain/upstream'
import type { QuarantinedItem, SweepKind } from '../../ports'
import { applyChannel, applyClient } from '../state/apply-upstream'
import { QUARANTINE_STORED_PER_RUN } from './reconcile-guards'

/** What a reconciliation run needs. */
export type ReconcileDeps = Pick<AppDeps, 'config' | 'store' | 'partnerApi' | 'clock' | 'logger'>

/** Guarded writes in flight at once while applying one page. */
const APPLY_CONCURRENCY = 32

/**
 * Share of the run's time budget a full sweep keeps back: once less than this is left, it saves its
 * position and leaves the rest to the next invocation, so the save never races the function timeout.
 */
export const SWEEP_RESERVE_SHARE = 0.2

/** Counters of one run (one invocation), beyond the summary: logged, and used by the benchmark. */
export interface Tally {
  pages: number
  seen: Record<SweepKind, number>
  changed: Record<SweepKind, number>
  missing: Record<SweepKind, number>
  stale: number
  bookkeepingWrites: number
  lookups: number
  recovered: number
  swept: number
  confirmedCancellations: number
  quarantined: number
}

/**
 * One invocation of the poller: its counters and warnings, its time budget, and how it applies what it
 * reads. The incremental walk, the full sweep and missing detection all apply through it, so they
 * count and write the same way.
 */
export interface Run {
  readonly deps: ReconcileDeps
  readonly runId: string
  readonly started: Date
  readonly tally: Tally
  readonly warnings: Set<RunWarning>
  /** Quarantined items kept for an operator (the first few of the run). */
  readonly quarantine: QuarantinedItem[]
  /** Quarantined items without an id, per list: such a list proves no absence in this run. */
  readonly unnamedQuarantined: Record<SweepKind, number>
  /** Throws `poll_budget_exhausted` once the run is past its budget. */
  checkBudget(): void
  /** Milliseconds left of the budget (at least 1). */
  remainingMs(): number
  /** True once a sweep should save its position and stop starting work (the budget's reserve is reached). */
  shouldYield(): boolean
  /** Counts and keeps items a list page held that failed validation. */
  onQuarantined(items: QuarantinedItem[]): void
  /**
   * Applies listed items: one batch read of their stored digests, then the guarded write for each item
   * whose content changed (or that is not stored). Unchanged items cost nothing more.
   */
  applyClients(page: UpstreamClient[], receivedAt: Date): Promise<void>
  applyChannels(page: UpstreamChannel[], receivedAt: Date): Promise<void>
  /** Applies one item read outside a list walk (a lookup by id), as the walk would have. */
  applyClient(up: UpstreamClient): Promise<void>
  applyChannel(up: UpstreamChannel): Promise<void>
}

const KIND: Record<QuarantinedItem['kind'], SweepKind> = { client: 'clients', channel: 'channels' }

export function createRun(deps: ReconcileDeps, runId: string, started: Date): Run {
  const { config, store, clock } = deps
  const deadline = started.getTime() + config.POLL_BUDGET_MS
  const yieldAt = deadline - config.POLL_BUDGET_MS * SWEEP_RESERVE_SHARE
  const tally: Tally = {
    pages: 0,
    seen: { clients: 0, channels: 0 },
    changed: { clients: 0, channels: 0 },
    missing: { clients: 0, channels: 0 },
    stale: 0,
    bookkeepingWrites: 0,
    lookups: 0,
    recovered: 0,
    swept: 0,
    confirmedCancellations: 0,
    quarantined: 0,
  }
  const warnings = new Set<RunWarning>()
  const quarantine: QuarantinedItem[] = []
  const unnamedQuarantined: Record<SweepKind, number> = { clients: 0, channels: 0 }
  const limit = pLimit(APPLY_CONCURRENCY)
  const snapshot = { source: 'poll', kind: 'snapshot' } as const

  // receivedAt: the page's fetch time, which orders undated items and caps future-dated ones.
  // Change events are not published here: the publisher derives them from the writes themselves.
  const writeClient = async (up: UpstreamClient, stored?: null, receivedAt?: Date): Promise<void> => {
    const opts = { ...snapshot, ...(receivedAt ? { receivedAt } : {}) }
    const r = await applyClient(deps, up, stored === null ? { ...opts, stored: null } : opts)
    if (r.outcome === 'written') tally.changed.clients += 1
    else if (r.outcome === 'stale') tally.stale += 1
  }
  const resetAbsence = async (channelId: string, orderKey: string): Promise<void> => {
    if ((await store.channels.markAbsence(channelId, orderKey, 0, null)) === 'written') {
      tally.bookkeepingWrites += 1
    }
  }
  const writeChannel = async (up: UpstreamChannel, stored?: null, receivedAt?: Date): Promise<void> => {
    const opts = { ...snapshot, ...(receivedAt ? { receivedAt } : {}) }
    const r = await applyChannel(deps, up, stored === null ? { ...opts, stored: null } : opts)
    if (r.cancellation === 'confirmed') tally.confirmedCancellations += 1
    if (r.outcome === 'written') tally.changed.channels += 1
    else if (r.outcome === 'stale') tally.stale += 1
    else if (r.record.absentRuns > 0) await resetAbsence(r.record.channelId, r.record.orderKey)
  }

  return {
    deps,
    runId,
    started,
    tally,
    warnings,
    quarantine,
    unnamedQuarantined,
    checkBudget: () => {
      if (clock.now().getTime() > deadline) {
        throw new UpstreamError('reconciliation exceeded its time budget', {
          upstreamStatus: 0,
          retryable: true,
          code: 'poll_budget_exhausted',
        })
      }
    },
    remainingMs: () => Math.max(1, deadline - clock.now().getTime()),
    shouldYield: () => clock.now().getTime() >= yieldAt,
    onQuarantined: (items) => {
      warnings.add('quarantined_items')
      tally.quarantined += items.length
      for (const q of items) {
        if (q.id === null) unnamedQuarantined[KIND[q.kind]] += 1
        if (quarantine.length < QUARANTINE_STORED_PER_RUN) quarantine.push(q)
      }
    },
    applyClients: async (page, now) => {
      tally.seen.clients += page.length
      const digests = new Map((await store.clients.digestsOf(page.map((c) => c.id))).map((d) => [d.id, d]))
      await Promise.all(
        page.map((up) => {
          const d = digests.get(up.id)
          if (d) {
            // Same content and not later than what is stored: nothing to write. (A later key with the
            // same content still goes through applyClient, which advances the stored key: an older
            // fact arriving afterwards must not look newer. Only undated items, ordered by fetch time,
            // pay that write on every run.)
            const candidate = clientFromUpstream(up, {
              now,
              source: 'poll',
              kind: 'snapshot',
              previous: null,
            })
            if (candidate.contentHash === d.contentHash && candidate.orderKey <= d.orderKey) return undefined
          }
          // Not stored: applied without a read (a record created since is still protected by the
          // guarded write).
          return limit(() => writeClient(up, d ? undefined : null, now))
        }),
      )
    },
    applyChannels: async (page, now) => {
      tally.seen.channels += page.length
      const digests = new Map((await store.channels.digestsOf(page.map((c) => c.id))).map((d) => [d.id, d]))
      await Promise.all(
        page.map((up) => {
          const d = digests.get(up.id)
          if (d) {
            // Lifecycle depends on time (terminated_at passing), so candidates are derived at page time.
            const candidate = channelFromUpstream(up, {
              now,
              source: 'poll',
              kind: 'snapshot',
              previous: null,
            })
            if (candidate.contentHash === d.contentHash && candidate.orderKey <= d.orderKey) {
              return d.absentRuns > 0 ? limit(() => resetAbsence(d.id, d.orderKey)) : undefined
            }
          }
          return limit(() => writeChannel(up, d ? undefined : null, now))
        }),
      )
    },
    applyClient: (up) => writeClient(up),
    applyChannel: (up) => writeChannel(up),
  }
}

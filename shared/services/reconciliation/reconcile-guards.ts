import { createHash } from 'node:crypto'
import type { AppDeps } from '../../deps'
import type { QuarantinedItem, QuarantineRecord } from '../../ports'

/**
 * Missing detection halts when a complete walk leaves at least this many stored items unseen and they
 * are more than {@link MASS_MISSING_SHARE} of what is stored (README, Reconciliation).
 */
export const MASS_MISSING_MIN = 10
export const MASS_MISSING_SHARE = 0.05
/** Quarantined items stored per run for an operator (all of them are counted). */
export const QUARANTINE_STORED_PER_RUN = 50
/** A stored quarantined item expires this long after the last run that saw it (DynamoDB TTL). */
export const QUARANTINE_TTL_SECONDS = 7 * 86_400

/**
 * True when marking `absent` of `stored` items missing would be a mass event: more likely an upstream
 * that answered cut-down lists than that many clients or channels gone at once.
 */
export function massMissing(absent: number, stored: number): boolean {
  return absent >= MASS_MISSING_MIN && absent > stored * MASS_MISSING_SHARE
}

/** The record key of a quarantined item: its id, or a hash of what was received when it has none. */
export function quarantineKey(item: QuarantinedItem): string {
  if (item.id !== null) return item.id
  return `sha256:${createHash('sha256').update(item.raw).digest('base64url')}`
}

/**
 * Stores the run's quarantined items for an operator (`GET /status`). One record per item and key, so
 * an item that stays broken is one record whose `lastSeenAt` moves. A store failure is logged, never
 * the run's failure: the items are counted in the summary and logged by the Partner API client anyway.
 */
export async function saveQuarantined(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'>,
  runId: string,
  items: QuarantinedItem[],
): Promise<void> {
  if (items.length === 0) return
  const now = deps.clock.now()
  const at = now.toISOString()
  const expiresAt = Math.floor(now.getTime() / 1000) + QUARANTINE_TTL_SECONDS
  const records: QuarantineRecord[] = items.map((item) => ({
    ...item,
    key: quarantineKey(item),
    runId,
    firstSeenAt: at,
    lastSeenAt: at,
  }))
  const results = await Promise.allSettled(records.map((r) => deps.store.ops.saveQuarantined(r, expiresAt)))
  const failed = results.filter((r) => r.status === 'rejected').length
  if (failed > 0) deps.logger.warn('quarantined items not stored', { runId, failed, of: records.length })
}

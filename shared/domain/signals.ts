/**
 * The channel signals partners watch besides the lifecycle: quality rating and messaging tier
 * (README, "What partners watch"). Pure: no AWS, no I/O.
 */

/** The quality buckets the API filters and counts by (Meta's ratings). */
export const QUALITY_RATINGS = ['GREEN', 'YELLOW', 'RED', 'UNKNOWN'] as const
export type QualityRating = (typeof QUALITY_RATINGS)[number]

/**
 * The bucket of a stored rating: GREEN, YELLOW and RED as such (case and surrounding space ignored),
 * any other value upstream sent (`UNKNOWN`, `NA`, something new) UNKNOWN, and no rating at all (the
 * channel is not rated yet, or upstream did not send one) null: such a channel is in no bucket.
 */
export function qualityBucket(rating: string | null | undefined): QualityRating | null {
  if (rating === null || rating === undefined) return null
  const r = rating.trim().toUpperCase()
  if (r === '') return null
  return r === 'GREEN' || r === 'YELLOW' || r === 'RED' ? r : 'UNKNOWN'
}

/** The messaging tier as the filter compares it: as sent, trimmed and upper-cased; null when absent. */
export function limitKey(limit: string | null | undefined): string | null {
  if (limit === null || limit === undefined) return null
  const l = limit.trim().toUpperCase()
  return l === '' ? null : l
}

/** Metric names of quality changes, one per bucket the channel moved into (infra/metrics.ts QUALITY). */
export const QUALITY_METRIC_OF: Readonly<Record<QualityRating, string>> = {
  GREEN: 'ChannelQualityGreen',
  YELLOW: 'ChannelQualityYellow',
  RED: 'ChannelQualityRed',
  UNKNOWN: 'ChannelQualityUnknown',
}

/** Metric of a live channel whose rating turned RED (the alarm reads it). */
export const LIVE_CHANNEL_TURNED_RED = 'LiveChannelTurnedRed'

/** What one batch of channel writes says about quality: moves into each bucket, live channels turned red. */
export interface QualityMoves {
  into: Record<QualityRating, number>
  liveTurnedRed: number
}

/**
 * Counts quality moves in channel images before and after writes: a move is a change of bucket
 * between two images that both carry the rating attribute (its first appearance on an item stored
 * before the field existed is a backfill, not a move, as for the change events).
 */
export function qualityMoves(
  changes: readonly {
    table: string
    oldImage: Record<string, unknown> | null
    newImage: Record<string, unknown> | null
  }[],
): QualityMoves {
  const into = { GREEN: 0, YELLOW: 0, RED: 0, UNKNOWN: 0 }
  let liveTurnedRed = 0
  for (const c of changes) {
    if (c.table !== 'channels' || !c.oldImage || !c.newImage) continue
    if (!('qualityRating' in c.oldImage)) continue
    const before = qualityBucket(asText(c.oldImage['qualityRating']))
    const after = qualityBucket(asText(c.newImage['qualityRating']))
    if (after === null || after === before) continue
    into[after]++
    if (after === 'RED' && c.newImage['lifecycle'] === 'live') liveTurnedRed++
  }
  return { into, liveTurnedRed }
}

const asText = (v: unknown): string | null => (typeof v === 'string' ? v : null)

/** Backoff settings of the Partner API client. */
export interface BackoffOptions {
  baseDelayMs: number
  maxDelayMs: number
  random: () => number
}

/**
 * Capped exponential backoff with full jitter: `random() × min(max, base × 2^retry)`, where `retry`
 * counts from 0 for the first retry.
 */
export function backoffDelay(retry: number, opts: BackoffOptions): number {
  const ceiling = Math.min(opts.maxDelayMs, opts.baseDelayMs * 2 ** retry)
  const r = Math.min(1, Math.max(0, opts.random()))
  return Math.floor(r * ceiling)
}

/**
 * Milliseconds to wait from a `Retry-After` header: delta seconds or an HTTP date (relative to
 * `nowMs`). Null when absent or unreadable; never negative.
 */
export function parseRetryAfter(header: string | null, nowMs: number): number | null {
  if (header === null) return null
  const value = header.trim()
  if (value === '') return null
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  if (!/[a-z]/i.test(value)) return null
  const at = Date.parse(value)
  if (Number.isNaN(at)) return null
  return Math.max(0, at - nowMs)
}

/**
 * The Partner API's documented per-endpoint limit (README "What it models"): the client balance
 * endpoint takes 5 calls per 30 seconds; the sixth is a 429 with the `meta` body and `Retry-After`.
 * Counted per client (the endpoint is per client; the documentation does not say more), over a sliding
 * window on the simulator's clock, refused calls not counted.
 */
export const BALANCE_CALLS_PER_WINDOW = 5
export const BALANCE_WINDOW_MS = 30_000

/** Sliding-window counters of calls per key. */
export class SlidingWindowLimiter {
  private readonly calls = new Map<string, number[]>()

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Seconds to wait when `key` is over its limit at `nowMs`, else null (and the call is counted). */
  take(key: string, nowMs: number): number | null {
    const recent = (this.calls.get(key) ?? []).filter((t) => t > nowMs - this.windowMs)
    if (recent.length >= this.limit) {
      this.calls.set(key, recent)
      const oldest = recent[0] ?? nowMs
      return Math.max(1, Math.ceil((oldest + this.windowMs - nowMs) / 1000))
    }
    recent.push(nowMs)
    this.calls.set(key, recent)
    return null
  }

  clear(): void {
    this.calls.clear()
  }
}

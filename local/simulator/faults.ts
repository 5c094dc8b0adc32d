import { performance } from 'node:perf_hooks'
import { wrongPayload } from './errors'
import type { Faults } from './types'

const FAULT_KEYS = ['latencyMs', 'errorRate', 'rateLimitPerMinute', 'dropAfterCommitRate'] as const

/** Faults injected into `/api/v2` routes (latency, 503s, a per-minute budget, dropped answers). */
export class FaultInjector {
  private faults: Faults = {}
  private rateWindow: number[] = []

  get current(): Faults {
    return { ...this.faults }
  }

  /** Replaces the faults; `{}` clears them. A negative or out-of-range value is a wrong payload. */
  set(f: Faults): void {
    const faults: Faults = {}
    for (const key of FAULT_KEYS) {
      const value = f[key]
      if (value === undefined || value === null) continue
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw wrongPayload(`${key}: must be a non-negative number`)
      }
      if ((key === 'errorRate' || key === 'dropAfterCommitRate') && value > 1) {
        throw wrongPayload(`${key}: must be between 0 and 1`)
      }
      faults[key] = value
    }
    this.faults = faults
    this.rateWindow = []
  }

  /** Seconds to wait when over the per-minute budget, else null (and the request is counted). */
  rateLimited(): number | null {
    const limit = this.faults.rateLimitPerMinute
    if (limit === undefined) return null
    const now = performance.now()
    this.rateWindow = this.rateWindow.filter((t) => t > now - 60_000)
    if (this.rateWindow.length >= limit) {
      const oldest = this.rateWindow[0] ?? now
      return Math.max(1, Math.ceil((oldest + 60_000 - now) / 1000))
    }
    this.rateWindow.push(now)
    return null
  }

  /** Whether this request is answered 503 before anything is done. */
  fails(): boolean {
    return this.faults.errorRate !== undefined && Math.random() < this.faults.errorRate
  }

  /** Whether this (mutating) request is carried out and then answered by a destroyed socket. */
  dropsAfterCommit(): boolean {
    return this.faults.dropAfterCommitRate !== undefined && Math.random() < this.faults.dropAfterCommitRate
  }
}

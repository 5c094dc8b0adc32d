import { createHmac, randomUUID } from 'node:crypto'
import type { DeliveryLogEntry } from './types'

export interface WebhookDispatcherOptions {
  /** HMAC key of `x-360dialog-signature`. */
  platformSecret: string
  /** Current target; null means no delivery (nothing is logged). */
  url: () => string | null
  headers?: Record<string, string>
  enabled: boolean
  clock: () => Date
  /** First retry delay; attempt n waits baseDelayMs × 2^(n-1). */
  baseDelayMs?: number
  maxAttempts?: number
  /** Per-attempt timeout (360dialog expects an answer within 5 s). */
  timeoutMs?: number
  fetchImpl?: typeof fetch
  /** Reshapes each envelope before it is signed (real-world variants); default unchanged. */
  shape?: (envelope: Envelope) => Envelope
}

/** A webhook envelope before serialization: `{id, event, data, timestamp}` and whatever a variant adds. */
export type Envelope = Record<string, unknown> & { id: string | number; event: string; data: unknown }

/** Lowercase hex HMAC-SHA256 of the raw body: the `x-360dialog-signature` value. */
export function signBody(body: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('hex')
}

const MAX_LOG = 10_000

/**
 * Delivers partner webhooks the way 360dialog does: POST JSON `{id, event, data, timestamp}`, signed
 * with `x-360dialog-signature`, retried with exponential backoff on a non-200 answer or a network
 * error. Never blocks the caller; `close()` cancels timers and in-flight requests.
 */
export class WebhookDispatcher {
  private readonly log: DeliveryLogEntry[] = []
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly inFlight = new Set<AbortController>()
  private closed = false

  constructor(private readonly opts: WebhookDispatcherOptions) {}

  /**
   * Serializes the event now (later changes to `data` do not leak into retries) and starts delivery.
   * The promise settles after the first attempt (whatever its outcome); retries continue in the background.
   */
  send(event: string, data: unknown): Promise<void> {
    const url = this.opts.url()
    if (!this.opts.enabled || url === null || this.closed) return Promise.resolve()
    const envelope: Envelope = {
      id: `sim_${randomUUID()}`,
      event,
      data,
      timestamp: this.opts.clock().toISOString(),
    }
    const shaped = this.opts.shape ? this.opts.shape(envelope) : envelope
    const body = JSON.stringify(shaped)
    const entry: DeliveryLogEntry = { event, id: shaped.id, status: 'pending', attempts: 0 }
    this.log.push(entry)
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG)
    return this.attempt(url, body, entry)
  }

  private async attempt(url: string, body: string, entry: DeliveryLogEntry): Promise<void> {
    if (this.closed) return
    entry.attempts++
    const controller = new AbortController()
    this.inFlight.add(controller)
    const timeout = setTimeout(() => controller.abort(), this.opts.timeoutMs ?? 5000)
    let ok = false
    try {
      const res = await (this.opts.fetchImpl ?? fetch)(url, {
        method: 'POST',
        headers: {
          ...this.opts.headers,
          'content-type': 'application/json',
          'x-360dialog-signature': signBody(body, this.opts.platformSecret),
          'user-agent': 'partnerops-simulator',
        },
        body,
        signal: controller.signal,
      })
      await res.arrayBuffer().catch(() => undefined)
      entry.status = res.status
      ok = res.status === 200
    } catch {
      entry.status = 'error'
    } finally {
      clearTimeout(timeout)
      this.inFlight.delete(controller)
    }
    if (ok || this.closed || entry.attempts >= (this.opts.maxAttempts ?? 5)) return
    const delay = (this.opts.baseDelayMs ?? 200) * 2 ** (entry.attempts - 1)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      void this.attempt(url, body, entry)
    }, delay)
    this.timers.add(timer)
  }

  deliveries(): DeliveryLogEntry[] {
    return this.log.map((e) => ({ ...e }))
  }

  /** Forgets the log and cancels pending retries (simulator reset). */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.log.length = 0
  }

  close(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const controller of this.inFlight) controller.abort()
    this.inFlight.clear()
  }
}

import { UpstreamError } from '../../shared/domain/errors'
import {
  CLOUD_HEALTH_STATUSES,
  type CloudHealthStatus,
  type GatewayStatus,
  type HealthReading,
  type MessagingApiKind,
} from '../../shared/domain/health'
import type { MessagingApi, MessagingApiStats, MessagingTarget } from '../../shared/ports'

/** One number behind a key, as the fake's Messaging API knows it. */
export interface FakeNumber {
  kind: MessagingApiKind
  /** Digits, as the API names the number (null: the API names none). */
  phoneNumber: string | null
  cloud: CloudHealthStatus
  gateway: GatewayStatus
}

type Failure = () => Error

/**
 * In-memory MessagingApi for service unit tests. It keeps to the contract the simulator keeps behind
 * the real client (test/integration/messaging/messaging-contract.ts): a key not issued (or revoked)
 * and a key used on the other API are refused with the client's 401 error; health is the Cloud
 * status or the gateway status by the target's kind; the number is the digits. `failNext` queues
 * errors; `calls` records every call with its key's channel label.
 */
export class FakeMessagingApi implements MessagingApi {
  readonly numbers = new Map<string, FakeNumber>()
  readonly calls: { method: 'health' | 'phoneNumber'; apiKey: string }[] = []
  private readonly failures: { health: Failure[]; phoneNumber: Failure[] } = { health: [], phoneNumber: [] }
  private readonly counters: MessagingApiStats = { calls: 0, retries: 0, inFlight: 0, maxInFlight: 0 }

  /** Issues a key for a number (defaults: Cloud, AVAILABLE, connected). */
  addKey(apiKey: string, number: Partial<FakeNumber> & { phoneNumber: string | null }): void {
    this.numbers.set(apiKey, { kind: 'cloud', cloud: 'AVAILABLE', gateway: 'connected', ...number })
  }

  revoke(apiKey: string): void {
    this.numbers.delete(apiKey)
  }

  /** Sets the health behind a key: a Cloud status or a gateway status. */
  setHealth(apiKey: string, status: CloudHealthStatus | GatewayStatus): void {
    const n = this.numbers.get(apiKey)
    if (!n) throw new Error(`no key ${apiKey}`)
    if ((CLOUD_HEALTH_STATUSES as readonly string[]).includes(status)) n.cloud = status as CloudHealthStatus
    else n.gateway = status as GatewayStatus
  }

  failNext(method: 'health' | 'phoneNumber', ...errors: Failure[]): void {
    this.failures[method].push(...errors)
  }

  callCount(method?: 'health' | 'phoneNumber'): number {
    return method ? this.calls.filter((c) => c.method === method).length : this.calls.length
  }

  private number(method: 'health' | 'phoneNumber', target: MessagingTarget): FakeNumber {
    this.calls.push({ method, apiKey: target.apiKey })
    this.counters.calls += 1
    const failure = this.failures[method].shift()
    if (failure) throw failure()
    const n = this.numbers.get(target.apiKey)
    if (n && n.kind !== target.kind) {
      // The other API's path does not exist on this one (the simulator answers 404 too).
      throw new UpstreamError('messaging API refused with 404', {
        upstreamStatus: 404,
        retryable: false,
        upstreamMessage: 'Not found',
      })
    }
    if (!n) {
      throw new UpstreamError("messaging API refused the channel's key", {
        upstreamStatus: 401,
        retryable: false,
        code: 'upstream_unauthorized',
        upstreamMessage: 'Invalid api key',
      })
    }
    return n
  }

  async health(target: MessagingTarget): Promise<HealthReading> {
    const n = this.number('health', target)
    if (n.kind === 'onpremise') return { status: n.gateway, errors: [] }
    return {
      status: n.cloud,
      errors:
        n.cloud === 'BLOCKED'
          ? [{ code: 'meta_141006', message: 'PHONE_NUMBER: There is an error with the payment method.' }]
          : n.cloud === 'LIMITED'
            ? [
                {
                  code: 'limited',
                  message: 'PHONE_NUMBER: The number has reached its messaging limit for now.',
                },
              ]
            : [],
    }
  }

  async phoneNumber(target: MessagingTarget): Promise<string | null> {
    return this.number('phoneNumber', target).phoneNumber
  }

  stats(): MessagingApiStats {
    return { ...this.counters }
  }
}

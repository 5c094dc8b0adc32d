import type { AppDeps } from '../../deps'
import { UpstreamError } from '../../domain/errors'
import {
  becameUnhealthy,
  type HealthError,
  type HealthStatus,
  healthWriteDue,
  type KeyRejection,
  nextHealth,
  numberCheck,
  numberCheckDue,
  type StoredHealth,
} from '../../domain/health'
import type { Channel } from '../../domain/types'
import type { Clock, MessagingApi, MessagingTarget, StateStore } from '../../ports'

/** The part of a live channel a health check needs (the sweep keeps only this in memory). */
export interface HealthCandidate {
  channelId: string
  clientId: string
  phoneNumber: string | null
  health: StoredHealth | null
  /** The stored key the Messaging API last refused, if any. */
  keyRejected: KeyRejection | null
  /** The key state as stored by key provisioning; absent on items written before it existed. */
  keyStatus?: string | null
}

/** A channel's stored key as the health job uses it. */
export interface HealthTarget extends MessagingTarget {
  /**
   * Whether a refusal of this key calls for one replacement (KeyRejection.replace): false when the key
   * is itself the replacement of a refused key. Absent: true.
   */
  replaceable?: boolean
}

/**
 * The key side of a health check (key provisioning owns the keys): where and with which key a
 * channel's Messaging API is reached, and what to do when that key is refused.
 */
export interface HealthKeys {
  /** The channel's stored key and its address, or null when it has none: then nothing is called. */
  target(channel: HealthCandidate): Promise<HealthTarget | null>
  /** A 401 on the channel's key: mark it invalid and ask for one re-provisioning (called once per key). */
  rejected(channel: HealthCandidate): Promise<void>
}

/** What a health check needs. */
export interface HealthCheckDeps {
  store: StateStore
  clock: Clock
  messaging: MessagingApi
  keys: HealthKeys
  logger: Pick<AppDeps['logger'], 'info' | 'warn'>
}

/** What one check did. */
export type CheckOutcome =
  | { kind: 'no_key' }
  | { kind: 'key_rejected' }
  | { kind: 'failed'; code: string }
  | {
      kind: 'checked'
      status: HealthStatus
      health: StoredHealth
      written: boolean
      changed: boolean
      becameUnhealthy: boolean
      numberChecked: boolean
    }

const keyRefused = (err: unknown): boolean => err instanceof UpstreamError && err.upstreamStatus === 401

const codeOf = (err: unknown): string =>
  err instanceof UpstreamError ? err.code : err instanceof Error ? err.name : 'unknown'

/**
 * Checks one live channel: its key (none → nothing is called), its health (Cloud `/health_status` or
 * on-premise `/v1/health`), the number behind the key when that is due (first check, then daily), and
 * writes the result when it changed or is due for a refresh. A 401 hands the key back to key
 * provisioning (`keys.rejected`) and writes nothing; any other failure leaves the stored health as it
 * was (counted by the sweep).
 */
export async function checkChannel(deps: HealthCheckDeps, channel: HealthCandidate): Promise<CheckOutcome> {
  if (channel.keyStatus !== undefined && channel.keyStatus !== null && channel.keyStatus !== 'active') {
    return { kind: 'no_key' }
  }
  const target = await deps.keys.target(channel)
  if (!target) return { kind: 'no_key' }
  // A key refused before is not tried again (nor handed back again): only a new key resumes checks.
  if (target.keyRef !== undefined && channel.keyRejected?.key === target.keyRef) return { kind: 'no_key' }
  const onRefused = async (): Promise<CheckOutcome> => {
    if (target.keyRef !== undefined) {
      const rejection = {
        key: target.keyRef,
        at: deps.clock.now().toISOString(),
        replace: target.replaceable !== false,
      }
      await deps.store.channels.setKeyRejected(channel.channelId, rejection)
      channel.keyRejected = rejection
    }
    await deps.keys.rejected(channel)
    return { kind: 'key_rejected' }
  }

  let reading: Awaited<ReturnType<MessagingApi['health']>>
  try {
    reading = await deps.messaging.health(target)
  } catch (err: unknown) {
    if (keyRefused(err)) return onRefused()
    deps.logger.warn('health check failed', { channelId: channel.channelId, error: codeOf(err) })
    return { kind: 'failed', code: codeOf(err) }
  }

  const now = deps.clock.now()
  let number: { checked: true; error: HealthError | null } | { checked: false } = { checked: false }
  if (numberCheckDue(channel.health, now)) {
    try {
      number = {
        checked: true,
        error: numberCheck(channel.phoneNumber, await deps.messaging.phoneNumber(target)),
      }
    } catch (err: unknown) {
      if (keyRefused(err)) return onRefused()
      // The health itself was read: store it, and verify the number at the next check.
      deps.logger.warn('phone number check failed', { channelId: channel.channelId, error: codeOf(err) })
    }
  }

  const next = nextHealth(channel.health, reading, number, now)
  const changed = channel.health?.status !== next.status
  if (!healthWriteDue(channel.health, next)) {
    return {
      kind: 'checked',
      status: next.status,
      health: channel.health ?? next,
      written: false,
      changed: false,
      becameUnhealthy: false,
      numberChecked: number.checked,
    }
  }
  // The event of a status change is dated now and attributed to a poll (the health job polls).
  const written = await deps.store.channels.setHealth(
    channel.channelId,
    next,
    changed ? { updatedAt: now.toISOString(), source: 'poll' } : undefined,
  )
  return {
    kind: 'checked',
    status: next.status,
    health: written === 'written' ? next : (channel.health ?? next),
    written: written === 'written',
    changed: written === 'written' && changed,
    becameUnhealthy: written === 'written' && becameUnhealthy(channel.health, next),
    numberChecked: number.checked,
  }
}

/** The part of a stored channel the sweep keeps. */
export function candidateOf(channel: Channel & { keyStatus?: string | null }): HealthCandidate {
  return {
    channelId: channel.channelId,
    clientId: channel.clientId,
    phoneNumber: channel.phoneNumber,
    health: channel.health ?? null,
    keyRejected: channel.keyRejected ?? null,
    ...(channel.keyStatus !== undefined ? { keyStatus: channel.keyStatus } : {}),
  }
}

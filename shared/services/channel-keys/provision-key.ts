import { randomUUID } from 'node:crypto'
import type { AppDeps } from '../../deps'
import {
  type ChannelKey,
  type KeyStatus,
  keyInfo,
  needsKey,
  readyForKey,
  replacementDue,
} from '../../domain/channel-key'
import { UpstreamError } from '../../domain/errors'
import type { Channel } from '../../domain/types'

/**
 * Channel Messaging API keys (README "Channel API keys"): created once per channel when it is ready
 * and the partner has the client's permission, stored encrypted, deleted when the permission goes.
 *
 * Creating a key upstream revokes the channel's earlier keys, so creation is serialized per channel
 * with a lease (a conditional write in the ops table, like the cancellation lock) and re-checked
 * under it: any number of concurrent triggers for one channel make at most one upstream call, and a
 * channel whose key is stored and working (`keyStatus: active`) never gets another one except by an
 * explicit rotation or a key found invalid. The key value is never logged, audited or returned here
 * except to the store.
 */

/** What provisioning needs. */
export type KeyDeps = Pick<AppDeps, 'store' | 'partnerApi' | 'channelKeys' | 'clock' | 'logger'>

/**
 * Why provisioning runs. `permission` (a `channel_permission_granted` event, an onboarding callback
 * naming the channel) is the only trigger that retries a channel whose permission was missing;
 * `reconciliation` provisions ready channels with no key; `rotation` replaces a working key on
 * request; `invalid_key` replaces a key the messaging API refused (once): reconciliation provisions
 * with it a channel whose refused key is due a replacement (shared/domain/channel-key.ts
 * replacementDue), as marked by the health job (markKeyInvalid).
 */
export type KeyTrigger = 'permission' | 'reconciliation' | 'rotation' | 'invalid_key'

/** What one provisioning attempt did. */
export type ProvisionOutcome =
  | 'created'
  | 'already_active'
  | 'not_ready'
  | 'unknown_channel'
  | 'awaiting_permission'
  | 'permission_missing'
  | 'busy'
  | 'failed'

/** The lease name of a channel's key work, and how long one attempt may hold it. */
export const keyLease = (channelId: string): string => `channel-key#${channelId}`
export const KEY_LEASE_MS = 60_000

/** Attempts of the keyStatus compare-and-set before giving up on a channel that keeps changing. */
const STATUS_ATTEMPTS = 5

/**
 * Sets a channel's `keyStatus` with compare-and-set on its content (an upstream apply in between is
 * re-read, never overwritten; upstream applies carry the status over). Null when the channel is not
 * stored.
 */
export async function setKeyStatus(
  deps: Pick<AppDeps, 'store'>,
  channelId: string,
  status: KeyStatus,
): Promise<Channel | null> {
  for (let attempt = 1; attempt <= STATUS_ATTEMPTS; attempt++) {
    const stored = await deps.store.channels.get(channelId)
    if (!stored) return null
    if ((stored.keyStatus ?? 'none') === status) return stored
    const next = { ...stored, keyStatus: status }
    const update = { keyStatus: status, keyNeeded: needsKey(next) }
    if ((await deps.store.channels.setKeyStatus(channelId, update, stored.contentHash)) === 'written') {
      return next
    }
  }
  throw new Error(`keyStatus of ${channelId} not written: the channel kept changing`)
}

/** Appends one audit entry about a channel's key (never its value); logs and goes on when it cannot. */
export async function auditKey(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'>,
  entry: {
    channelId: string
    action: string
    principal: string
    outcome: string
    upstreamStatus?: number | null
    idempotencyKey?: string | null
    details?: Record<string, unknown>
  },
): Promise<void> {
  try {
    await deps.store.audit.append({
      subject: `channel#${entry.channelId}`,
      at: deps.clock.now().toISOString(),
      id: randomUUID(),
      action: entry.action,
      principal: entry.principal,
      idempotencyKey: entry.idempotencyKey ?? null,
      requestHash: null,
      outcome: entry.outcome,
      httpStatus: null,
      upstreamStatus: entry.upstreamStatus ?? null,
      details: entry.details ?? null,
    })
  } catch (err) {
    deps.logger.error('audit entry not written', { action: entry.action, error: err })
  }
}

/** Whether an upstream refusal means the partner lacks the client's permission for the channel. */
export function isPermissionRefusal(err: unknown): boolean {
  return err instanceof UpstreamError && !err.retryable && err.upstreamStatus === 403
}

/**
 * Creates and stores a channel's key when it is ready and due (see the module comment). `principal`
 * names who asked (`system:webhook`, `system:reconciliation`, a caller's ARN for a rotation).
 * Throws only for storage failures and retryable upstream failures of a rotation; every other
 * outcome is returned.
 */
export async function provisionChannelKey(
  deps: KeyDeps,
  channelId: string,
  opts: { trigger: KeyTrigger; principal: string; idempotencyKey?: string | null },
): Promise<{ outcome: ProvisionOutcome; channel: Channel | null; upstreamStatus?: number }> {
  // Reconciliation lists the channels whose refused key is due its one replacement with the others
  // that need a key: it replaces them as `invalid_key` (the new key's origin, which the health job
  // reads to never replace a replacement).
  const triggerFor = (channel: Channel): KeyTrigger =>
    opts.trigger === 'reconciliation' && replacementDue(channel) ? 'invalid_key' : opts.trigger
  const due = (channel: Channel): ProvisionOutcome | null => {
    if (!readyForKey(channel)) return 'not_ready'
    const status = channel.keyStatus ?? 'none'
    const trigger = triggerFor(channel)
    if (trigger === 'rotation' || trigger === 'invalid_key') return null
    if (status === 'active') return 'already_active'
    if (status === 'permission_missing' && opts.trigger !== 'permission') return 'awaiting_permission'
    // An invalid key is replaced once, by the trigger that found it, or after a new permission.
    if (status === 'invalid' && opts.trigger !== 'permission') return 'awaiting_permission'
    return null
  }
  let before = await deps.store.channels.get(channelId)
  if (!before) return { outcome: 'unknown_channel', channel: null }
  const waiting = before.keyStatus === 'permission_missing' || before.keyStatus === 'invalid'
  if (opts.trigger === 'permission' && waiting) {
    // A new permission ends the wait, whether or not the key can be created now: back to `none`, so
    // a channel that is not ready yet (or whose creation fails for another reason) is listed for
    // reconciliation's key step like any ready channel without a key.
    before = (await setKeyStatus(deps, channelId, 'none')) ?? before
  }
  const early = due(before)
  if (early) return { outcome: early, channel: before }

  const owner = randomUUID()
  const now = deps.clock.now()
  if (!(await deps.store.ops.acquireLease(keyLease(channelId), owner, now, KEY_LEASE_MS))) {
    return { outcome: 'busy', channel: before }
  }
  try {
    // Re-checked under the lease: a concurrent trigger may have finished in between.
    const channel = await deps.store.channels.get(channelId)
    if (!channel) return { outcome: 'unknown_channel', channel: null }
    const late = due(channel)
    if (late) return { outcome: late, channel }
    const trigger = triggerFor(channel)
    if (trigger === 'invalid_key' && (channel.keyStatus ?? 'none') !== 'invalid') {
      // Someone replaced the invalid key meanwhile (a rotation, a permission event).
      return { outcome: 'already_active', channel }
    }

    let created: Awaited<ReturnType<AppDeps['partnerApi']['createChannelApiKey']>>
    try {
      created = await deps.partnerApi.createChannelApiKey(channelId)
    } catch (err) {
      const upstreamStatus = err instanceof UpstreamError ? err.upstreamStatus : undefined
      if (isPermissionRefusal(err)) {
        await deps.channelKeys.delete(channelId)
        const updated = await setKeyStatus(deps, channelId, 'permission_missing')
        await auditKey(deps, {
          channelId,
          action: 'channel_key.create',
          principal: opts.principal,
          outcome: 'permission_missing',
          upstreamStatus: 403,
          idempotencyKey: opts.idempotencyKey ?? null,
          details: { trigger },
        })
        return { outcome: 'permission_missing', channel: updated, upstreamStatus: 403 }
      }
      deps.logger.warn('channel key not created', {
        channelId,
        trigger,
        status: upstreamStatus,
      })
      await auditKey(deps, {
        channelId,
        action: 'channel_key.create',
        principal: opts.principal,
        outcome: 'failed',
        upstreamStatus: upstreamStatus ?? null,
        idempotencyKey: opts.idempotencyKey ?? null,
        details: { trigger },
      })
      if (opts.trigger === 'rotation') throw err
      return {
        outcome: 'failed',
        channel,
        ...(upstreamStatus !== undefined ? { upstreamStatus } : {}),
      }
    }
    const key: ChannelKey = {
      apiKey: created.api_key,
      keyId: created.id ?? null,
      address: created.address ?? null,
      appId: created.app_id ?? null,
      createdAt: deps.clock.now().toISOString(),
      origin: trigger,
    }
    // Stored before the status says active: a crash in between leaves a stored key and status
    // `none`, and the next trigger replaces it (upstream revokes the unseen one).
    await deps.channelKeys.put(channelId, key)
    const updated = await setKeyStatus(deps, channelId, 'active')
    await auditKey(deps, {
      channelId,
      action: opts.trigger === 'rotation' ? 'channel_key.rotate' : 'channel_key.create',
      principal: opts.principal,
      outcome: 'created',
      upstreamStatus: 201,
      idempotencyKey: opts.idempotencyKey ?? null,
      details: keyInfo(key),
    })
    deps.logger.info('channel key stored', { channelId, trigger, keyId: key.keyId })
    return { outcome: 'created', channel: updated, upstreamStatus: 201 }
  } finally {
    await deps.store.ops.releaseLease(keyLease(channelId), owner).catch((err: unknown) => {
      deps.logger.warn('channel key lease not released', { channelId, error: err })
    })
  }
}

/**
 * The client withdrew the partner's permission (a `revokedChannels` callback, a permission-revoked
 * event): the stored key is deleted and the channel waits for a new permission. Nothing is sent
 * upstream (the permission withdrawal revokes the key there).
 */
export async function forgetChannelKey(
  deps: Pick<AppDeps, 'store' | 'channelKeys' | 'clock' | 'logger'>,
  channelId: string,
  opts: { principal: string; reason: string },
): Promise<Channel | null> {
  await deps.channelKeys.delete(channelId)
  const channel = await setKeyStatus(deps, channelId, 'permission_missing')
  await auditKey(deps, {
    channelId,
    action: 'channel_key.delete',
    principal: opts.principal,
    outcome: channel ? 'deleted' : 'deleted_unknown_channel',
    details: { reason: opts.reason },
  })
  return channel
}

/**
 * "Mark the key invalid and re-provision once", the health job's half: the Messaging API answered 401
 * for the channel's stored key. The health job has already recorded which key was refused and whether
 * one replacement is due (ChannelRepository.setKeyRejected, KeyRejection.replace: not when the refused
 * key was itself a replacement). This marks the channel `invalid`; when a replacement is due, that
 * also lists it in the key-needed index, and the next reconciliation run creates exactly one new key
 * under the channel's lease (provisionChannelKey, as `invalid_key`). The health job never creates or
 * writes keys itself: only the provisioning path writes the key store (README "Channel API keys").
 * Nothing happens for a channel whose key is not `active` any more (a rotation or a permission event
 * moved it meanwhile) or that is not stored.
 */
export async function markKeyInvalid(
  deps: Pick<AppDeps, 'store' | 'clock' | 'logger'>,
  channelId: string,
  opts: { principal?: string } = {},
): Promise<{ outcome: 'replacement_due' | 'left_invalid' | 'not_active' }> {
  const stored = await deps.store.channels.get(channelId)
  if (!stored || (stored.keyStatus ?? 'none') !== 'active') return { outcome: 'not_active' }
  const updated = await setKeyStatus(deps, channelId, 'invalid')
  const outcome = updated && replacementDue(updated) ? 'replacement_due' : 'left_invalid'
  await auditKey(deps, {
    channelId,
    action: 'channel_key.invalid',
    principal: opts.principal ?? 'system:health',
    outcome,
    details: { refused: stored.keyRejected?.key ?? null },
  })
  deps.logger.warn('channel key marked invalid', { channelId, outcome })
  return { outcome }
}

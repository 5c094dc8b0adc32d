import pLimit from 'p-limit'
import type { AppDeps } from '../../deps'
import { errorName } from '../../domain/errors'
import { forgetChannelKey, type KeyDeps, type ProvisionOutcome, provisionChannelKey } from './provision-key'

/**
 * The three places that learn a channel may (or may no longer) have a key, each a small hook around
 * provisionChannelKey / forgetChannelKey: permission events after a webhook batch, the onboarding
 * callback, and every reconciliation run. Hooks never throw: a key that could not be created now is
 * created by the next trigger (reconciliation lists every ready channel without a key).
 */

/** How many channels a hook works on at once (each is one upstream call at most). */
const KEY_CONCURRENCY = 4
/** Most channels one reconciliation run provisions (the rest wait for the next run). */
export const KEYS_PER_RUN = 200

/** A permission change a webhook carried. */
export interface KeyPermissionChange {
  channelId: string
  granted: boolean
}

async function safely<T>(
  deps: Pick<AppDeps, 'logger'>,
  channelId: string,
  what: string,
  run: () => Promise<T>,
): Promise<T | 'error'> {
  try {
    return await run()
  } catch (err) {
    deps.logger.warn('channel key work failed', { channelId, what, error: errorName(err) })
    return 'error'
  }
}

/**
 * After a webhook batch: a `channel_permission_granted` creates the channel's key (when it is ready),
 * a `channel_permission_revoked` deletes it. The last change per channel wins.
 */
export async function applyKeyPermissions(
  deps: KeyDeps,
  changes: readonly KeyPermissionChange[],
): Promise<Record<string, ProvisionOutcome | 'deleted' | 'error'>> {
  const last = new Map<string, boolean>()
  for (const c of changes) last.set(c.channelId, c.granted)
  const limit = pLimit(KEY_CONCURRENCY)
  const out: Record<string, ProvisionOutcome | 'deleted' | 'error'> = {}
  await Promise.all(
    [...last].map(([channelId, granted]) =>
      limit(async () => {
        out[channelId] = await safely(deps, channelId, granted ? 'provision' : 'delete', async () => {
          if (!granted) {
            await forgetChannelKey(deps, channelId, {
              principal: 'system:webhook',
              reason: 'permission_revoked',
            })
            return 'deleted' as const
          }
          return (
            await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 'system:webhook' })
          ).outcome
        })
      }),
    ),
  )
  return out
}

/**
 * After an onboarding callback: the client granted the channels it names (each gets its key once
 * ready) and withdrew `revoked` (their stored keys are deleted). Only channels of this client count:
 * the callback's parameters come from a browser.
 */
export async function applyCallbackKeys(
  deps: KeyDeps,
  opts: { clientId: string; granted: readonly string[]; revoked: readonly string[] },
): Promise<void> {
  const limit = pLimit(KEY_CONCURRENCY)
  const principal = `system:onboarding-callback:${opts.clientId}`
  await Promise.all([
    ...opts.granted.map((channelId) =>
      limit(() =>
        safely(deps, channelId, 'provision', () =>
          provisionChannelKey(deps, channelId, { trigger: 'permission', principal }),
        ),
      ),
    ),
    ...opts.revoked.map((channelId) =>
      limit(() =>
        safely(deps, channelId, 'delete', async () => {
          const channel = await deps.store.channels.get(channelId)
          if (channel?.clientId !== opts.clientId) return null
          return forgetChannelKey(deps, channelId, { principal, reason: 'revoked_channels_callback' })
        }),
      ),
    ),
  ])
}

/** What a reconciliation run's key step did (logged with the run). */
export interface KeyRunSummary {
  candidates: number
  created: number
  permissionMissing: number
  failed: number
}

/**
 * The reconciliation run's key step: every ready channel without a key (the sparse `byKeyNeeded`
 * index, so the cost follows the channels that need one, not all channels) gets one, at most
 * KEYS_PER_RUN per run. Channels waiting for a permission or with an invalid key are not listed.
 */
export async function provisionMissingKeys(
  deps: KeyDeps,
  opts: { deadline?: number; now?: () => number } = {},
): Promise<KeyRunSummary> {
  const summary: KeyRunSummary = { candidates: 0, created: 0, permissionMissing: 0, failed: 0 }
  const ids: string[] = []
  try {
    for await (const page of deps.store.channels.keyNeededIds()) {
      ids.push(...page)
      if (ids.length >= KEYS_PER_RUN) break
    }
  } catch (err) {
    deps.logger.warn('channels needing a key not listed', { error: errorName(err) })
    return summary
  }
  summary.candidates = ids.length
  const now = opts.now ?? Date.now
  const limit = pLimit(KEY_CONCURRENCY)
  await Promise.all(
    ids.slice(0, KEYS_PER_RUN).map((channelId) =>
      limit(async () => {
        if (opts.deadline !== undefined && now() >= opts.deadline) return
        const r = await safely(deps, channelId, 'provision', () =>
          provisionChannelKey(deps, channelId, {
            trigger: 'reconciliation',
            principal: 'system:reconciliation',
          }),
        )
        if (r === 'error' || r.outcome === 'failed') summary.failed++
        else if (r.outcome === 'created') summary.created++
        else if (r.outcome === 'permission_missing') summary.permissionMissing++
      }),
    ),
  )
  if (summary.candidates > 0) deps.logger.info('reconciliation channel keys', { ...summary })
  return summary
}

import { describe, expect, it } from 'vitest'
import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import {
  forgetChannelKey,
  markKeyInvalidAndReprovision,
  provisionChannelKey,
} from '../../../shared/services/channel-keys/provision-key'
import { applyChannel } from '../../../shared/services/state/apply-upstream'
import { makeDeps, upChannel, upClient } from '../reconciliation/support'

/** Deps with a live channel H00001CH stored and upstream, and an in-memory key store. */
async function setup(patch: Parameters<typeof upChannel>[2] = {}) {
  const channelKeys = createMemoryChannelKeyStore()
  const deps = makeDeps({ channelKeys })
  deps.partnerApi.addClient(upClient(1))
  const up = deps.partnerApi.addChannel(upChannel(1, 1, patch))
  await applyChannel(deps, up, { source: 'poll', kind: 'snapshot' })
  return { deps, channelKeys, channelId: up.id }
}

describe('channel key provisioning', () => {
  it('creates the key once under 50 concurrent triggers: one upstream creation, the key stored, status active', async () => {
    const { deps, channelKeys, channelId } = await setup()
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        provisionChannelKey(deps, channelId, {
          trigger: i % 2 === 0 ? 'permission' : 'reconciliation',
          principal: 'system:test',
        }),
      ),
    )
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(1)
    expect(outcomes.filter((o) => o.outcome === 'created')).toHaveLength(1)
    expect(new Set(outcomes.map((o) => o.outcome))).toEqual(new Set(['created', 'busy']))
    expect(await channelKeys.get(channelId)).toBe(deps.partnerApi.apiKeys.get(channelId)?.api_key)
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('active')

    // Later triggers see the working key and never create another.
    for (const trigger of ['permission', 'reconciliation'] as const) {
      const again = await provisionChannelKey(deps, channelId, { trigger, principal: 'system:test' })
      expect(again.outcome).toBe('already_active')
    }
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(1)
  })

  it('keeps keyStatus across later upstream applies of the channel', async () => {
    const { deps, channelId } = await setup()
    await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 'system:test' })
    const newer = upChannel(1, 1, {
      modified_at: '2025-07-01T00:00:00.000Z',
      current_quality_rating: 'YELLOW',
    })
    const applied = await applyChannel(deps, newer, { source: 'poll', kind: 'snapshot' })
    expect(applied.outcome).toBe('written')
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('active')
  })

  it('waits for a channel that is not ready, and creates nothing for an unknown one', async () => {
    const { deps, channelId } = await setup({
      status: 'created',
      account_mode: 'sandbox',
      integration: { app_id: null },
    })
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })).outcome,
    ).toBe('not_ready')
    expect(
      (await provisionChannelKey(deps, 'Nope00CH', { trigger: 'permission', principal: 't' })).outcome,
    ).toBe('unknown_channel')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(0)
  })

  it('records permission_missing on a 403 and retries only after a new permission trigger', async () => {
    const { deps, channelKeys, channelId } = await setup()
    deps.partnerApi.keyPermissionMissing.add(channelId)
    const refused = await provisionChannelKey(deps, channelId, { trigger: 'reconciliation', principal: 't' })
    expect(refused.outcome).toBe('permission_missing')
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('permission_missing')
    expect(await channelKeys.get(channelId)).toBeNull()

    const waiting = await provisionChannelKey(deps, channelId, { trigger: 'reconciliation', principal: 't' })
    expect(waiting.outcome).toBe('awaiting_permission')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(1)

    deps.partnerApi.keyPermissionMissing.delete(channelId)
    const granted = await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    expect(granted.outcome).toBe('created')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(2)
  })

  it('leaves a transient upstream failure for the next trigger, with nothing stored', async () => {
    const { deps, channelKeys, channelId } = await setup()
    const { UpstreamError } = await import('../../../shared/domain/errors')
    deps.partnerApi.failNext(
      'createChannelApiKey',
      () => new UpstreamError('boom', { upstreamStatus: 503, retryable: true }),
    )
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })).outcome,
    ).toBe('failed')
    expect(await channelKeys.has(channelId)).toBe(false)
    expect((await deps.store.channels.get(channelId))?.keyStatus ?? 'none').toBe('none')
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'reconciliation', principal: 't' })).outcome,
    ).toBe('created')
  })

  it('deletes the stored key when the permission is withdrawn, and waits for a new permission', async () => {
    const { deps, channelKeys, channelId } = await setup()
    await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    await forgetChannelKey(deps, channelId, { principal: 'system:webhook', reason: 'permission_revoked' })
    expect(await channelKeys.get(channelId)).toBeNull()
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('permission_missing')
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'reconciliation', principal: 't' })).outcome,
    ).toBe('awaiting_permission')
  })

  it('replaces an invalid key once; a replacement that fails again is left invalid (no loop)', async () => {
    const { deps, channelKeys, channelId } = await setup()
    await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    const first = (await channelKeys.get(channelId)) as string

    const replaced = await markKeyInvalidAndReprovision(deps, channelId, { failedKey: first })
    expect(replaced.outcome).toBe('created')
    const second = (await channelKeys.get(channelId)) as string
    expect(second).not.toBe(first)
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('active')

    // A late report about the first key changes nothing.
    expect((await markKeyInvalidAndReprovision(deps, channelId, { failedKey: first })).outcome).toBe(
      'stale_key',
    )
    // The replacement fails too: marked invalid, no third key.
    expect((await markKeyInvalidAndReprovision(deps, channelId, { failedKey: second })).outcome).toBe(
      'left_invalid',
    )
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('invalid')
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'reconciliation', principal: 't' })).outcome,
    ).toBe('awaiting_permission')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(2)
  })

  it('never writes the key value to the audit trail or the channel', async () => {
    const { deps, channelKeys, channelId } = await setup()
    await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    const value = (await channelKeys.get(channelId)) as string
    const trail = await deps.store.audit.list(`channel#${channelId}`, 50)
    expect(trail.items.map((e) => e.action)).toContain('channel_key.create')
    expect(JSON.stringify(trail.items)).not.toContain(value)
    expect(JSON.stringify(await deps.store.channels.get(channelId))).not.toContain(value)
  })
})

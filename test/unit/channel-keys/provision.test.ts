import { describe, expect, it } from 'vitest'
import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import type { ChannelKey } from '../../../shared/domain/channel-key'
import { provisionMissingKeys } from '../../../shared/services/channel-keys/key-triggers'
import {
  forgetChannelKey,
  markKeyInvalid,
  provisionChannelKey,
  setKeyStatus,
} from '../../../shared/services/channel-keys/provision-key'
import { healthKeys } from '../../../shared/services/health/keys'
import { applyChannel } from '../../../shared/services/state/apply-upstream'
import { makeDeps, upChannel, upClient } from '../reconciliation/support'

async function collect<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = []
  for await (const page of pages) all.push(page)
  return all
}

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

  it('replaces a refused key once, by reconciliation; a refused replacement is left invalid (no loop)', async () => {
    const { deps, channelKeys, channelId } = await setup()
    await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    const first = (await channelKeys.get(channelId)) as string
    const listed = async () => (await collect(deps.store.channels.keyNeededIds())).flat()
    // What the health job does on a 401 (shared/services/health/check-channel.ts): record the refused
    // key, and whether a replacement is due, from the key's origin; then mark the key invalid.
    const refuse = async () => {
      const target = await healthKeys(deps, channelKeys).target({ channelId } as never)
      const replace = target?.replaceable !== false
      await deps.store.channels.setKeyRejected(channelId, { key: target?.keyRef ?? '', at: 'now', replace })
      return (await markKeyInvalid(deps, channelId)).outcome
    }

    expect(await refuse()).toBe('replacement_due')
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('invalid')
    expect(await listed()).toEqual([channelId])
    // Only reconciliation's key step replaces it; any other trigger but a permission waits.
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'rotation', principal: 't' })).outcome,
    ).not.toBe('awaiting_permission')
    const afterRotation = (await channelKeys.get(channelId)) as string
    expect(await refuse()).toBe('replacement_due')
    expect(await provisionMissingKeys(deps)).toMatchObject({ candidates: 1, created: 1 })
    const second = (await channelKeys.read(channelId)) as ChannelKey
    expect([first, afterRotation]).not.toContain(second.apiKey)
    expect(second.origin).toBe('invalid_key')
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('active')
    expect(await listed()).toEqual([])
    const creations = deps.partnerApi.callCount('createChannelApiKey')

    // The replacement is refused too: invalid, not listed, no further creation by any run.
    expect(await refuse()).toBe('left_invalid')
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('invalid')
    expect(await listed()).toEqual([])
    expect(await provisionMissingKeys(deps)).toMatchObject({ candidates: 0, created: 0 })
    expect(
      (await provisionChannelKey(deps, channelId, { trigger: 'reconciliation', principal: 't' })).outcome,
    ).toBe('awaiting_permission')
    // A late report of the refusal changes nothing more.
    expect((await markKeyInvalid(deps, channelId)).outcome).toBe('not_active')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(creations)

    // A new permission ends the wait: one new key.
    const granted = await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    expect(granted.outcome).toBe('created')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(creations + 1)
    const trail = await deps.store.audit.list(`channel#${channelId}`, 50)
    // One entry per refusal (same clock time here, so in no particular order).
    const invalid = trail.items.filter((e) => e.action === 'channel_key.invalid').map((e) => e.outcome)
    expect(invalid.sort()).toEqual(['left_invalid', 'replacement_due', 'replacement_due'])
  })

  it('a new permission resets a channel waiting for one to none, so it is listed once it is ready', async () => {
    const { deps, channelId } = await setup({ status: 'submitted', account_mode: 'sandbox' })
    await setKeyStatus(deps, channelId, 'permission_missing')
    const r = await provisionChannelKey(deps, channelId, { trigger: 'permission', principal: 't' })
    expect(r.outcome).toBe('not_ready')
    expect((await deps.store.channels.get(channelId))?.keyStatus).toBe('none')
    expect(deps.partnerApi.callCount('createChannelApiKey')).toBe(0)
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

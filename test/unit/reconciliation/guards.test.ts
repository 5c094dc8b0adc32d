import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { massMissing, quarantineKey } from '../../../shared/services/reconciliation/reconcile-guards'
import { makeDeps, seedUpstream } from './support'

describe('mass missing guard', () => {
  it.each([
    [9, 10, false],
    [10, 100, true],
    [10, 200, false],
    [11, 200, true],
    [10, 10, true],
    [49, 1000, false],
    [51, 1000, true],
  ])('%i absent of %i stored halts: %s', (absent, stored, halted) => {
    expect(massMissing(absent, stored)).toBe(halted)
  })

  it('never halts below 10 absent, and always halts above 5 % from 10 on (property)', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(100_000), (absent, stored) => {
        const halted = massMissing(absent, stored)
        if (absent < 10) expect(halted).toBe(false)
        else expect(halted).toBe(absent > stored * 0.05)
      }),
    )
  })

  it('marks nothing, not even a first absence, when a sweep loses sight of many stored channels', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 2, 40)
    await reconcile(deps)
    const ids = [...deps.partnerApi.channels.keys()].slice(0, 12)
    for (const id of ids) deps.partnerApi.channels.delete(id)
    const summary = await reconcile(deps)
    expect(summary).toMatchObject({ warnings: ['mass_missing_halted'], missing: { channels: 0 } })
    expect(deps.partnerApi.callCount('findChannel')).toBe(0)
    for (const id of ids) {
      expect(await deps.store.channels.get(id), id).toMatchObject({ absentRuns: 0, missingSince: null })
    }
  })

  it('keeps marking a few absent channels as before', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 2, 40)
    await reconcile(deps)
    const [gone] = [...deps.partnerApi.channels.keys()]
    deps.partnerApi.channels.delete(gone as string)
    const summary = await reconcile(deps)
    expect(summary).toMatchObject({ warnings: [], missing: { channels: 1 } })
  })
})

describe('quarantine keys', () => {
  it('uses the id, or a stable hash of the raw item when it has none', () => {
    expect(quarantineKey({ kind: 'channel', id: 'ch1', reason: 'r', raw: '{}' })).toBe('ch1')
    const a = quarantineKey({ kind: 'channel', id: null, reason: 'r', raw: '{"x":1}' })
    expect(a).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/)
    expect(quarantineKey({ kind: 'client', id: null, reason: 'other', raw: '{"x":1}' })).toBe(a)
    expect(quarantineKey({ kind: 'client', id: null, reason: 'r', raw: '{"x":2}' })).not.toBe(a)
  })
})

import { describe, expect, it } from 'vitest'
import { deriveLifecycle, type LifecycleInput, parseVersion } from '../../../shared/domain/lifecycle'

const NOW = new Date('2026-03-15T12:00:00Z')
const base: LifecycleInput = {
  version: 2,
  accountMode: null,
  status: null,
  availabilityStatus: null,
  terminatedAt: null,
  appId: null,
  cancellationProcessed: false,
}
const derive = (patch: Partial<LifecycleInput>): string => deriveLifecycle({ ...base, ...patch }, NOW)

describe('deriveLifecycle (docs/partner-api-notes.md §4)', () => {
  it('is draft with neither app_id nor terminated_at', () => {
    expect(derive({})).toBe('draft')
  })

  it('is onboarding when integration.app_id is present', () => {
    expect(derive({ appId: '104148', accountMode: 'sandbox' })).toBe('onboarding')
  })

  it('ignores a blank app_id', () => {
    expect(derive({ appId: '  ' })).toBe('draft')
  })

  it('is live for version 2 when account_mode is live, whatever the status says', () => {
    expect(derive({ accountMode: 'live', status: 'error', appId: 'x' })).toBe('live')
  })

  it('is live for version 1 only when status is ready', () => {
    expect(derive({ version: 1, status: 'ready', accountMode: 'sandbox' })).toBe('live')
    expect(derive({ version: 1, status: 'verified', accountMode: 'live' })).toBe('onboarding')
  })

  it('is pending_deletion when terminated_at is in the future', () => {
    expect(derive({ terminatedAt: '2026-03-31T23:59:59Z', accountMode: 'live', appId: 'x' })).toBe(
      'pending_deletion',
    )
  })

  it('is terminated when terminated_at has passed, or at that very instant', () => {
    expect(derive({ terminatedAt: '2026-02-28T23:59:59Z', accountMode: 'live' })).toBe('terminated')
    expect(derive({ terminatedAt: NOW.toISOString() })).toBe('terminated')
  })

  it('is terminated after a cancellation_processed event, whatever the dates say', () => {
    expect(derive({ cancellationProcessed: true, accountMode: 'live' })).toBe('terminated')
  })

  it('counts an unparseable terminated_at as set but not passed', () => {
    expect(derive({ terminatedAt: 'soon', accountMode: 'live' })).toBe('pending_deletion')
  })

  it('is error when availability_status is error while not live', () => {
    expect(derive({ availabilityStatus: 'error', appId: 'x' })).toBe('error')
    expect(derive({ availabilityStatus: 'error', accountMode: 'live' })).toBe('live')
  })

  it.each([
    ['created', 'onboarding'],
    ['unverified', 'onboarding'],
    ['verified', 'onboarding'],
    ['certificate_declined', 'onboarding'],
    ['new_name_requested', 'onboarding'],
    ['ready', 'live'],
    ['error', 'error'],
  ])('maps version 1 status %s to %s', (status, lifecycle) => {
    expect(derive({ version: 1, status })).toBe(lifecycle)
  })

  it('is draft for version 1 without a status or app_id', () => {
    expect(derive({ version: 1 })).toBe('draft')
  })

  it('applies precedence: terminated > pending_deletion > live > error > onboarding > draft', () => {
    const all: Partial<LifecycleInput> = {
      terminatedAt: '2026-01-01T00:00:00Z',
      accountMode: 'live',
      availabilityStatus: 'error',
      appId: 'x',
    }
    expect(derive(all)).toBe('terminated')
    expect(derive({ ...all, terminatedAt: '2027-01-01T00:00:00Z' })).toBe('pending_deletion')
    expect(derive({ ...all, terminatedAt: null })).toBe('live')
    expect(derive({ ...all, terminatedAt: null, accountMode: 'sandbox' })).toBe('error')
    expect(derive({ ...all, terminatedAt: null, accountMode: 'sandbox', availabilityStatus: 'ready' })).toBe(
      'onboarding',
    )
  })

  it('treats a missing or unknown version as version 2', () => {
    expect(parseVersion(undefined)).toBe(2)
    expect(parseVersion(null)).toBe(2)
    expect(parseVersion(3)).toBe(2)
    expect(parseVersion(1)).toBe(1)
    expect(parseVersion('1')).toBe(1)
  })
})

describe('deriveLifecycle: real-world variants (README, Webhooks)', () => {
  const FUTURE = '2026-04-30T23:59:59Z'
  const PAST = '2026-02-28T23:59:59Z'

  it('lets channel_live decide live only where account_mode (or a version 1 status) is absent', () => {
    expect(derive({ event: 'channel_live', status: 'ready', availabilityStatus: 'ready' })).toBe('live')
    expect(derive({ event: 'channel_live', accountMode: 'sandbox' })).toBe('draft')
    expect(derive({ event: 'channel_live', version: 1 })).toBe('live')
    expect(derive({ event: 'channel_live', version: 1, status: 'verified' })).toBe('onboarding')
    expect(derive({ event: 'snapshot', status: 'ready' })).toBe('draft')
  })

  it('lets cancellation_request decide pending deletion only where no cancellation field is present', () => {
    expect(derive({ event: 'cancellation_request', accountMode: 'live' })).toBe('pending_deletion')
    expect(derive({ event: 'cancellation_request', terminatedAt: PAST })).toBe('terminated')
    expect(derive({ event: 'cancellation_request', hubStatus: 'deleted' })).toBe('terminated')
  })

  it('uses hub_status and cancelled_at only where terminated_at is absent', () => {
    expect(derive({ hubStatus: 'pending_deletion', accountMode: 'live' })).toBe('pending_deletion')
    expect(derive({ hubStatus: 'Cancelled', accountMode: 'live' })).toBe('pending_deletion')
    expect(derive({ hubStatus: 'deleted' })).toBe('terminated')
    expect(derive({ hubStatus: 'terminated', accountMode: 'live' })).toBe('terminated')
    expect(derive({ cancelledAt: PAST, accountMode: 'live' })).toBe('pending_deletion')
    expect(derive({ hubStatus: 'active', accountMode: 'live' })).toBe('live')
    // terminated_at present: it decides, whatever hub_status says.
    expect(derive({ hubStatus: 'deleted', terminatedAt: FUTURE })).toBe('pending_deletion')
    expect(derive({ hubStatus: 'pending_deletion', terminatedAt: PAST })).toBe('terminated')
  })
})

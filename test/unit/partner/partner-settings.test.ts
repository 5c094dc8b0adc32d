import { describe, expect, it, vi } from 'vitest'
import { buildPollerHandler } from '../../../functions/poller/handler'
import { UpstreamError } from '../../../shared/domain/errors'
import { normalizeUrl, urlMatches } from '../../../shared/domain/partner-settings'
import { getPartnerSettings, partnerSettingsStatus } from '../../../shared/services/partner/partner-settings'
import { reconcile } from '../../../shared/services/reconciliation/reconcile'
import { getStatus } from '../../../shared/services/status/get-status'
import { lambdaContext } from '../../support/lambda'
import { makeDeps, seedUpstream } from '../reconciliation/support'

const WEBHOOK = 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/webhooks/360dialog'
const CALLBACK = 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/onboarding/callback'
const ENV = { WEBHOOK_URL: WEBHOOK, ONBOARDING_CALLBACK_URL: CALLBACK }

function deployed(partner: { webhook_url?: string | null; partner_redirect_url?: string | null } = {}) {
  const deps = makeDeps({ env: ENV })
  deps.partnerApi.partner = {
    id: 'testPA',
    brand_name: 'Test',
    webhook_url: WEBHOOK,
    partner_redirect_url: CALLBACK,
    ...partner,
  }
  seedUpstream(deps.partnerApi, 1, 2)
  return deps
}

function metricsOf(spy: { mock: { calls: unknown[][] } }): Record<string, number> {
  return Object.fromEntries(spy.mock.calls.map((c) => [c[0] as string, c[2] as number]))
}

describe('partner settings drift, checked once per reconciliation run', () => {
  it('reads partner info once per run and stores a clean check', async () => {
    const deps = deployed()
    const summary = await reconcile(deps)
    expect(deps.partnerApi.callCount('getPartner')).toBe(1)
    expect(summary.warnings).not.toContain('partner_settings_drift')
    expect(await getPartnerSettings(deps)).toEqual({
      partnerId: 'testPA',
      webhookUrl: { expected: WEBHOOK, actual: WEBHOOK, ok: true },
      redirectUrl: { expected: CALLBACK, actual: CALLBACK, ok: true },
      checkedAt: '2026-01-15T10:00:00.000Z',
    })
    expect(deps.partnerApi.callCount('getPartner')).toBe(1)
  })

  it('warns partner_settings_drift and emits PartnerSettingsDrift = 1 when the webhook URL was changed in the Hub', async () => {
    const deps = deployed({ webhook_url: 'https://someone-else.example.com/hook' })
    const addMetric = vi.spyOn(deps.metrics, 'addMetric')
    const summary = await buildPollerHandler(deps)({}, lambdaContext('poller', 300_000))
    expect(summary.warnings).toContain('partner_settings_drift')
    expect(metricsOf(addMetric)).toMatchObject({ PartnerSettingsDrift: 1 })
    const view = await getPartnerSettings(deps)
    expect(view.webhookUrl).toEqual({
      expected: WEBHOOK,
      actual: 'https://someone-else.example.com/hook',
      ok: false,
    })
    expect(view.redirectUrl.ok).toBe(true)
    expect(await partnerSettingsStatus(deps)).toMatchObject({
      ok: false,
      webhookUrlOk: false,
      redirectUrlOk: true,
    })
  })

  it('emits PartnerSettingsDrift = 0 on a clean run, and drift on a missing redirect URL', async () => {
    const clean = deployed()
    const addMetric = vi.spyOn(clean.metrics, 'addMetric')
    await buildPollerHandler(clean)({}, lambdaContext('poller', 300_000))
    expect(metricsOf(addMetric)).toMatchObject({ PartnerSettingsDrift: 0 })

    const unset = deployed({ partner_redirect_url: null })
    expect((await reconcile(unset)).warnings).toContain('partner_settings_drift')
    expect((await getPartnerSettings(unset)).redirectUrl).toEqual({
      expected: CALLBACK,
      actual: null,
      ok: false,
    })
  })

  it('does not fail the run when partner info cannot be read: the failure shows in status', async () => {
    const deps = deployed()
    await reconcile(deps)
    deps.clock.advance(60_000)
    deps.partnerApi.failNext(
      'getPartner',
      () =>
        new UpstreamError('partner API GET /partners/testPA failed with 503', {
          upstreamStatus: 503,
          retryable: true,
        }),
    )
    const summary = await reconcile(deps)
    expect(summary.outcome).toBe('succeeded')
    expect(summary.warnings).not.toContain('partner_settings_drift')
    const status = await getStatus(deps)
    expect(status.partnerSettings).toEqual({
      checkedAt: '2026-01-15T10:00:00.000Z',
      ok: true,
      webhookUrlOk: true,
      redirectUrlOk: true,
      lastFailure: {
        at: '2026-01-15T10:01:00.000Z',
        code: 'upstream_unavailable',
        message: 'partner API GET /partners/testPA failed with 503',
      },
    })
    // The next good check clears the failure.
    await reconcile(deps)
    expect((await partnerSettingsStatus(deps)).lastFailure).toBeNull()
  })

  it('checks at once when GET /partner comes before the first run', async () => {
    const deps = deployed()
    expect((await getPartnerSettings(deps)).webhookUrl.ok).toBe(true)
    expect(deps.partnerApi.callCount('getPartner')).toBe(1)
  })

  it('makes no call when the deployment expects neither URL', async () => {
    const deps = makeDeps()
    seedUpstream(deps.partnerApi, 1, 1)
    await reconcile(deps)
    expect(deps.partnerApi.callCount('getPartner')).toBe(0)
  })
})

describe('URL comparison', () => {
  it('ignores what URL parsing normalises and nothing else', () => {
    expect(normalizeUrl(' HTTPS://Ops.Example.COM:443/webhooks/360dialog ')).toBe(
      'https://ops.example.com/webhooks/360dialog',
    )
    expect(urlMatches('https://ops.example.com/a', 'https://OPS.example.com:443/a')).toBe(true)
    expect(urlMatches('https://ops.example.com/a', 'https://ops.example.com/a/')).toBe(false)
    expect(urlMatches('https://ops.example.com/a', 'https://ops.example.com/A')).toBe(false)
    expect(urlMatches('https://ops.example.com/a', null)).toBe(false)
    expect(urlMatches(null, 'https://anything.example.com/')).toBe(true)
  })
})

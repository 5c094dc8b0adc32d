import type { AppDeps } from '../../deps'
import { PartnerOpsError } from '../../domain/errors'
import {
  type ExpectedPartnerSettings,
  hasDrift,
  type PartnerSettingsCheck,
  type PartnerSettingsFailure,
  type PartnerSettingsView,
  partnerSettingsView,
} from '../../domain/partner-settings'
import type { RunWarning } from '../../domain/types'

/** What the partner settings check needs. */
export type PartnerSettingsDeps = Pick<AppDeps, 'config' | 'store' | 'partnerApi' | 'clock' | 'logger'>

/**
 * What this deployment expects 360dialog to have on file: its webhook receiver (`WEBHOOK_URL`) and its
 * onboarding callback (`ONBOARDING_CALLBACK_URL`), both set by the stack (and by the local runner to its
 * own URLs).
 */
export function expectedPartnerSettings(config: AppDeps['config']): ExpectedPartnerSettings {
  return {
    webhookUrl: config.WEBHOOK_URL ?? null,
    redirectUrl: config.ONBOARDING_CALLBACK_URL ?? null,
  }
}

/**
 * Reads the partner's settings at 360dialog (one partner-info call) and stores them as the latest
 * check. A failure is noted beside the last successful check and thrown.
 */
export async function checkPartnerSettings(deps: PartnerSettingsDeps): Promise<PartnerSettingsView> {
  const expected = expectedPartnerSettings(deps.config)
  let check: PartnerSettingsCheck
  try {
    const partner = await deps.partnerApi.getPartner()
    check = {
      partnerId: partner.id,
      webhookUrl: partner.webhook_url ?? null,
      redirectUrl: partner.partner_redirect_url ?? null,
      checkedAt: deps.clock.now().toISOString(),
    }
  } catch (err: unknown) {
    const failure: PartnerSettingsFailure = {
      at: deps.clock.now().toISOString(),
      code: err instanceof PartnerOpsError ? err.code : 'internal_error',
      message: err instanceof PartnerOpsError ? err.message : 'unexpected error',
    }
    await deps.store.ops.savePartnerSettingsFailure(failure).catch((saveErr: unknown) => {
      deps.logger.warn('partner settings failure not saved', { error: errorCode(saveErr) })
    })
    throw err
  }
  await deps.store.ops.savePartnerSettingsCheck(check)
  return partnerSettingsView(check, expected)
}

function errorCode(err: unknown): string {
  return err instanceof PartnerOpsError ? err.code : err instanceof Error ? err.name : 'unknown'
}

/**
 * The reconciliation run's hook: one partner-info call per run, stored for `GET /partner`; a mismatch
 * adds `partner_settings_drift` to the run's warnings (the poller turns it into the
 * `PartnerSettingsDrift` metric the alarm reads). It never fails the run: a failed check is logged and
 * noted for `GET /status`. A deployment that expects neither URL has nothing to check and makes no call.
 */
export async function refreshPartnerSettings(
  deps: PartnerSettingsDeps,
  warnings: Set<RunWarning>,
): Promise<void> {
  const expected = expectedPartnerSettings(deps.config)
  if (expected.webhookUrl === null && expected.redirectUrl === null) return
  try {
    const view = await checkPartnerSettings(deps)
    if (hasDrift(view)) {
      warnings.add('partner_settings_drift')
      // URLs are not secrets (the webhook token travels in a header, never in the URL).
      deps.logger.warn('partner settings at 360dialog differ from this deployment', {
        webhookUrl: view.webhookUrl,
        redirectUrl: view.redirectUrl,
      })
    }
  } catch (err: unknown) {
    deps.logger.warn('partner settings check failed', { error: errorCode(err) })
  }
}

/**
 * `GET /partner`: the latest check against this deployment's URLs. Before the first run has checked,
 * it checks now (one partner-info call) and stores the result.
 */
export async function getPartnerSettings(deps: PartnerSettingsDeps): Promise<PartnerSettingsView> {
  const { check } = await deps.store.ops.getPartnerSettings()
  if (check) return partnerSettingsView(check, expectedPartnerSettings(deps.config))
  return checkPartnerSettings(deps)
}

/** The last partner settings check as `GET /status` shows it (null before the first). */
export interface PartnerSettingsStatus {
  checkedAt: string | null
  /** Both URLs match (null before the first successful check). */
  ok: boolean | null
  webhookUrlOk: boolean | null
  redirectUrlOk: boolean | null
  /** The last failed check since the last successful one. */
  lastFailure: PartnerSettingsFailure | null
}

/** The stored check, compared with this deployment's URLs, for `GET /status`. */
export async function partnerSettingsStatus(
  deps: Pick<AppDeps, 'config' | 'store'>,
): Promise<PartnerSettingsStatus> {
  const { check, failure } = await deps.store.ops.getPartnerSettings()
  if (!check) {
    return { checkedAt: null, ok: null, webhookUrlOk: null, redirectUrlOk: null, lastFailure: failure }
  }
  const view = partnerSettingsView(check, expectedPartnerSettings(deps.config))
  return {
    checkedAt: view.checkedAt,
    ok: !hasDrift(view),
    webhookUrlOk: view.webhookUrl.ok,
    redirectUrlOk: view.redirectUrl.ok,
    lastFailure: failure,
  }
}

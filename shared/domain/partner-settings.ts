/**
 * The partner's settings at 360dialog against what this deployment expects (README, "Partner settings
 * drift"): pure comparison rules, no I/O.
 */

/** What one check read from the Partner API (partner info, `GET /partners/{id}`). */
export interface PartnerSettingsCheck {
  partnerId: string
  /** `webhook_url` on file at 360dialog (null: none set). */
  webhookUrl: string | null
  /** `partner_redirect_url` on file at 360dialog (null: none set). */
  redirectUrl: string | null
  checkedAt: string
}

/** The last failed attempt to check, kept beside the last successful check. */
export interface PartnerSettingsFailure {
  at: string
  code: string
  message: string
}

/** The stored record: the last successful check and the last failure since it (if any). */
export interface PartnerSettingsRecord {
  check: PartnerSettingsCheck | null
  failure: PartnerSettingsFailure | null
}

/** What this deployment expects 360dialog to have on file; null where it has no expectation. */
export interface ExpectedPartnerSettings {
  webhookUrl: string | null
  redirectUrl: string | null
}

/** One URL at 360dialog against the one expected. */
export interface UrlCheck {
  expected: string | null
  actual: string | null
  ok: boolean
}

/** `GET /partner`. */
export interface PartnerSettingsView {
  partnerId: string
  webhookUrl: UrlCheck
  redirectUrl: UrlCheck
  checkedAt: string
}

/**
 * A URL in the form two equal URLs share: what the WHATWG URL parser makes of it (scheme and host
 * lower-cased, default port dropped, dot segments resolved). Anything else (path case, a trailing
 * slash, the query) is significant: 360dialog posts to exactly what it has on file. Unparseable text
 * stays as it is (trimmed), so it can only equal itself.
 */
export function normalizeUrl(url: string): string {
  const trimmed = url.trim()
  return URL.canParse(trimmed) ? new URL(trimmed).href : trimmed
}

/**
 * Whether what 360dialog has equals what is expected. Without an expectation (a deployment that does
 * not configure that URL) there is nothing to drift from: ok.
 */
export function urlMatches(expected: string | null, actual: string | null): boolean {
  if (expected === null) return true
  return actual !== null && normalizeUrl(expected) === normalizeUrl(actual)
}

/** The check as `GET /partner` answers it. */
export function partnerSettingsView(
  check: PartnerSettingsCheck,
  expected: ExpectedPartnerSettings,
): PartnerSettingsView {
  return {
    partnerId: check.partnerId,
    webhookUrl: {
      expected: expected.webhookUrl,
      actual: check.webhookUrl,
      ok: urlMatches(expected.webhookUrl, check.webhookUrl),
    },
    redirectUrl: {
      expected: expected.redirectUrl,
      actual: check.redirectUrl,
      ok: urlMatches(expected.redirectUrl, check.redirectUrl),
    },
    checkedAt: check.checkedAt,
  }
}

/** Whether a check shows drift on either URL. */
export function hasDrift(view: PartnerSettingsView): boolean {
  return !view.webhookUrl.ok || !view.redirectUrl.ok
}

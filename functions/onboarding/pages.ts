import type { APIGatewayProxyResult } from 'aws-lambda'
import type { CallbackOutcome } from '../../shared/domain/outcomes'
import { callbackStatus } from '../../shared/http/answers'

/**
 * The callback's browser-facing answers: small static HTML pages and the redirect, with headers that
 * keep them inert (no scripts, styles, frames or forms; never cached; no referrer leaking the `ref`).
 * No page ever contains request input; the one dynamic value is a client id that passed the id check.
 */

/** Security headers of every callback answer. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
}

function page(
  statusCode: number,
  title: string,
  text: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  const body = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body>
<h1>${title}</h1>
<p>${text}</p>
</body>
</html>
`
  return {
    statusCode,
    headers: { 'content-type': 'text/html; charset=utf-8', ...PAGE_HEADERS, ...headers },
    body,
  }
}

/** 302 to the partner's page (the location was built from validated ids only). */
export function redirectPage(location: string): APIGatewayProxyResult {
  return { statusCode: 302, headers: { location, ...PAGE_HEADERS }, body: '' }
}

/** 200: onboarding done and no redirect URL configured. */
export function confirmationPage(clientId: string): APIGatewayProxyResult {
  // The id matched /^[A-Za-z0-9]{1,32}$/; the check is repeated so this page can never carry markup.
  const id = /^[A-Za-z0-9]{1,32}$/.test(clientId) ? clientId : ''
  return page(
    200,
    'Onboarding complete',
    `Your WhatsApp Business account is connected${id ? ` (client ${id})` : ''}. You can close this window.`,
  )
}

/** 400: anything wrong with the request, without saying what (nothing is reflected). */
export function invalidLinkPage(): APIGatewayProxyResult {
  return page(
    400,
    'This onboarding link is not valid',
    'The link may have expired or been changed. Please ask for a new onboarding link.',
  )
}

/** 429 with Retry-After. */
export function tooManyRequestsPage(retryAfterSeconds: number): APIGatewayProxyResult {
  return page(429, 'Too many requests', 'Please wait a moment and reload this page.', {
    'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))),
  })
}

/** 502/503: the onboarding could not be completed right now; reloading retries it. */
function unavailablePage(statusCode: number): APIGatewayProxyResult {
  return page(
    statusCode,
    'Onboarding could not be completed yet',
    'We could not finish setting up your account right now. Please reload this page in a moment.',
  )
}

/** The page of a callback outcome, with the status ../../shared/http/answers.ts gives it. */
export function callbackPage(outcome: CallbackOutcome): APIGatewayProxyResult {
  const statusCode = callbackStatus(outcome)
  return { ...render(outcome, statusCode), statusCode }
}

function render(outcome: CallbackOutcome, statusCode: number): APIGatewayProxyResult {
  switch (outcome.kind) {
    case 'redirect':
      return outcome.location === null ? confirmationPage(outcome.clientId) : redirectPage(outcome.location)
    case 'confirmation':
      return confirmationPage(outcome.clientId)
    case 'rejected':
      return invalidLinkPage()
    case 'rate_limited':
      return tooManyRequestsPage(outcome.retryAfterSeconds)
    case 'unavailable':
      return unavailablePage(statusCode)
  }
}

import type { CONTROL_ROUTES } from './controls'
import type { Reply } from './http'
import type { OnboardOptions } from './state'
import type { PartnerJson } from './types'
import { isPlainObject } from './util'

/**
 * The two browser pages the simulator serves: the Hub permission page an Integrated Onboarding link
 * opens (`/dashboard/app/{partnerId}/permissions`), and the HTML index of the `/_sim` controls.
 * Everything reflected into HTML goes through {@link escapeHtml}.
 */

/** Escapes text for HTML element content and double-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

const STYLE = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}input{font:inherit;padding:.3rem;width:100%;box-sizing:border-box}
button{font:inherit;margin-top:1.2rem;padding:.5rem 1.2rem;background:#1d8a5a;color:#fff;border:0;border-radius:4px;cursor:pointer}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}code{word-break:break-all}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left;vertical-align:top}
.note{color:#555;font-size:.9rem}`

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>${body}</body></html>
`
}

/** An HTML reply with a status (errors of the browser pages are pages too, not JSON). */
export function htmlReply(status: number, title: string, message: string): Reply {
  return {
    status,
    html: page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>`),
  }
}

/** What the permission page shows and posts back. */
export interface PermissionRequest {
  partnerId: string
  brandName: string
  /** `partner=`: becomes the new client's partner_payload. */
  partnerPayload: string | null
  /** `redirect_url=`: overrides the partner's redirect for this client. */
  redirectUrl: string | null
  /** `number=`: a number the partner asks for. */
  number: string | null
}

/** The Hub permission page: who asks, what is granted, a client name, how many numbers, "Grant access". */
export function permissionPage(req: PermissionRequest, action: string): string {
  const hidden = (name: string, value: string | null): string =>
    value === null ? '' : `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`
  const facts = [
    ['Partner', `${req.brandName} (${req.partnerId})`],
    ...(req.partnerPayload !== null ? [['Partner reference', req.partnerPayload]] : []),
    ...(req.number !== null ? [['Requested number', req.number]] : []),
    ...(req.redirectUrl !== null ? [['Afterwards you go to', req.redirectUrl]] : []),
  ]
  return page(
    '360dialog Hub (simulator): grant permission',
    `<h1>Grant ${escapeHtml(req.brandName)} access to your WhatsApp numbers</h1>
<p class="note">Simulated 360dialog Hub permission page. Granting creates a client with draft channels,
sends the partner its webhooks, and redirects your browser with the client and channel ids.</p>
<dl>${facts.map(([k, v]) => `<dt>${escapeHtml(k ?? '')}</dt><dd><code>${escapeHtml(v ?? '')}</code></dd>`).join('')}</dl>
<form method="post" action="${escapeHtml(action)}">
${hidden('partner', req.partnerPayload)}${hidden('redirect_url', req.redirectUrl)}${hidden('number', req.number)}
<label for="name">Business name</label>
<input id="name" name="name" value="Demo Business" maxlength="200" required>
<label for="channels">Number of WhatsApp numbers</label>
<input id="channels" name="channels" type="number" min="1" max="10" value="1" required>
<button id="grant" type="submit">Grant access</button>
</form>`,
  )
}

/** The page shown after a grant when there is nowhere to redirect to. */
export function grantedPage(clientId: string, channelIds: readonly string[]): string {
  return page(
    '360dialog Hub (simulator): access granted',
    `<h1>Access granted</h1><p>No redirect URL is set (neither <code>redirect_url</code> nor the partner's
<code>partner_redirect_url</code>), so you stay here.</p>
<dl><dt>client</dt><dd><code id="client">${escapeHtml(clientId)}</code></dd>
<dt>channels</dt><dd><code id="channels">${escapeHtml(channelIds.join(', '))}</code></dd></dl>`,
  )
}

/** The HTML index of the `/_sim` controls. */
export function controlsPage(routes: typeof CONTROL_ROUTES, baseUrl: string, partnerId: string): string {
  const rows = routes
    .map(
      (r) =>
        `<tr><td><code>${escapeHtml(r.method)}</code></td><td><code>${escapeHtml(r.path)}</code></td><td>${escapeHtml(r.meaning)}</td></tr>`,
    )
    .join('\n')
  return page(
    'Partner API simulator: controls',
    `<h1>Partner API simulator</h1>
<p>Partner API base <code>${escapeHtml(baseUrl)}</code>, partner <code>${escapeHtml(partnerId)}</code>
(header <code>X-API-Key</code>). Test controls (no auth, never part of the Partner API):</p>
<table><thead><tr><th>method</th><th>path</th><th>meaning</th></tr></thead><tbody>
${rows}
</tbody></table>`,
  )
}

/** What the permission routes need from the simulator. */
export interface HubDeps {
  partnerId: string
  partner(): PartnerJson
  onboard(opts: OnboardOptions): Promise<{ client: { id: string }; channels: { id: string }[] }>
}

const MAX_GRANT_CHANNELS = 10

function redirectTarget(raw: string | null): URL | null {
  if (raw === null || raw === '') return null
  if (!URL.canParse(raw)) return null
  const url = new URL(raw)
  return url.protocol === 'http:' || url.protocol === 'https:' ? url : null
}

/**
 * `GET` / `POST /dashboard/app/{partnerId}/permissions`: the page an onboarding link opens, and its
 * grant. The grant does what `POST /_sim/onboard` does (a client with draft channels, `partner` as
 * its partner payload, `client_created` then `channel_created` webhooks) and sends the browser to
 * `redirect_url` (else the partner's `partner_redirect_url`) with `client=<id>` and
 * `channels=[<id>,…]`, as 360dialog does.
 */
export async function permissionRoute(
  deps: HubDeps,
  method: string,
  partnerId: string,
  url: URL,
  form: unknown,
): Promise<Reply> {
  if (partnerId !== deps.partnerId)
    return htmlReply(404, 'Partner not found', `No partner ${partnerId} here.`)
  const partner = deps.partner()
  if (method === 'GET') {
    const param = (name: string): string | null => {
      const v = url.searchParams.get(name)
      return v === null || v === '' ? null : v
    }
    const redirectUrl = param('redirect_url')
    if (redirectUrl !== null && redirectTarget(redirectUrl) === null) {
      return htmlReply(400, 'Invalid redirect_url', 'redirect_url must be an absolute http(s) URL.')
    }
    const req: PermissionRequest = {
      partnerId,
      brandName: partner.brand_name,
      partnerPayload: param('partner'),
      redirectUrl,
      number: param('number'),
    }
    return { status: 200, html: permissionPage(req, url.pathname) }
  }
  if (method !== 'POST') return htmlReply(405, 'Method not allowed', 'Use GET or POST.')
  const fields = isPlainObject(form) ? form : {}
  const field = (name: string): string | null => {
    const v = fields[name]
    return typeof v === 'string' && v !== '' ? v : null
  }
  const name = field('name')?.trim() ?? ''
  const channels = Number(field('channels') ?? '1')
  if (name === '' || name.length > 200) {
    return htmlReply(400, 'Business name required', 'Enter a business name of at most 200 characters.')
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > MAX_GRANT_CHANNELS) {
    return htmlReply(400, 'Invalid number of numbers', `Choose 1 to ${MAX_GRANT_CHANNELS} numbers.`)
  }
  const rawRedirect = field('redirect_url') ?? partner.partner_redirect_url
  const target = redirectTarget(rawRedirect)
  if (rawRedirect !== null && target === null) {
    return htmlReply(400, 'Invalid redirect_url', 'redirect_url must be an absolute http(s) URL.')
  }
  const payload = field('partner')
  const result = await deps.onboard({
    name,
    channels,
    ...(payload !== null ? { partner_payload: payload } : {}),
  })
  const channelIds = result.channels.map((c) => c.id)
  if (target === null) return { status: 200, html: grantedPage(result.client.id, channelIds) }
  target.searchParams.set('client', result.client.id)
  target.searchParams.set('channels', `[${channelIds.join(',')}]`)
  return { status: 302, headers: { location: target.href, 'cache-control': 'no-store' } }
}

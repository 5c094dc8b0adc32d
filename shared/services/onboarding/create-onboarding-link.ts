import { randomBytes } from 'node:crypto'
import type { AppDeps } from '../../deps'
import { ConfigError, ValidationError } from '../../domain/errors'
import { signOnboardingRef } from '../../domain/onboarding-ref'

/** What building a link needs. */
export type OnboardingLinkDeps = Pick<AppDeps, 'config' | 'secrets' | 'clock'>

/** The answer of `POST /onboarding-links`. */
export interface OnboardingLink {
  url: string
  /** When the link's signed reference stops being accepted by the callback. */
  expiresAt: string
}

/** The path under the Hub (`HUB_BASE_URL`) where a client grants the partner permissions. */
export const PERMISSIONS_PATH = '/dashboard/app'

/** Query names 360dialog reserves in a partner's redirect URL (docs/partner-api-notes.md §5). */
export const RESERVED_REDIRECT_PARAMS: readonly string[] = ['client', 'channel', 'project']

/** Longest accepted partner redirect URL, in characters. */
export const MAX_REDIRECT_URL_LENGTH = 2048

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]'])

/** What a link is built from (the body of `POST /onboarding-links`, validated at the edge). */
export interface OnboardingLinkInput {
  partnerPayload: string
  redirectUrl?: string | undefined
  number?: string | undefined
}

/**
 * `POST /onboarding-links` (docs/openapi.yaml): checks the redirect URL, signs an expiring
 * reference to the partner payload and redirect URL with the link signing key, and answers the Hub
 * permissions URL with `partner`, `redirect_url` (the callback carrying the reference) and `number`.
 * Nothing is stored: the reference is the state.
 */
export async function createOnboardingLink(
  deps: OnboardingLinkDeps,
  body: OnboardingLinkInput,
): Promise<OnboardingLink> {
  const redirectUrl = body.redirectUrl === undefined ? undefined : checkRedirectUrl(body.redirectUrl)
  const callback = deps.config.ONBOARDING_CALLBACK_URL
  if (!callback) throw new ConfigError('ONBOARDING_CALLBACK_URL is not configured')
  const key = await deps.secrets.get('linkSigningKey')
  if (!key) throw new ConfigError('the link signing key is not configured')

  const nowSeconds = Math.floor(deps.clock.now().getTime() / 1000)
  const exp = nowSeconds + deps.config.ONBOARDING_LINK_TTL_SECONDS
  const ref = signOnboardingRef(
    {
      partnerPayload: body.partnerPayload,
      ...(redirectUrl ? { redirectUrl } : {}),
      iat: nowSeconds,
      exp,
      // A ref binds to the first client that completes with it: without a nonce, two links for one
      // payload issued in the same second would be one ref, and the second client would be refused.
      nonce: randomBytes(9).toString('base64url'),
    },
    key,
  )
  const callbackUrl = new URL(callback)
  callbackUrl.searchParams.set('ref', ref)

  const params = [
    `partner=${encodeURIComponent(body.partnerPayload)}`,
    `redirect_url=${encodeURIComponent(callbackUrl.href)}`,
    ...(body.number ? [`number=${encodeURIComponent(body.number)}`] : []),
  ]
  const partner = encodeURIComponent(deps.config.PARTNER_ID)
  return {
    url: `${deps.config.HUB_BASE_URL.replace(/\/+$/, '')}${PERMISSIONS_PATH}/${partner}/permissions?${params.join('&')}`,
    expiresAt: new Date(exp * 1000).toISOString(),
  }
}

/**
 * Checks a partner redirect URL: absolute https (http only for localhost and 127.0.0.1), no
 * credentials, and none of the query names 360dialog reserves. Returns the normalized URL.
 */
export function checkRedirectUrl(value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw invalidRedirect('redirectUrl must be an absolute URL')
  }
  const loopback = LOOPBACK_HOSTS.has(url.hostname.toLowerCase())
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    throw invalidRedirect('redirectUrl must use https (http is allowed only for localhost)')
  }
  if (url.username !== '' || url.password !== '') {
    throw invalidRedirect('redirectUrl must not carry credentials')
  }
  const names = new Set([...url.searchParams.keys()].map((k) => k.toLowerCase()))
  const reserved = RESERVED_REDIRECT_PARAMS.filter((name) => names.has(name))
  if (reserved.length > 0) {
    throw invalidRedirect(
      `redirectUrl must not use the reserved query names ${RESERVED_REDIRECT_PARAMS.join(', ')}`,
    )
  }
  if (url.href.length > MAX_REDIRECT_URL_LENGTH) throw invalidRedirect('redirectUrl is too long')
  return url.href
}

function invalidRedirect(message: string): ValidationError {
  return new ValidationError(message, { code: 'invalid_redirect_url' })
}

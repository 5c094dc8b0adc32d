/**
 * The route table of the public API (docs/openapi.yaml), shared by the CDK stack (which builds API
 * Gateway resources from it) and the local server (which routes requests with it).
 */

/** The Lambda functions that serve HTTP routes. */
export type HttpFunctionName = 'webhook' | 'api' | 'export' | 'onboarding' | 'channelKeys'

export interface RouteSpec {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  /** API Gateway resource path with `{param}` placeholders. */
  path: string
  fn: HttpFunctionName
  /** `iam`: AWS SigV4 (AWS_IAM on API Gateway); `none`: public, authenticated by the function itself. */
  auth: 'iam' | 'none'
}

/** The webhook route (docs/openapi.yaml). */
export const WEBHOOK_PATH = '/webhooks/360dialog'
/** The public onboarding callback (docs/openapi.yaml). */
export const CALLBACK_PATH = '/onboarding/callback'
/** The cancellation route (docs/openapi.yaml): request, read, revoke. */
export const CANCELLATION_PATH = '/clients/{clientId}/channels/{channelId}/cancellation'
/** A channel's Messaging API key (docs/openapi.yaml): readable only with the key-reader policy. */
export const API_KEY_PATH = '/channels/{channelId}/api-key'
/** Rotation of a channel's Messaging API key. */
export const API_KEY_ROTATE_PATH = '/channels/{channelId}/api-key/rotate'

/** The routes only the key-reader caller policy allows (never the read-only or operator policies). */
export function isKeyRoute(route: Pick<RouteSpec, 'path'>): boolean {
  return route.path === API_KEY_PATH || route.path === API_KEY_ROTATE_PATH
}

export const ROUTES: readonly RouteSpec[] = [
  { method: 'POST', path: WEBHOOK_PATH, fn: 'webhook', auth: 'none' },
  { method: 'GET', path: '/clients', fn: 'api', auth: 'iam' },
  { method: 'GET', path: '/clients/{clientId}', fn: 'api', auth: 'iam' },
  { method: 'PATCH', path: '/clients/{clientId}', fn: 'onboarding', auth: 'iam' },
  { method: 'GET', path: '/channels', fn: 'api', auth: 'iam' },
  { method: 'GET', path: '/channels/{channelId}', fn: 'api', auth: 'iam' },
  { method: 'POST', path: CANCELLATION_PATH, fn: 'api', auth: 'iam' },
  { method: 'GET', path: CANCELLATION_PATH, fn: 'api', auth: 'iam' },
  { method: 'DELETE', path: CANCELLATION_PATH, fn: 'api', auth: 'iam' },
  { method: 'GET', path: '/exports/channels.csv', fn: 'export', auth: 'iam' },
  { method: 'GET', path: '/status', fn: 'api', auth: 'iam' },
  { method: 'GET', path: '/clients/{clientId}/balance', fn: 'api', auth: 'iam' },
  { method: 'GET', path: '/partner', fn: 'api', auth: 'iam' },
  { method: 'GET', path: API_KEY_PATH, fn: 'channelKeys', auth: 'iam' },
  { method: 'POST', path: API_KEY_ROTATE_PATH, fn: 'channelKeys', auth: 'iam' },
  { method: 'POST', path: '/onboarding-links', fn: 'onboarding', auth: 'iam' },
  { method: 'GET', path: CALLBACK_PATH, fn: 'onboarding', auth: 'none' },
]

/** A matched route with its path parameters (URL-decoded). */
export interface RouteMatch {
  route: RouteSpec
  pathParameters: Record<string, string>
}

const compiled = ROUTES.map((route) => {
  const names: string[] = []
  const pattern = route.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name)
    return '([^/]+)'
  })
  return { route, names, regex: new RegExp(`^${pattern}$`) }
})

/**
 * Finds the route for a method and path. Returns `{ methodNotAllowed: true }` when the path exists
 * with another method, null when no route has the path.
 */
export function matchRoute(method: string, path: string): RouteMatch | { methodNotAllowed: true } | null {
  let pathExists = false
  for (const c of compiled) {
    const m = c.regex.exec(path)
    if (!m) continue
    pathExists = true
    if (c.route.method !== method) continue
    const pathParameters: Record<string, string> = {}
    c.names.forEach((name, i) => {
      pathParameters[name] = decodeURIComponent(m[i + 1] ?? '')
    })
    return { route: c.route, pathParameters }
  }
  return pathExists ? { methodNotAllowed: true } : null
}

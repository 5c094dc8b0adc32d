import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { NotFoundError, ValidationError } from '../../shared/domain/errors'
import { ID_PATTERN } from '../../shared/domain/ids'
import type { CancellationOutcome } from '../../shared/domain/outcomes'
import { QUALITY_RATINGS } from '../../shared/domain/signals'
import { LIFECYCLES } from '../../shared/domain/types'
import { cancellationAnswer, ok } from '../../shared/http/answers'
import { type CancellationBody, parseCancellationBody } from '../../shared/http/bodies'
import { auditedWrite, type WriteRequest } from '../../shared/http/idempotency'
import {
  checkQueryNames,
  optionalChoice,
  optionalFilter,
  optionalSearch,
  parsePageQuery,
} from '../../shared/http/query'
import { matchRoute } from '../../shared/http/routes'
import { getBalance } from '../../shared/services/balance/get-balance'
import {
  type CancellationDeps,
  type CancellationInput,
  cancellationPath,
} from '../../shared/services/cancellation/cancellation-common'
import { getCancellation } from '../../shared/services/cancellation/get-cancellation'
import { requestCancellation } from '../../shared/services/cancellation/request-cancellation'
import { revokeCancellation } from '../../shared/services/cancellation/revoke-cancellation'
import { lockDurationMs } from '../../shared/services/idempotency/attempts'
import { getPartnerSettings } from '../../shared/services/partner/partner-settings'
import { getChannel } from '../../shared/services/reads/get-channel'
import { getClient } from '../../shared/services/reads/get-client'
import { listChannels } from '../../shared/services/reads/list-channels'
import { listClients } from '../../shared/services/reads/list-clients'
import { toCancellationView } from '../../shared/services/reads/views'
import { getStatus } from '../../shared/services/status/get-status'

/** A route: the event, its checked path parameters and the caller's principal. */
export type RouteHandler = (
  event: APIGatewayProxyEvent,
  params: Record<string, string>,
  principal: string,
) => Promise<APIGatewayProxyResult>

const STATUS_FILTER = /^[A-Za-z0-9_-]{1,64}$/
/** Meta's messaging tiers (TIER_250, TIER_1K … TIER_UNLIMITED, any case), or a plain number some bodies send. */
const MESSAGING_LIMIT_FILTER = /^(TIER_([0-9]{1,6}K?|UNLIMITED)|[0-9]{1,9})$/i
const ACCOUNT_MODES = ['live', 'sandbox'] as const
/** `health.status` values (docs/partner-api-notes.md, Messaging API health): Cloud API, then on-premise. */
const HEALTH_STATUSES = [
  'AVAILABLE',
  'LIMITED',
  'BLOCKED',
  'connected',
  'connecting',
  'disconnected',
  'uninitialized',
  'unregistered',
] as const
/** The query parameters each list route takes: any other is a 400 before anything is read. */
const CHANNEL_LIST_PARAMS = [
  'limit',
  'cursor',
  'clientId',
  'lifecycle',
  'quality',
  'messagingLimit',
  'accountMode',
  'health',
  'q',
] as const
const CLIENT_LIST_PARAMS = ['limit', 'cursor', 'status', 'q'] as const

/** The object without its undefined values (exactOptionalPropertyTypes). */
function definedOnly<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>
  }
}

/** An audited, idempotent cancellation route (request or revoke) over its service. */
function cancellationRoute(
  deps: AppDeps,
  action: 'cancellation.request' | 'cancellation.revoke',
  method: 'POST' | 'DELETE',
  service: (deps: CancellationDeps, input: CancellationInput) => Promise<CancellationOutcome>,
): RouteHandler {
  return auditedWrite<CancellationBody>(deps, {
    action,
    method,
    path: (p) => cancellationPath(p['clientId'] ?? '', p['channelId'] ?? ''),
    subject: (p) => `channel#${p['channelId'] ?? ''}`,
    details: (p) => ({ clientId: p['clientId'] ?? '' }),
    parseBody: parseCancellationBody,
    auditBody: (b) => (b.reason !== undefined ? { reason: b.reason } : {}),
    lockMs: lockDurationMs(deps.config),
    run: async (req: WriteRequest<CancellationBody>) =>
      cancellationAnswer(
        await service(deps, {
          principal: req.principal,
          clientId: req.params['clientId'] ?? '',
          channelId: req.params['channelId'] ?? '',
          key: req.key,
          reason: req.body.reason ?? null,
          attempt: req.attempt,
        }),
      ),
  })
}

/**
 * The management API's routes (docs/openapi.yaml; the CSV export is the export function's) over the shared services. The handler has checked the
 * caller's principal and every path id before any route runs.
 */
export function createRoutes(deps: AppDeps): Record<string, RouteHandler> {
  return {
    'GET /clients': async (event) => {
      const q = event.queryStringParameters
      checkQueryNames(q, event.multiValueQueryStringParameters, CLIENT_LIST_PARAMS)
      const filter = definedOnly({ status: optionalFilter(q, 'status', STATUS_FILTER), q: optionalSearch(q) })
      return ok(200, await listClients(deps, { ...parsePageQuery(q), ...filter }))
    },
    'GET /clients/{clientId}': async (event, params) => {
      checkQueryNames(event.queryStringParameters, event.multiValueQueryStringParameters, [])
      return ok(200, await getClient(deps, params['clientId'] ?? ''))
    },
    'GET /channels': async (event) => {
      const q = event.queryStringParameters
      checkQueryNames(q, event.multiValueQueryStringParameters, CHANNEL_LIST_PARAMS)
      const filter = definedOnly({
        clientId: optionalFilter(q, 'clientId', ID_PATTERN),
        lifecycle: optionalChoice(q, 'lifecycle', LIFECYCLES),
        quality: optionalChoice(q, 'quality', QUALITY_RATINGS),
        messagingLimit: optionalFilter(q, 'messagingLimit', MESSAGING_LIMIT_FILTER),
        accountMode: optionalChoice(q, 'accountMode', ACCOUNT_MODES),
        health: optionalChoice(q, 'health', HEALTH_STATUSES, { caseInsensitive: true }),
        q: optionalSearch(q),
      })
      return ok(200, await listChannels(deps, { ...parsePageQuery(q), ...filter }))
    },
    'GET /channels/{channelId}': async (event, params) => {
      checkQueryNames(event.queryStringParameters, event.multiValueQueryStringParameters, [])
      return ok(200, await getChannel(deps, params['channelId'] ?? ''))
    },
    'POST /clients/{clientId}/channels/{channelId}/cancellation': cancellationRoute(
      deps,
      'cancellation.request',
      'POST',
      requestCancellation,
    ),
    'DELETE /clients/{clientId}/channels/{channelId}/cancellation': cancellationRoute(
      deps,
      'cancellation.revoke',
      'DELETE',
      revokeCancellation,
    ),
    'GET /clients/{clientId}/channels/{channelId}/cancellation': async (_event, params) => {
      const record = await getCancellation(deps, {
        clientId: params['clientId'] ?? '',
        channelId: params['channelId'] ?? '',
      })
      return ok(200, toCancellationView(record))
    },
    'GET /status': async (event) => {
      checkQueryNames(event.queryStringParameters, event.multiValueQueryStringParameters, [])
      return ok(200, await getStatus(deps))
    },
    'GET /clients/{clientId}/balance': async (event, params) => {
      noQueryParameters(event)
      return ok(200, await getBalance(deps, params['clientId'] ?? ''))
    },
    'GET /partner': async (event) => {
      noQueryParameters(event)
      return ok(200, await getPartnerSettings(deps))
    },
  }
}

/** A route that takes no query parameters: any one is a 400 naming it, before anything is read or sent. */
function noQueryParameters(event: APIGatewayProxyEvent): void {
  const names = Object.keys(event.queryStringParameters ?? {})
  if (names.length > 0) {
    throw new ValidationError(`Unknown query parameter ${names[0]}`, { code: 'invalid_query' })
  }
}

/** Finds the route of an event: by API Gateway's `resource` template, else by matching the path. */
export function resolveRoute(
  event: APIGatewayProxyEvent,
  routes: Record<string, RouteHandler>,
): { handler: RouteHandler; params: Record<string, string> } {
  const method = event.httpMethod.toUpperCase()
  const byResource = routes[`${method} ${event.resource}`]
  if (byResource) {
    const params: Record<string, string> = {}
    for (const [k, v] of Object.entries(event.pathParameters ?? {})) if (v !== undefined) params[k] = v
    return { handler: byResource, params }
  }
  const match = matchRoute(method, event.path)
  const handler = match && 'route' in match ? routes[`${method} ${match.route.path}`] : undefined
  if (!match || !('route' in match) || !handler) {
    throw new NotFoundError('No such route', { code: 'route_not_found' })
  }
  return { handler, params: match.pathParameters }
}

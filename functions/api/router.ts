import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { NotFoundError, PayloadTooLargeError } from '../../shared/domain/errors'
import { LIFECYCLES, type Lifecycle, type StoredResponse } from '../../shared/domain/types'
import { principalFromEvent } from '../../shared/http/principal'
import { optionalFilter, parsePageQuery } from '../../shared/http/query'
import { json } from '../../shared/http/responses'
import { matchRoute } from '../../shared/http/routes'
import type { CancellationInput } from '../../shared/services/cancellation/cancellation-common'
import { getCancellation } from '../../shared/services/cancellation/get-cancellation'
import { requestCancellation } from '../../shared/services/cancellation/request-cancellation'
import { revokeCancellation } from '../../shared/services/cancellation/revoke-cancellation'
import { exportChannels } from '../../shared/services/export/export-channels'
import { idempotencyKeyHeader } from '../../shared/services/idempotency/idempotency'
import { getChannel } from '../../shared/services/reads/get-channel'
import { getClient } from '../../shared/services/reads/get-client'
import { listChannels } from '../../shared/services/reads/list-channels'
import { listClients } from '../../shared/services/reads/list-clients'
import { ID_PATTERN } from '../../shared/services/reads/views'
import { getStatus } from '../../shared/services/status/get-status'

/**
 * A response whose body is produced while it is sent. Only the local server understands it
 * (`streamResponses`); Lambda behind API Gateway REST always gets a buffered APIGatewayProxyResult.
 */
export type StreamingResult = APIGatewayProxyResult & { bodyStream: AsyncIterable<string> }

/** Options of the management API function. */
export interface ApiOptions {
  /**
   * Stream the CSV export as it is produced (the local server pipes `bodyStream`). Off in Lambda: API
   * Gateway REST proxy responses are buffered, so there the export is capped by `exportMaxBytes`.
   */
  streamResponses?: boolean
  /**
   * Largest buffered export, counted as the JSON-escaped body Lambda returns (its synchronous payload
   * limit is 6 MB including that envelope). Beyond it: 413 `export_too_large`. Default 5,000,000.
   */
  exportMaxBytes?: number
}

/** Default cap of a buffered export (about 25,000 channels at ~200 bytes a row). */
export const EXPORT_MAX_BYTES = 5_000_000

type RouteHandler = (
  event: APIGatewayProxyEvent,
  params: Record<string, string>,
) => Promise<APIGatewayProxyResult | StreamingResult>

const CSV_HEADERS = {
  'content-type': 'text/csv; charset=utf-8',
  'content-disposition': 'attachment; filename="channels.csv"',
  'cache-control': 'no-store',
}

const STATUS_FILTER = /^[A-Za-z0-9_-]{1,64}$/
const LIFECYCLE_FILTER = new RegExp(`^(${LIFECYCLES.join('|')})$`)

function decodedBody(event: APIGatewayProxyEvent): string | null {
  if (event.body === null || event.body === undefined) return null
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body
}

function fromStored(response: StoredResponse, replayed: boolean): APIGatewayProxyResult {
  return {
    statusCode: response.statusCode,
    headers: replayed ? { ...response.headers, 'idempotent-replayed': 'true' } : { ...response.headers },
    body: response.body,
  }
}

function cancellationInput(event: APIGatewayProxyEvent, params: Record<string, string>): CancellationInput {
  return {
    principal: principalFromEvent(event),
    clientId: params['clientId'] ?? '',
    channelId: params['channelId'] ?? '',
    idempotencyKey: idempotencyKeyHeader(event.headers),
    body: decodedBody(event),
  }
}

async function bufferedExport(deps: AppDeps, maxBytes: number): Promise<APIGatewayProxyResult> {
  const parts: string[] = []
  let size = 0
  for await (const chunk of exportChannels(deps)) {
    // Lambda returns the body inside a JSON envelope: count it escaped, as it will travel.
    size += JSON.stringify(chunk).length - 2
    if (size > maxBytes) {
      throw new PayloadTooLargeError(
        'The export is larger than one API response can carry; page through GET /channels instead',
      )
    }
    parts.push(chunk)
  }
  return { statusCode: 200, headers: { ...CSV_HEADERS }, body: parts.join('') }
}

/**
 * The management API's routes (docs/openapi.yaml) over the shared services. The handler has checked the
 * caller's principal before any route runs.
 */
export function createRoutes(deps: AppDeps, opts: ApiOptions = {}): Record<string, RouteHandler> {
  const maxBytes = opts.exportMaxBytes ?? EXPORT_MAX_BYTES
  return {
    'GET /clients': async (event) => {
      const q = event.queryStringParameters
      const status = optionalFilter(q, 'status', STATUS_FILTER)
      return json(200, await listClients(deps, { ...parsePageQuery(q), ...(status ? { status } : {}) }))
    },
    'GET /clients/{clientId}': async (_event, params) => {
      return json(200, await getClient(deps, params['clientId'] ?? ''))
    },
    'GET /channels': async (event) => {
      const q = event.queryStringParameters
      const clientId = optionalFilter(q, 'clientId', ID_PATTERN)
      const lifecycle = optionalFilter(q, 'lifecycle', LIFECYCLE_FILTER) as Lifecycle | undefined
      return json(
        200,
        await listChannels(deps, {
          ...parsePageQuery(q),
          ...(clientId ? { clientId } : {}),
          ...(lifecycle ? { lifecycle } : {}),
        }),
      )
    },
    'GET /channels/{channelId}': async (_event, params) => {
      return json(200, await getChannel(deps, params['channelId'] ?? ''))
    },
    'POST /clients/{clientId}/channels/{channelId}/cancellation': async (event, params) => {
      const result = await requestCancellation(deps, cancellationInput(event, params))
      return fromStored(result.response, result.replayed)
    },
    'DELETE /clients/{clientId}/channels/{channelId}/cancellation': async (event, params) => {
      const result = await revokeCancellation(deps, cancellationInput(event, params))
      return fromStored(result.response, result.replayed)
    },
    'GET /clients/{clientId}/channels/{channelId}/cancellation': async (_event, params) => {
      return json(
        200,
        await getCancellation(deps, {
          clientId: params['clientId'] ?? '',
          channelId: params['channelId'] ?? '',
        }),
      )
    },
    'GET /exports/channels.csv': async () => {
      if (!opts.streamResponses) return bufferedExport(deps, maxBytes)
      const streaming: StreamingResult = {
        statusCode: 200,
        headers: { ...CSV_HEADERS },
        body: '',
        bodyStream: exportChannels(deps),
      }
      return streaming
    },
    'GET /status': async () => {
      return json(200, await getStatus(deps))
    },
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

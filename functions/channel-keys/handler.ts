import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { NotFoundError, ValidationError } from '../../shared/domain/errors'
import { ok } from '../../shared/http/answers'
import { auditedWrite } from '../../shared/http/idempotency'
import { httpErrorHandler } from '../../shared/http/middleware'
import { principalFromEvent } from '../../shared/http/principal'
import { checkPathIds } from '../../shared/http/query'
import { API_KEY_PATH, API_KEY_ROTATE_PATH } from '../../shared/http/routes'
import { readChannelKey, rotateChannelKey } from '../../shared/services/channel-keys/read-key'
import { lockDurationMs } from '../../shared/services/idempotency/attempts'

/** The channel-keys function as Lambda (and the local server) calls it. */
export type ChannelKeysHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>

/** A rotation takes no body (an empty JSON object is accepted). */
function parseRotationBody(raw: string | null): Record<string, never> {
  if (raw === null || raw.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new ValidationError('The body must be empty or {}', { code: 'invalid_json' })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).length > 0) {
    throw new ValidationError('The body must be empty or {}', { code: 'invalid_body' })
  }
  return {}
}

/**
 * Builds the channel-keys function (docs/openapi.yaml): `GET /channels/{channelId}/api-key` answers
 * the stored key (audited, `cache-control: no-store`), `POST …/api-key/rotate` replaces it
 * (Idempotency-Key, audited). API Gateway lets only callers with the key-reader policy reach it.
 * Nothing here logs a key: errors are answered by code and message only.
 */
export function buildChannelKeysHandler(deps: AppDeps): ChannelKeysHandler {
  const rotate = auditedWrite<Record<string, never>>(deps, {
    action: 'channel_key.rotate_request',
    method: 'POST',
    path: (p) => `/channels/${p['channelId'] ?? ''}/api-key/rotate`,
    subject: (p) => `channel#${p['channelId'] ?? ''}`,
    parseBody: parseRotationBody,
    lockMs: lockDurationMs(deps.config),
    run: async (req) => {
      const { view, upstreamStatus } = await rotateChannelKey(deps, req.params['channelId'] ?? '', {
        principal: req.principal,
        idempotencyKey: req.key,
      })
      req.attempt.upstreamStatus = upstreamStatus
      return ok(200, view, 'rotated')
    },
  })
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .use(httpErrorHandler(deps.logger))
    .handler(async (event) => {
      const route = `${event.httpMethod} ${event.resource}`
      const principal = principalFromEvent(event)
      const params = { channelId: event.pathParameters?.['channelId'] ?? '' }
      checkPathIds(params)
      switch (route) {
        case `GET ${API_KEY_PATH}`: {
          const answer = ok(200, await readChannelKey(deps, params.channelId, principal), 'read')
          // A secret: no cache on the way may keep it.
          answer.headers['cache-control'] = 'no-store'
          return answer
        }
        case `POST ${API_KEY_ROTATE_PATH}`:
          return rotate(event, params, principal)
        default:
          throw new NotFoundError('No such route', { code: 'route_not_found' })
      }
    })
}

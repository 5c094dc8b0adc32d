import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { httpErrorHandler } from '../../shared/http/middleware'
import { principalFromEvent } from '../../shared/http/principal'
import { sourceAddress } from '../../shared/http/rate-limit'
import { errorResponse, json } from '../../shared/http/responses'
import { updateClientSettings } from '../../shared/services/client-settings/update-client-settings'
import { idempotencyKeyHeader } from '../../shared/services/idempotency/idempotency'
import { createOnboardingLink } from '../../shared/services/onboarding/create-onboarding-link'
import {
  type CallbackOutcome,
  handleOnboardingCallback,
} from '../../shared/services/onboarding/handle-onboarding-callback'
import {
  confirmationPage,
  invalidLinkPage,
  redirectPage,
  tooManyRequestsPage,
  unavailablePage,
} from './pages'

/** The onboarding function as Lambda (and the local server) calls it. */
export type OnboardingHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>

/** Metric names of the callback, one count per outcome. */
export const ONBOARDING_METRICS = {
  stored: 'OnboardingCallbackStored',
  rejected: 'OnboardingCallbackRejected',
  rateLimited: 'OnboardingCallbackRateLimited',
  failed: 'OnboardingCallbackFailed',
  payloadNotSet: 'OnboardingPayloadNotSet',
} as const

/**
 * Builds the onboarding function (docs/openapi.yaml): `POST
 * /onboarding-links` and `PATCH /clients/{clientId}` (SigV4, JSON) and the public `GET
 * /onboarding/callback` (HTML pages and redirects only, never JSON or reflected input).
 */
export function buildOnboardingHandler(deps: AppDeps): OnboardingHandler {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .use(httpErrorHandler(deps.logger))
    .handler(async (event) => {
      const route = `${event.httpMethod} ${event.resource}`
      switch (route) {
        case 'GET /onboarding/callback':
          return callback(deps, event)
        case 'POST /onboarding-links': {
          principalFromEvent(event)
          return json(200, await createOnboardingLink(deps, bodyText(event)))
        }
        case 'PATCH /clients/{clientId}': {
          const principal = principalFromEvent(event)
          const { response, replayed } = await updateClientSettings(deps, {
            principal,
            clientId: event.pathParameters?.['clientId'] ?? '',
            idempotencyKey: idempotencyKeyHeader(event.headers),
            body: bodyText(event),
          })
          return {
            statusCode: response.statusCode,
            headers: { ...response.headers, ...(replayed ? { 'idempotent-replayed': 'true' } : {}) },
            body: response.body,
          }
        }
        default:
          return errorResponse(404, 'route_not_found', 'No such route')
      }
    })
}

async function callback(deps: AppDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  let outcome: CallbackOutcome
  try {
    outcome = await handleOnboardingCallback(deps, {
      queryStringParameters: event.queryStringParameters,
      multiValueQueryStringParameters: event.multiValueQueryStringParameters,
      source: sourceAddress(event),
    })
  } catch (err) {
    // Only the rate-limit store can throw here; the browser still gets a page, never JSON.
    deps.logger.error('onboarding callback failed', { error: err })
    deps.metrics.addMetric(ONBOARDING_METRICS.failed, MetricUnit.Count, 1)
    return unavailablePage(503)
  }
  switch (outcome.kind) {
    case 'redirect':
    case 'confirmation':
      deps.metrics.addMetric(ONBOARDING_METRICS.stored, MetricUnit.Count, 1)
      if (outcome.payload === 'failed' || outcome.payload === 'skipped_client_predates_link') {
        deps.metrics.addMetric(ONBOARDING_METRICS.payloadNotSet, MetricUnit.Count, 1)
      }
      return outcome.location === null ? confirmationPage(outcome.clientId) : redirectPage(outcome.location)
    case 'rejected':
      deps.logger.info('onboarding callback refused', { reason: outcome.reason })
      deps.metrics.addMetric(ONBOARDING_METRICS.rejected, MetricUnit.Count, 1)
      return invalidLinkPage()
    case 'rate_limited':
      deps.metrics.addMetric(ONBOARDING_METRICS.rateLimited, MetricUnit.Count, 1)
      return tooManyRequestsPage(outcome.retryAfterSeconds)
    case 'unavailable':
      deps.metrics.addMetric(ONBOARDING_METRICS.failed, MetricUnit.Count, 1)
      return unavailablePage(outcome.status)
  }
}

/** The decoded request body (API Gateway may pass it base64-encoded), or null. */
function bodyText(event: APIGatewayProxyEvent): string | null {
  if (event.body === null || event.body === undefined) return null
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body
}

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { MetricUnit } from '@aws-lambda-powertools/metrics'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { NotFoundError } from '../../shared/domain/errors'
import type { CallbackOutcome } from '../../shared/domain/outcomes'
import { callbackAuditOutcome, clientSettingsAnswer, ok } from '../../shared/http/answers'
import { type ClientSettingsBody, parseClientSettingsBody, parseLinkBody } from '../../shared/http/bodies'
import { auditedWrite, bodyText } from '../../shared/http/idempotency'
import { httpErrorHandler } from '../../shared/http/middleware'
import { principalFromEvent } from '../../shared/http/principal'
import { checkPathIds } from '../../shared/http/query'
import { consumeSourceBudget, sourceAddress } from '../../shared/http/rate-limit'
import { updateClientSettings } from '../../shared/services/client-settings/update-client-settings'
import { lockDurationMs } from '../../shared/services/idempotency/attempts'
import { createOnboardingLink } from '../../shared/services/onboarding/create-onboarding-link'
import {
  CALLBACK_WINDOW_MS,
  CallbackAudit,
  handleOnboardingCallback,
} from '../../shared/services/onboarding/handle-onboarding-callback'
import { callbackPage } from './pages'

/** The onboarding function as Lambda (and the local server) calls it. */
export type OnboardingHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>

/** Metric names of the callback, one count per outcome, and of client settings. */
export const ONBOARDING_METRICS = {
  stored: 'OnboardingCallbackStored',
  rejected: 'OnboardingCallbackRejected',
  rateLimited: 'OnboardingCallbackRateLimited',
  failed: 'OnboardingCallbackFailed',
  payloadNotSet: 'OnboardingPayloadNotSet',
  settingsNotApplied: 'ClientSettingsNotApplied',
} as const

/**
 * Builds the onboarding function (docs/openapi.yaml): `POST
 * /onboarding-links` and `PATCH /clients/{clientId}` (SigV4, JSON) and the public `GET
 * /onboarding/callback` (HTML pages and redirects only, never JSON or reflected input).
 */
export function buildOnboardingHandler(deps: AppDeps): OnboardingHandler {
  const patchClient = auditedWrite<ClientSettingsBody>(deps, {
    action: 'client.patch',
    method: 'PATCH',
    path: (p) => `/clients/${p['clientId'] ?? ''}`,
    subject: (p) => `client#${p['clientId'] ?? ''}`,
    parseBody: parseClientSettingsBody,
    auditBody: (b) => ({ ...b }),
    lockMs: lockDurationMs(deps.config),
    run: async (req) => {
      const outcome = await updateClientSettings(deps, {
        clientId: req.params['clientId'] ?? '',
        change: req.body,
        attempt: req.attempt,
      })
      if (outcome.notApplied.length > 0) {
        deps.metrics.addMetric(ONBOARDING_METRICS.settingsNotApplied, MetricUnit.Count, 1)
      }
      return clientSettingsAnswer(outcome)
    },
  })
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
          return ok(200, await createOnboardingLink(deps, parseLinkBody(bodyText(event))))
        }
        case 'PATCH /clients/{clientId}': {
          const principal = principalFromEvent(event)
          const params = { clientId: event.pathParameters?.['clientId'] ?? '' }
          checkPathIds(params)
          return patchClient(event, params, principal)
        }
        default:
          throw new NotFoundError('No such route', { code: 'route_not_found' })
      }
    })
}

/**
 * The callback: the per-source rate limit at the edge (nothing else runs over it), the service's
 * outcome rendered as a page, and the audit entry with the answer given. Never JSON.
 */
async function callback(deps: AppDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const source = sourceAddress(event)
  let outcome: CallbackOutcome
  let audit: CallbackAudit | null = null
  try {
    const budget = await consumeSourceBudget(deps, source, {
      scope: 'onboarding-callback',
      limit: deps.config.ONBOARDING_CALLBACK_RATE_PER_MINUTE,
      windowMs: CALLBACK_WINDOW_MS,
    })
    if (budget.allowed) {
      audit = new CallbackAudit(deps, source)
      outcome = await handleOnboardingCallback(
        deps,
        {
          queryStringParameters: event.queryStringParameters,
          multiValueQueryStringParameters: event.multiValueQueryStringParameters,
        },
        audit,
      )
    } else {
      deps.logger.warn('onboarding callback rate limited', { source })
      outcome = { kind: 'rate_limited', retryAfterSeconds: budget.retryAfterSeconds }
    }
  } catch (err) {
    // Only the rate-limit store can throw here; the browser still gets a page, never JSON.
    deps.logger.error('onboarding callback failed', { error: err })
    outcome = { kind: 'unavailable', code: 'service_unavailable' }
  }
  countCallback(deps, outcome)
  const page = callbackPage(outcome)
  // Every outcome except a rate-limited (or unrateable) request is audited.
  if (audit) {
    const response = outcome.kind === 'redirect' || outcome.kind === 'confirmation' ? outcome.kind : undefined
    await audit.finish(callbackAuditOutcome(outcome), page.statusCode, response)
  }
  return page
}

function countCallback(deps: AppDeps, outcome: CallbackOutcome): void {
  const m = deps.metrics
  switch (outcome.kind) {
    case 'redirect':
    case 'confirmation':
      m.addMetric(ONBOARDING_METRICS.stored, MetricUnit.Count, 1)
      if (outcome.payload === 'failed' || outcome.payload === 'skipped_client_predates_link') {
        m.addMetric(ONBOARDING_METRICS.payloadNotSet, MetricUnit.Count, 1)
      }
      return
    case 'rejected':
      deps.logger.info('onboarding callback refused', { reason: outcome.reason })
      m.addMetric(ONBOARDING_METRICS.rejected, MetricUnit.Count, 1)
      return
    case 'rate_limited':
      m.addMetric(ONBOARDING_METRICS.rateLimited, MetricUnit.Count, 1)
      return
    case 'unavailable':
      m.addMetric(ONBOARDING_METRICS.failed, MetricUnit.Count, 1)
      return
  }
}

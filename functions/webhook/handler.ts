import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { ok } from '../../shared/http/answers'
import { httpErrorHandler } from '../../shared/http/middleware'
import { authenticateWebhook, parseWebhookEnvelope, rawBody } from '../../shared/http/webhook-auth'
import { ingestWebhook } from '../../shared/services/webhooks/ingest-webhook'

/** The webhook function as Lambda (and the local server) calls it. */
export type WebhookHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>

/**
 * Builds the webhook function (`POST /webhooks/360dialog`, docs/openapi.yaml). The edge does what is
 * about HTTP: the size limit and the authentication on the raw bytes, then the envelope; then
 * ingestWebhook stores the event, and the answer is 200 once it is durably stored.
 */
export function buildWebhookHandler(deps: AppDeps): WebhookHandler {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .use(httpErrorHandler(deps.logger))
    .handler(async (event) => {
      const body = rawBody(event.body, event.isBase64Encoded === true)
      await authenticateWebhook(deps, body, event)
      const envelope = parseWebhookEnvelope(body)
      const result = await ingestWebhook(deps, { body, envelope })
      return ok(200, { status: 'accepted', eventKey: result.eventKey, duplicate: result.duplicate })
    })
}

import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { httpErrorHandler } from '../../shared/http/middleware'
import { json } from '../../shared/http/responses'
import { ingestWebhook } from '../../shared/services/webhooks/ingest-webhook'

/** The webhook function as Lambda (and the local server) calls it. */
export type WebhookHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>

/**
 * Builds the webhook function (`POST /webhooks/360dialog`, docs/openapi.yaml): hands the raw body and
 * headers to ingestWebhook and answers 200 once the event is durably stored.
 */
export function buildWebhookHandler(deps: AppDeps): WebhookHandler {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .use(httpErrorHandler(deps.logger))
    .handler(async (event) => {
      const result = await ingestWebhook(deps, {
        body: event.body,
        isBase64Encoded: event.isBase64Encoded === true,
        headers: event.headers,
        multiValueHeaders: event.multiValueHeaders,
      })
      return json(200, { status: 'accepted', eventKey: result.eventKey, duplicate: result.duplicate })
    })
}

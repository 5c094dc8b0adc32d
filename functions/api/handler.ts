import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { httpErrorHandler } from '../../shared/http/middleware'
import { principalFromEvent } from '../../shared/http/principal'
import { checkPathIds } from '../../shared/http/query'
import { createRoutes, resolveRoute } from './router'

/** The management API function as Lambda (and the local server) calls it. */
export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>

/**
 * Builds the management API function: every SigV4 route of docs/openapi.yaml except the onboarding ones
 * and the CSV export (functions/export: it streams), behind one small router.
 *
 * Why one function and not one per route: the routes share one dependency set, so one warm container
 * serves reads and cancellations (one cold start to keep warm instead of eight), and least
 * privilege does not gain from a split: every route needs read access to the state tables, and the
 * write routes (cancellation, revoke) need exactly the few writes they share (cancellations, audit,
 * ops for idempotency and budgets, channels through applyChannel). A read-only function would drop
 * only those writes, while the audit table is append-only (PutItem with a condition) either way.
 */
export function buildApiHandler(deps: AppDeps): ApiHandler {
  const routes = createRoutes(deps)
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .use(httpErrorHandler(deps.logger))
    .handler(async (event) => {
      const { handler, params } = resolveRoute(event, routes)
      // Every management route is AWS_IAM: nothing runs without a principal (401 otherwise).
      const principal = principalFromEvent(event)
      // Malformed ids are a 400 before anything is read, counted or sent upstream.
      checkPathIds(params)
      return handler(event, params, principal)
    })
}

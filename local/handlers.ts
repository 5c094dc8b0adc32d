import { randomUUID } from 'node:crypto'
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  Context,
  DynamoDBBatchResponse,
  DynamoDBStreamEvent,
} from 'aws-lambda'
import type { AppDeps } from '../shared/deps'
import type { HttpFunctionName } from '../shared/http/routes'

/** An HTTP function as the local server calls it: the same middy-wrapped handler Lambda runs. */
export type HttpHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>

/**
 * How the local server builds each HTTP function from the shared deps. A function that is not built
 * yet is absent, and its routes answer 501 with the contract's error body.
 */
export const httpFunctions: Partial<Record<HttpFunctionName, (deps: AppDeps) => Promise<HttpHandler>>> = {
  webhook: async (deps) => (await import('../functions/webhook/handler')).buildWebhookHandler(deps),
  onboarding: async (deps) => (await import('../functions/onboarding/handler')).buildOnboardingHandler(deps),
  api: async (deps) =>
    (await import('../functions/api/handler')).buildApiHandler(deps, { streamResponses: true }),
}

/** The poller as the local timer calls it: the same handler EventBridge Scheduler invokes. */
export type PollerHandler = (event: unknown, context: Context) => Promise<unknown>

/** How the local runner builds the poller from the shared deps (absent until built). */
export const pollerFunction: { build?: (deps: AppDeps) => Promise<PollerHandler> } = {
  build: async (deps) => (await import('../functions/poller/handler')).buildPollerHandler(deps),
}

/** A DynamoDB Streams consumer as the local runner's stream stand-in calls it. */
export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>

/** How the local runner builds each stream consumer from the shared deps (absent until built). */
export const streamFunctions: { webhookApplier?: (deps: AppDeps) => Promise<StreamHandler> } = {
  webhookApplier: async (deps) =>
    (await import('../functions/webhook-applier/handler')).buildWebhookApplierHandler(deps),
}

/**
 * The Lambda context the local runner passes to a handler: `fn` names the function (as in
 * partnerops-<fn>-local) and `timeoutMs` is its timeout, counted down like Lambda's.
 */
export function localLambdaContext(fn: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs
  const name = `partnerops-${fn}-local`
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }
}

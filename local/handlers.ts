import { randomUUID } from 'node:crypto'
import type {
  APIGatewayProxyEvent,
  APIGatewayProxyResult,
  Context,
  DynamoDBBatchResponse,
  DynamoDBStreamEvent,
} from 'aws-lambda'
import type { AppDeps } from '../shared/deps'
import { FUNCTIONS, type FunctionKey } from '../shared/functions'
import { installLambdaStreaming, type StreamingHandler } from './lambda-streaming'

/** An HTTP function as the local server calls it: the same middy-wrapped handler Lambda runs. */
export type HttpHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>

/**
 * An HTTP function whose integration streams (FUNCTIONS trigger `streaming`): the same middy chain with
 * `streamifyResponse`, called with a response stream (local/lambda-streaming.ts).
 */
export type { StreamingHandler } from './lambda-streaming'

/** The poller as the local timer calls it: the same handler EventBridge Scheduler invokes. */
export type PollerHandler = (event: unknown, context: Context) => Promise<unknown>

/** A DynamoDB Streams consumer as the local runner's stream stand-in calls it. */
export type StreamHandler = (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>

/** The handler type of a trigger kind. */
type HandlerOf<Kind, Streaming> = Kind extends 'http'
  ? Streaming extends true
    ? StreamingHandler
    : HttpHandler
  : Kind extends 'stream' | 'changeStreams'
    ? StreamHandler
    : PollerHandler

/** The handler type of one function, from its trigger in FUNCTIONS. */
export type FunctionHandler<K extends FunctionKey> = HandlerOf<
  (typeof FUNCTIONS)[K]['trigger']['kind'],
  (typeof FUNCTIONS)[K]['trigger'] extends { streaming: true } ? true : false
>

/**
 * How the local runner builds each function of FUNCTIONS (shared/functions.ts) from its deps: the same
 * `build…Handler` factory its Lambda entry calls. A function added to FUNCTIONS without a builder
 * here is a compile error. The export function streams through the local stand-in of Lambda's
 * response streaming runtime, as it does through API Gateway in AWS.
 */
export const LOCAL_BUILDERS: { [K in FunctionKey]: (deps: AppDeps) => Promise<FunctionHandler<K>> } = {
  webhook: async (deps) => (await import('../functions/webhook/handler')).buildWebhookHandler(deps),
  webhookApplier: async (deps) =>
    (await import('../functions/webhook-applier/handler')).buildWebhookApplierHandler(deps),
  api: async (deps) => (await import('../functions/api/handler')).buildApiHandler(deps),
  export: async (deps) => {
    installLambdaStreaming()
    return (await import('../functions/export/handler')).buildExportHandler(deps)
  },
  onboarding: async (deps) => (await import('../functions/onboarding/handler')).buildOnboardingHandler(deps),
  poller: async (deps) => (await import('../functions/poller/handler')).buildPollerHandler(deps),
  health: async (deps) => (await import('../functions/health/handler')).buildHealthHandler(deps),
  channelKeys: async (deps) =>
    (await import('../functions/channel-keys/handler')).buildChannelKeysHandler(deps),
  eventPublisher: async (deps) =>
    (await import('../functions/event-publisher/handler')).buildEventPublisherHandler(deps),
}

/**
 * The Lambda context the local runner passes to a function's handler: named partnerops-<service>-local,
 * with the function's memory size, and `timeoutMs` (default: the function's own timeout) counted down
 * like Lambda's.
 */
export function localLambdaContext(
  fn: FunctionKey,
  timeoutMs = FUNCTIONS[fn].timeoutSeconds * 1000,
): Context {
  const deadline = Date.now() + timeoutMs
  const name = `partnerops-${FUNCTIONS[fn].service}-local`
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: String(FUNCTIONS[fn].memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }
}

import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib'
import * as apigw from 'aws-cdk-lib/aws-apigateway'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as lambda from 'aws-cdk-lib/aws-lambda'
import * as logs from 'aws-cdk-lib/aws-logs'
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference'
import { Construct } from 'constructs'
import { FUNCTIONS } from '../../shared/functions'
import {
  CALLBACK_PATH,
  CANCELLATION_PATH,
  type HttpFunctionName,
  isKeyRoute,
  ROUTES,
  type RouteSpec,
  WEBHOOK_PATH,
} from '../../shared/http/routes'

/** The stage every URL and execute-api ARN uses. */
export const STAGE_NAME = 'v1'

/** Routes with detailed CloudWatch metrics: the webhook and the cancellation writes. */
export const DETAILED_METRIC_ROUTES: readonly { method: RouteSpec['method']; path: string }[] = [
  { method: 'POST', path: WEBHOOK_PATH },
  { method: 'POST', path: CANCELLATION_PATH },
  { method: 'DELETE', path: CANCELLATION_PATH },
]

/** Which routes each exported caller policy allows: read-only callers and cancellation operators. */
export const CALLER_POLICIES = {
  readOnly: (r: RouteSpec): boolean => r.auth === 'iam' && r.method === 'GET' && !isKeyRoute(r),
  cancellationOperator: (r: RouteSpec): boolean => r.auth === 'iam' && r.path.endsWith('/cancellation'),
  // Channel API keys: read and rotate, nothing else (attach beside the read-only policy if needed).
  keyReader: (r: RouteSpec): boolean => r.auth === 'iam' && isKeyRoute(r),
} as const

/** Throttling of one method or of the stage. */
export interface Throttle {
  rateLimit: number
  burstLimit: number
}

/** What the API needs. */
export interface PartnerOpsApiProps {
  apiName: string
  stageThrottle: Throttle
  webhookThrottle: Throttle
  callbackThrottle: Throttle
  logRetention: logs.RetentionDays
}

// Access log: who called what and the outcome. No headers, query strings or bodies, so no
// signature, token, Authorization header or onboarding reference ever lands in the logs.
const ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  resourcePath: '$context.resourcePath',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integration.status',
  sourceIp: '$context.identity.sourceIp',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  errorMessage: '$context.error.message',
  wafResponseCode: '$context.wafResponseCode',
}

/** A resource ARN as cdk-nag prints it in a finding id (tokens flattened to <LogicalId.Attr>). */
export function nagResource(stack: Stack, arn: string): string {
  return flattenCfnReference(stack.resolve(arn))
}

/** The `methodOptions` key of a route: resource path + '/' + method. */
const methodKey = (path: string, method: string): string => `${path}/${method}`

/**
 * The REST API (API Gateway v1): built from the ROUTES table, AWS_IAM on every `iam` route, open on
 * the webhook (the function checks the HMAC signature and token) and the onboarding callback (signed
 * reference checked by the function), stage and per-route throttling, JSON access logs, CORS off.
 * Exports two managed policies for callers. Routes are added with `addRoutes` once the functions
 * exist (the onboarding function needs the API's URL first).
 */
export class PartnerOpsApi extends Construct {
  readonly api: apigw.RestApi
  readonly accessLogs: logs.LogGroup
  readonly readOnlyPolicy: iam.ManagedPolicy
  readonly cancellationOperatorPolicy: iam.ManagedPolicy
  readonly keyReaderPolicy: iam.ManagedPolicy

  constructor(scope: Construct, id: string, props: PartnerOpsApiProps) {
    super(scope, id)
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    })
    const throttle = (t: Throttle): apigw.MethodDeploymentOptions => ({
      throttlingRateLimit: t.rateLimit,
      throttlingBurstLimit: t.burstLimit,
    })
    // A method override replaces the stage's settings for that route: a field it leaves out does not
    // fall back to the stage's value (the cancellation routes ran at API Gateway's own throttling and
    // the webhook route wrote no error logs). So every override repeats the stage's logging and its
    // throttling, unless the route has throttling of its own.
    const stageLogging: apigw.MethodDeploymentOptions = {
      loggingLevel: apigw.MethodLoggingLevel.ERROR,
      dataTraceEnabled: false,
    }
    const override = (t: Throttle, metricsEnabled: boolean): apigw.MethodDeploymentOptions => ({
      ...throttle(t),
      ...stageLogging,
      ...(metricsEnabled ? { metricsEnabled: true } : {}),
    })
    const detailed = (path: string, method: string): boolean =>
      DETAILED_METRIC_ROUTES.some((r) => r.path === path && r.method === method)
    const ownThrottle: Record<string, Throttle> = {
      [methodKey(WEBHOOK_PATH, 'POST')]: props.webhookThrottle,
      [methodKey(CALLBACK_PATH, 'GET')]: props.callbackThrottle,
    }
    const overridden = [
      ...DETAILED_METRIC_ROUTES.map((r) => ({ path: r.path, method: r.method })),
      { path: WEBHOOK_PATH, method: 'POST' },
      { path: CALLBACK_PATH, method: 'GET' },
    ]
    const methodOptions = Object.fromEntries(
      overridden.map(({ path, method }) => [
        methodKey(path, method),
        override(ownThrottle[methodKey(path, method)] ?? props.stageThrottle, detailed(path, method)),
      ]),
    )
    this.api = new apigw.RestApi(this, 'RestApi', {
      restApiName: props.apiName,
      description: 'PartnerOps: 360dialog webhooks and the SigV4 management API',
      endpointTypes: [apigw.EndpointType.REGIONAL],
      // API Gateway needs the account-level CloudWatch role to write access and execution logs.
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN,
      deployOptions: {
        stageName: STAGE_NAME,
        ...throttle(props.stageThrottle),
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
        // Execution logs at ERROR level only, never request/response data (dataTrace).
        ...stageLogging,
        tracingEnabled: true,
        // Per-route metrics (count, latency, 4xx, 5xx) only where the dashboard reads them, and the
        // public routes' own throttling.
        methodOptions,
      },
    })

    const stack = Stack.of(this)
    const routeArns = (select: (r: RouteSpec) => boolean): string[] =>
      ROUTES.filter(select).map((r) =>
        this.api.arnForExecuteApi(r.method, r.path.replace(/\{\w+\}/g, '*'), STAGE_NAME),
      )
    this.readOnlyPolicy = new iam.ManagedPolicy(this, 'ReadOnlyPolicy', {
      description: `PartnerOps (${stack.stackName}): call the read-only management routes (GET)`,
      statements: [
        new iam.PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: routeArns(CALLER_POLICIES.readOnly),
        }),
      ],
    })
    this.cancellationOperatorPolicy = new iam.ManagedPolicy(this, 'CancellationOperatorPolicy', {
      description: `PartnerOps (${stack.stackName}): request, read and revoke channel cancellations`,
      statements: [
        new iam.PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: routeArns(CALLER_POLICIES.cancellationOperator),
        }),
      ],
    })
    this.keyReaderPolicy = new iam.ManagedPolicy(this, 'KeyReaderPolicy', {
      description: `PartnerOps (${stack.stackName}): read and rotate channel Messaging API keys (secrets)`,
      statements: [
        new iam.PolicyStatement({
          actions: ['execute-api:Invoke'],
          resources: routeArns(CALLER_POLICIES.keyReader),
        }),
      ],
    })
    for (const [policy, select] of [
      [this.readOnlyPolicy, CALLER_POLICIES.readOnly],
      [this.cancellationOperatorPolicy, CALLER_POLICIES.cancellationOperator],
      [this.keyReaderPolicy, CALLER_POLICIES.keyReader],
    ] as const) {
      // One acknowledgement per route ARN whose path parameters make it end in "*", nothing wider.
      for (const arn of routeArns(select).filter((a) => nagResource(stack, a).includes('*'))) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagResource(stack, arn)}]`,
          reason:
            'execute-api ARN of one route with path parameters ({clientId}, {channelId}): the "*" stands for a parameter value only; the ARN names this API, the v1 stage, one HTTP method and one route shape.',
        })
      }
    }

    Validations.of(this.api).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-APIG2',
        reason:
          'Every function validates its input with zod (strict bodies, query and path parameters) and the webhook must see the raw bytes to check the HMAC signature before any parsing; a gateway model would duplicate that and cannot check the signature.',
      },
      {
        id: 'AwsSolutions::AwsSolutions-APIG3',
        reason:
          'No WAF by default (cost per web ACL): management routes need SigV4, the webhook is HMAC-authenticated, and stage plus per-route throttling bound the load. Partners with a WAF policy can associate a web ACL with the v1 stage.',
      },
    )
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole')
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason:
          'The account-level role API Gateway uses to write access and execution logs; AWS maintains AmazonAPIGatewayPushToCloudWatchLogs for exactly this purpose and the role is assumable by apigateway.amazonaws.com only.',
      })
    }
  }

  /** Adds every route of ROUTES, each to the function that serves it (call once, with all functions). */
  addRoutes(functions: Record<HttpFunctionName, { fn: lambda.IFunction }>): void {
    const integrations = new Map<HttpFunctionName, apigw.LambdaIntegration>()
    const integration = (name: HttpFunctionName): apigw.LambdaIntegration => {
      let found = integrations.get(name)
      if (!found) {
        const spec = FUNCTIONS[name]
        // A streaming function (the CSV export): STREAM transfer mode invokes it with
        // InvokeWithResponseStream (the response-streaming-invocations URI; the same lambda:InvokeFunction
        // permission) and may last up to 15 minutes, so the integration waits as long as the function may run.
        const streaming = 'streaming' in spec.trigger && spec.trigger.streaming === true
        found = new apigw.LambdaIntegration(functions[name].fn, {
          proxy: true,
          allowTestInvoke: false,
          ...(streaming
            ? {
                responseTransferMode: apigw.ResponseTransferMode.STREAM,
                timeout: Duration.seconds(spec.timeoutSeconds),
              }
            : {}),
        })
        integrations.set(name, found)
      }
      return found
    }

    for (const route of ROUTES) {
      const method = this.api.root
        .resourceForPath(route.path)
        .addMethod(route.method, integration(route.fn), {
          authorizationType:
            route.auth === 'iam' ? apigw.AuthorizationType.IAM : apigw.AuthorizationType.NONE,
        })
      if (route.auth === 'none') {
        Validations.of(method).acknowledge(
          {
            id: 'AwsSolutions::AwsSolutions-APIG4',
            reason:
              route.fn === 'webhook'
                ? '360dialog cannot sign requests with SigV4: the webhook function authenticates every request itself (HMAC-SHA256 x-360dialog-signature over the raw body, optional x-webhook-token, constant-time) before anything is stored.'
                : "Clients' browsers arrive here from 360dialog without credentials: the onboarding function checks the signed ref (HMAC, link signing key) and the id shapes before doing anything; the route is throttled.",
          },
          {
            id: 'AwsSolutions::AwsSolutions-COG4',
            reason:
              'Public route by design (see APIG4 on this method); a Cognito authorizer cannot apply to 360dialog or to anonymous browsers.',
          },
        )
      } else {
        Validations.of(method).acknowledge({
          id: 'AwsSolutions::AwsSolutions-COG4',
          reason:
            "Authorized with AWS_IAM (SigV4): callers are the partner's own IAM principals granted through the exported managed policies; no end-user pool exists.",
        })
      }
    }
  }

  /** An API Gateway metric of one route (the route must be in DETAILED_METRIC_ROUTES). */
  routeMetric(
    method: RouteSpec['method'],
    path: string,
    metricName: 'Count' | 'Latency' | 'IntegrationLatency' | '4XXError' | '5XXError',
    props: cloudwatch.MetricOptions = {},
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway',
      metricName,
      dimensionsMap: { ApiName: this.api.restApiName, Method: method, Resource: path, Stage: STAGE_NAME },
      ...props,
    })
  }

  /** The public URL of a route path on the v1 stage (e.g. the webhook URL). */
  urlFor(path: string): string {
    return this.api.urlForPath(path)
  }

  /**
   * The URL of a path built from the API id only (no dependency on the deployment or stage), so a
   * function behind this API can receive it in its environment without a dependency cycle.
   */
  stableUrlFor(path: string): string {
    return `https://${this.api.restApiId}.execute-api.${Aws.REGION}.${Aws.URL_SUFFIX}/${STAGE_NAME}${path}`
  }
}

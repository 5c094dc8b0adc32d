import { join } from 'node:path'
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations'
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs'
import * as logs from 'aws-cdk-lib/aws-logs'
import type * as sqs from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'
import type { SettingValues } from '../../shared/env'
import { FUNCTIONS, type FunctionKey, type FunctionSpec } from '../../shared/functions'
import { nodejsBundling, REPO_ROOT } from '../bundling'
import { NAMESPACE } from '../metrics'

/** One PartnerOps function: its definition is FUNCTIONS[name] (shared/functions.ts). */
export interface PartnerFunctionProps {
  name: FunctionKey
  /** Its settings (shared/env.ts); the Node and Powertools variables are added here. */
  environment: SettingValues
  logRetention: logs.RetentionDays
  /** Asynchronous invocations only: failed events go to this queue after `retryAttempts`. */
  asyncFailures?: { queue: sqs.IQueue; retryAttempts: number; maxEventAge: Duration }
}

/**
 * One Lambda function with the house defaults: NodejsFunction bundled by the local esbuild (minified
 * ESM with source maps, read only when a stack trace is printed: shared/source-maps.ts; no
 * --enable-source-maps, which would parse them at every cold start), nodejs24.x on arm64, its own role (no managed policy: log rights on its own
 * log group only), an explicit log group with retention, X-Ray tracing and the Powertools settings.
 */
export class PartnerFunction extends Construct {
  readonly fn: NodejsFunction
  readonly role: iam.Role
  readonly logGroup: logs.LogGroup

  constructor(scope: Construct, id: string, props: PartnerFunctionProps) {
    super(scope, id)
    const spec: FunctionSpec = FUNCTIONS[props.name]
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.RETAIN,
    })
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `PartnerOps ${props.name} function`,
    })
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    )
    this.fn = new NodejsFunction(this, 'Function', {
      description: spec.description,
      entry: join(REPO_ROOT, spec.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      role: this.role,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      awsSdkConnectionReuse: false,
      bundling: nodejsBundling(),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: spec.service,
        POWERTOOLS_METRICS_NAMESPACE: NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      ...(spec.reservedConcurrency !== undefined
        ? { reservedConcurrentExecutions: spec.reservedConcurrency }
        : {}),
      ...(props.asyncFailures
        ? {
            onFailure: new SqsDestination(props.asyncFailures.queue),
            retryAttempts: props.asyncFailures.retryAttempts,
            maxEventAge: props.asyncFailures.maxEventAge,
          }
        : {}),
    })
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
      reason: `X-Ray tracing of the ${props.name} function: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so AWS requires Resource "*" for them (the only "*" resource in this role).`,
    })
  }
}

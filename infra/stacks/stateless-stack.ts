import { CfnOutput, Duration, Fn, Stack, type StackProps, Validations } from 'aws-cdk-lib'
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb'
import * as events from 'aws-cdk-lib/aws-events'
import * as iam from 'aws-cdk-lib/aws-iam'
import * as lambda from 'aws-cdk-lib/aws-lambda'
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources'
import type * as logs from 'aws-cdk-lib/aws-logs'
import * as scheduler from 'aws-cdk-lib/aws-scheduler'
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets'
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import * as sqs from 'aws-cdk-lib/aws-sqs'
import type { Construct } from 'constructs'
import { TABLES, type TableKey } from '../../shared/adapters/dynamo/tables'
import { EVENT_SOURCE } from '../../shared/adapters/event-sink'
import {
  readsSetting,
  SETTINGS,
  type SettingInfo,
  type SettingName,
  type SettingValues,
} from '../../shared/env'
import { CALLBACK_PATH, WEBHOOK_PATH } from '../../shared/http/routes'
import type { SecretName } from '../../shared/ports'
import { ACCESS, type FunctionKey } from '../access'
import { type DeployConfig, webhookAuthSettings } from '../config'
import { nagResource, PartnerOpsApi } from '../constructs/api'
import { Monitoring } from '../constructs/monitoring'
import { PartnerFunction } from '../constructs/partner-function'

/** Props of the stateless stack: the settings and the stateful resources it uses. */
export interface StatelessStackProps extends StackProps {
  config: DeployConfig
  tables: Record<TableKey, dynamodb.ITableV2>
  secrets: Partial<Record<SecretName, secretsmanager.ISecret>>
}

/** Sizing of each function: memory (MB) and timeout. */
export const FUNCTION_SIZING: Record<FunctionKey, { memorySize: number; timeout: Duration }> = {
  // 360dialog waits 5 s for the 200 and retries otherwise: working longer than that is wasted.
  webhook: { memorySize: 512, timeout: Duration.seconds(5) },
  // A batch of up to 25 events, one at a time, a few single-item writes each: seconds, not a minute.
  webhookApplier: { memorySize: 512, timeout: Duration.seconds(60) },
  // Under API Gateway's 29 s integration timeout; upstream calls get a 20 s budget (UPSTREAM_BUDGET_MS).
  api: { memorySize: 1024, timeout: Duration.seconds(28) },
  onboarding: { memorySize: 512, timeout: Duration.seconds(28) },
  poller: { memorySize: 1024, timeout: Duration.minutes(5) },
}

/** How the webhook applier reads the events table's stream (see the event source in the stack). */
export const APPLIER_STREAM = {
  batchSize: 25,
  retryAttempts: 5,
  maxRecordAge: Duration.hours(1),
  // One batch per shard at a time keeps stream order per shard. Concurrent applies would be safe
  // (every state write is a compare-and-set), but one is enough for the webhook rates in scope.
  parallelizationFactor: 1,
} as const

/**
 * Everything that can be replaced freely: the five functions (webhook, webhook applier, API,
 * onboarding, poller), the REST API, the events-stream mapping, the poll schedule, the change-event
 * bus with its archive, the dead-letter queues, alarms, the dashboard and the caller policies. IAM is
 * least privilege per function from ACCESS (infra/access.ts).
 */
export class StatelessStack extends Stack {
  readonly functions: Record<FunctionKey, PartnerFunction>
  readonly api: PartnerOpsApi
  readonly bus: events.EventBus
  readonly monitoring: Monitoring

  constructor(scope: Construct, id: string, props: StatelessStackProps) {
    super(scope, id, props)
    const { config, tables, secrets } = props
    const logRetention = config.logRetentionDays as logs.RetentionDays
    const pollInterval = Duration.minutes(config.pollRateMinutes)
    const webhookAuth = webhookAuthSettings(config)

    this.bus = new events.EventBus(this, 'ChangeEvents', {
      description: 'PartnerOps change events (source partnerops, contract §5)',
    })
    this.bus.archive('ChangeEventArchive', {
      description: 'Every PartnerOps change event, for replay',
      eventPattern: { source: [EVENT_SOURCE] },
      retention: Duration.days(config.eventArchiveRetentionDays),
    })

    const queue = (queueId: string): sqs.Queue =>
      new sqs.Queue(this, queueId, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      })
    const pollerFailures = queue('PollerFailures')
    const scheduleDeadLetters = queue('ScheduleDeadLetters')
    const applierFailures = queue('WebhookApplierFailures')
    Validations.of(pollerFailures).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        "This queue is itself the on-failure destination of the poller's asynchronous invocations (a dead-letter queue); messages are inspected by an operator, alarmed on depth, and never redriven automatically.",
    })
    Validations.of(scheduleDeadLetters).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the poll schedule (EventBridge Scheduler); alarmed on depth, never consumed automatically.',
    })
    Validations.of(applierFailures).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        "This queue is itself the on-failure destination of the webhook applier's stream mapping: it receives the shard and sequence range of records given up after the retries; the events stay pending in the table and the reconciliation sweep completes them. Alarmed on depth, never consumed automatically.",
    })

    // Per deployment, never a literal in the template: the stack's UUID. The cursor HMAC protects
    // integrity only; whoever can read a function's configuration can already read the tables.
    const cursorSecret = Fn.join('-', ['partnerops-cursor', Fn.select(2, Fn.split('/', this.stackId))])
    // What this deployment gives each setting (typed: only settings of shared/env.ts exist). Each
    // function receives the ones it reads (SETTINGS usedBy, secret ids by its grants); the rest keep
    // their defaults.
    const deployed: SettingValues = {
      PARTNER_ID: config.partnerId,
      PARTNER_API_BASE_URL: config.partnerApiBaseUrl,
      PARTNER_API_AUTH: config.partnerApiAuth,
      SECRETS_SOURCE: 'aws',
      EVENT_SINK: 'eventbridge',
      EVENT_BUS_NAME: this.bus.eventBusName,
      CURSOR_SECRET: cursorSecret,
      WEBHOOK_SIGNATURE: webhookAuth.signature,
      WEBHOOK_RETENTION_DAYS: String(config.webhookRetentionDays),
      POLL_PAGE_SIZE: String(config.pollPageSize),
      POLL_CONCURRENCY: String(config.pollConcurrency),
      CANCELLATION_BUDGET_PER_HOUR: String(config.cancellationBudgetPerHour),
      ...(config.onboardingDefaultRedirectUrl
        ? { ONBOARDING_DEFAULT_REDIRECT_URL: config.onboardingDefaultRedirectUrl }
        : {}),
    }
    for (const t of TABLES) deployed[t.configKey] = tables[t.key].tableName
    for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingInfo][]) {
      const secret = spec.secretId === undefined ? undefined : secrets[spec.secretId]
      if (secret) deployed[name] = secret.secretArn
    }
    // Settings one function is given whatever the deployment says.
    const fnSettings: Record<FunctionKey, SettingValues> = {
      webhook: {},
      webhookApplier: {},
      poller: {
        // A run stops starting work 60 s before the function timeout; the lease outlives the timeout.
        POLL_BUDGET_MS: String(FUNCTION_SIZING.poller.timeout.toMilliseconds() - 60_000),
        POLL_LEASE_MS: String(FUNCTION_SIZING.poller.timeout.toMilliseconds() + 60_000),
      },
      api: { UPSTREAM_BUDGET_MS: '20000' },
      onboarding: { UPSTREAM_BUDGET_MS: '20000' },
    }
    const environmentOf = (name: FunctionKey, extra: SettingValues): SettingValues => {
      const values: SettingValues = { ...deployed, ...fnSettings[name], ...extra }
      const env: SettingValues = {}
      for (const key of Object.keys(values) as SettingName[]) {
        if (readsSetting(key, name, ACCESS[name].secrets)) env[key] = values[key]
      }
      return env
    }
    const descriptions: Record<FunctionKey, string> = {
      webhook: 'PartnerOps: 360dialog webhook receiver (POST /webhooks/360dialog)',
      webhookApplier: "PartnerOps: applies stored webhook events from the events table's stream",
      api: 'PartnerOps: management API (reads, cancellation, export, status)',
      onboarding: 'PartnerOps: onboarding links, onboarding callback, client settings',
      poller: 'PartnerOps: scheduled reconciliation with the Partner API',
    }

    const make = (name: FunctionKey, extraEnv: SettingValues = {}): PartnerFunction =>
      new PartnerFunction(this, `${pascal(name)}Function`, {
        name,
        description: descriptions[name],
        ...FUNCTION_SIZING[name],
        environment: environmentOf(name, extraEnv),
        logRetention,
        ...(name === 'poller'
          ? {
              // One run at a time: the lease also guards this, the reservation keeps retries from piling up.
              reservedConcurrency: 1,
              asyncFailures: { queue: pollerFailures, retryAttempts: 1, maxEventAge: pollInterval },
            }
          : {}),
      })

    this.api = new PartnerOpsApi(this, 'Api', {
      apiName: `${config.stackPrefix}-api`,
      stageThrottle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
      webhookThrottle: { rateLimit: config.webhookRateLimit, burstLimit: config.webhookBurstLimit },
      callbackThrottle: { rateLimit: config.callbackRateLimit, burstLimit: config.callbackBurstLimit },
      logRetention,
    })
    this.functions = {
      webhook: make('webhook'),
      webhookApplier: make('webhookApplier'),
      api: make('api'),
      // The callback URL from the API id alone: the routes (which need this function) come after.
      onboarding: make('onboarding', { ONBOARDING_CALLBACK_URL: this.api.stableUrlFor(CALLBACK_PATH) }),
      poller: make('poller'),
    }
    this.api.addRoutes({
      webhook: this.functions.webhook.fn,
      api: this.functions.api.fn,
      onboarding: this.functions.onboarding.fn,
    })
    for (const name of Object.keys(this.functions) as FunctionKey[]) this.grantAccess(name, props)

    // New events only: MODIFY (outcome, delivery count) and REMOVE (TTL) records never invoke the
    // applier. Partial batch failures retry only the records whose event could not be completed;
    // also grants the stream read rights (grantStreamRead) and the on-failure queue.
    this.functions.webhookApplier.fn.addEventSource(
      new DynamoEventSource(tables.events, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: APPLIER_STREAM.batchSize,
        bisectBatchOnError: true,
        retryAttempts: APPLIER_STREAM.retryAttempts,
        maxRecordAge: APPLIER_STREAM.maxRecordAge,
        reportBatchItemFailures: true,
        parallelizationFactor: APPLIER_STREAM.parallelizationFactor,
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') })],
        onFailure: new SqsDlq(applierFailures),
      }),
    )

    const scheduleRole = new iam.Role(this, 'PollScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: invoke the PartnerOps poller, dead-letter failed deliveries',
    })
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagResource(this, this.functions.poller.fn.functionArn)}:*]`,
      reason:
        'Added by the Scheduler Lambda target: invoke any version or alias of the poller function itself (functionArn:*), and nothing else.',
    })
    new scheduler.Schedule(this, 'PollSchedule', {
      description: `PartnerOps reconciliation every ${config.pollRateMinutes} minute(s)`,
      schedule: scheduler.ScheduleExpression.rate(pollInterval),
      timeWindow: scheduler.TimeWindow.off(),
      target: new LambdaInvoke(this.functions.poller.fn, {
        input: scheduler.ScheduleTargetInput.fromObject({ source: 'partnerops.schedule' }),
        retryAttempts: 3,
        // A run older than one interval is pointless: the next one is already due.
        maxEventAge: pollInterval.toSeconds() < 60 ? Duration.minutes(1) : pollInterval,
        deadLetterQueue: scheduleDeadLetters,
        role: scheduleRole,
      }),
    })

    this.monitoring = new Monitoring(this, 'Monitoring', {
      alarmEmail: config.alarmEmail,
      functions: {
        webhook: this.functions.webhook.fn,
        webhookApplier: this.functions.webhookApplier.fn,
        api: this.functions.api.fn,
        onboarding: this.functions.onboarding.fn,
        poller: this.functions.poller.fn,
      },
      api: this.api,
      deadLetterQueues: {
        PollerFailures: {
          queue: pollerFailures,
          meaning: 'a scheduled reconciliation run failed for good (after its asynchronous retry).',
        },
        ScheduleDeadLetters: {
          queue: scheduleDeadLetters,
          meaning: 'the poll schedule could not invoke the poller.',
        },
        WebhookApplierFailures: {
          queue: applierFailures,
          meaning: `stream records of new webhook events were given up after ${APPLIER_STREAM.retryAttempts} retries or ${APPLIER_STREAM.maxRecordAge.toHumanString()}. Those events stay pending; the reconciliation sweep completes them. Fix the cause (the applier logs), then delete the messages.`,
        },
      },
      pollRateMinutes: config.pollRateMinutes,
      unauthorizedAlarmThreshold: config.unauthorizedAlarmThreshold,
      dashboardName: `${config.stackPrefix}-operations`,
    })

    const output = (outputId: string, value: string, description: string, exportName?: string): void => {
      new CfnOutput(this, outputId, { value, description, ...(exportName ? { exportName } : {}) })
    }
    output('ApiUrl', this.api.urlFor('/'), 'Base URL of the PartnerOps API (stage v1)')
    output(
      'WebhookUrl',
      this.api.urlFor(WEBHOOK_PATH),
      'Register this URL with 360dialog (npm run register-webhook)',
    )
    output(
      'OnboardingCallbackUrl',
      this.api.stableUrlFor(CALLBACK_PATH),
      'Where 360dialog sends onboarded clients',
    )
    output(
      'ReadOnlyPolicyArn',
      this.api.readOnlyPolicy.managedPolicyArn,
      'Attach to callers that read state (GET routes)',
      `${config.stackPrefix}-ReadOnlyPolicyArn`,
    )
    output(
      'CancellationOperatorPolicyArn',
      this.api.cancellationOperatorPolicy.managedPolicyArn,
      'Attach to callers that request, read and revoke cancellations',
      `${config.stackPrefix}-CancellationOperatorPolicyArn`,
    )
    // What `npm run register-webhook` needs besides the URL (never a secret value).
    output('PartnerId', config.partnerId, '360dialog partner id')
    output('PartnerApiBaseUrl', config.partnerApiBaseUrl, 'Partner API base URL')
    output('PartnerApiAuth', config.partnerApiAuth, 'Partner API authentication (api_key or bearer)')
    output('WebhookAuth', config.webhookAuth, 'Webhook authentication mode')
    output(
      'EventBusName',
      this.bus.eventBusName,
      'EventBridge bus with the change events (source partnerops)',
    )
    output('AlarmTopicArn', this.monitoring.topic.topicArn, 'SNS topic the alarms publish to')
    output('DashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard')
  }

  /** Grants one function exactly the table actions, secrets and bus access of ACCESS[name]. */
  private grantAccess(name: FunctionKey, props: StatelessStackProps): void {
    const role = this.functions[name].role
    const access = ACCESS[name]
    for (const [key, grant] of Object.entries(access.tables) as [
      TableKey,
      NonNullable<(typeof access.tables)[TableKey]>,
    ][]) {
      const table = props.tables[key]
      if (grant.actions.length > 0) {
        role.addToPolicy(
          new iam.PolicyStatement({
            sid: `${pascal(key)}Table`,
            actions: grant.actions.map((a) => `dynamodb:${a}`),
            resources: [table.tableArn],
          }),
        )
      }
      if (grant.indexes && grant.indexes.length > 0) {
        role.addToPolicy(
          new iam.PolicyStatement({
            sid: `${pascal(key)}Indexes`,
            actions: ['dynamodb:Query'],
            resources: grant.indexes.map((index) => `${table.tableArn}/index/${index}`),
          }),
        )
      }
    }
    const readable = access.secrets.flatMap((s) => {
      const secret = props.secrets[s]
      return secret ? [secret.secretArn] : []
    })
    if (readable.length > 0) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadSecrets',
          actions: ['secretsmanager:GetSecretValue'],
          resources: readable,
        }),
      )
    }
    if (access.publishesEvents) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'PublishChangeEvents',
          actions: ['events:PutEvents'],
          resources: [this.bus.eventBusArn],
        }),
      )
    }
  }
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

import { CfnOutput, Duration, Fn, Stack, type StackProps, Validations } from 'aws-cdk-lib'
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb'
import * as events from 'aws-cdk-lib/aws-events'
import * as iam from 'aws-cdk-lib/aws-iam'
import type * as kms from 'aws-cdk-lib/aws-kms'
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
import {
  FUNCTION_KEYS,
  FUNCTIONS,
  type FunctionAccess,
  type FunctionKey,
  perFunction,
  type Trigger,
} from '../../shared/functions'
import { CALLBACK_PATH, WEBHOOK_PATH } from '../../shared/http/routes'
import type { SecretName } from '../../shared/ports'
import { type DeployConfig, webhookAuthSettings } from '../config'
import { nagResource, PartnerOpsApi } from '../constructs/api'
import { Monitoring } from '../constructs/monitoring'
import { PartnerFunction } from '../constructs/partner-function'

/** Props of the stateless stack: the settings and the stateful resources it uses. */
export interface StatelessStackProps extends StackProps {
  config: DeployConfig
  tables: Record<TableKey, dynamodb.ITableV2>
  secrets: Partial<Record<SecretName, secretsmanager.ISecret>>
  /** The KMS key of channel API keys. */
  channelKeyKey: kms.IKey
}

/**
 * Everything that can be replaced freely: the six functions (webhook, webhook applier, API,
 * onboarding, poller, event publisher), the REST API, the stream mappings, the poll schedule, the change-event
 * bus with its archive, the dead-letter queues, alarms, the dashboard and the caller policies. IAM is
 * least privilege per function; every function is built from its definition in shared/functions.ts.
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
      description: 'PartnerOps change events (source partnerops; docs/change-events.md)',
    })
    this.bus.archive('ChangeEventArchive', {
      description: 'Every PartnerOps change event, for replay',
      eventPattern: { source: [EVENT_SOURCE] },
      retention: Duration.days(config.eventArchiveRetentionDays),
    })

    // Each queue here is itself a dead-letter destination (cdk-nag SQS3 wants one for every queue).
    const deadLetterQueue = (queueId: string, whatItHolds: string): sqs.Queue => {
      const q = new sqs.Queue(this, queueId, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      })
      Validations.of(q).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SQS3',
        reason: `This queue is itself ${whatItHolds}`,
      })
      return q
    }
    const pollerFailures = deadLetterQueue(
      'PollerFailures',
      "the on-failure destination of the poller's asynchronous invocations (a dead-letter queue); messages are inspected by an operator, alarmed on depth, and never redriven automatically.",
    )
    const scheduleDeadLetters = deadLetterQueue(
      'ScheduleDeadLetters',
      'the dead-letter queue of the poll schedule (EventBridge Scheduler); alarmed on depth, never consumed automatically.',
    )
    const healthInterval = Duration.minutes(config.healthRateMinutes)
    const healthFailures = deadLetterQueue(
      'HealthFailures',
      "the on-failure destination of the health job's asynchronous invocations (a dead-letter queue); messages are inspected by an operator, alarmed on depth, and never redriven automatically.",
    )
    const healthScheduleDeadLetters = deadLetterQueue(
      'HealthScheduleDeadLetters',
      'the dead-letter queue of the health schedule (EventBridge Scheduler); alarmed on depth, never consumed automatically.',
    )
    const applierFailures = deadLetterQueue(
      'WebhookApplierFailures',
      "the on-failure destination of the webhook applier's stream mapping: it receives the shard and sequence range of records given up after the retries; the events stay pending in the table and the reconciliation sweep completes them. Alarmed on depth, never consumed automatically.",
    )
    const changeEventFailures = deadLetterQueue(
      'ChangeEventFailures',
      "the on-failure destination of the change-event publisher's stream mappings: each message names a shard and a range of stream records given up after the retries. It is alarmed on depth and drained by the documented redrive (npm run redrive-events), never by a consumer.",
    )

    this.api = new PartnerOpsApi(this, 'Api', {
      apiName: `${config.stackPrefix}-api`,
      stageThrottle: { rateLimit: config.apiRateLimit, burstLimit: config.apiBurstLimit },
      webhookThrottle: { rateLimit: config.webhookRateLimit, burstLimit: config.webhookBurstLimit },
      callbackThrottle: { rateLimit: config.callbackRateLimit, burstLimit: config.callbackBurstLimit },
      logRetention,
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
      QUALITY_METRICS: config.qualityMetrics ? 'on' : 'off',
      HEALTH_INTERVAL_MINUTES: String(config.healthRateMinutes),
      HEALTH_CONCURRENCY: String(config.healthConcurrency),
      CHANGE_FAILURES_QUEUE_URL: changeEventFailures.queueUrl,
      ...(config.onboardingDefaultRedirectUrl
        ? { ONBOARDING_DEFAULT_REDIRECT_URL: config.onboardingDefaultRedirectUrl }
        : {}),
      // From the API id alone: the routes (which need the onboarding function) come after it.
      ONBOARDING_CALLBACK_URL: this.api.stableUrlFor(CALLBACK_PATH),
      // What GET /partner and each reconciliation run expect 360dialog to post webhooks to.
      WEBHOOK_URL: this.api.stableUrlFor(WEBHOOK_PATH),
      CHANNEL_KEY_KMS_KEY_ID: props.channelKeyKey.keyArn,
    }
    for (const t of TABLES) deployed[t.configKey] = tables[t.key].tableName
    for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingInfo][]) {
      const secret = spec.secretId === undefined ? undefined : secrets[spec.secretId]
      if (secret) deployed[name] = secret.secretArn
    }
    const environmentOf = (name: FunctionKey): SettingValues => {
      const values: SettingValues = { ...deployed, ...FUNCTIONS[name].settings }
      const env: SettingValues = {}
      for (const key of Object.keys(values) as SettingName[]) {
        if (readsSetting(key, name, FUNCTIONS[name].access.secrets)) env[key] = values[key]
      }
      return env
    }
    const make = (name: FunctionKey): PartnerFunction => {
      const trigger: Trigger = FUNCTIONS[name].trigger
      return new PartnerFunction(this, `${pascal(name)}Function`, {
        name,
        environment: environmentOf(name),
        logRetention,
        ...(trigger.kind === 'schedule'
          ? {
              asyncFailures:
                trigger.rate === 'health'
                  ? {
                      queue: healthFailures,
                      retryAttempts: trigger.asyncRetryAttempts,
                      maxEventAge: healthInterval,
                    }
                  : {
                      queue: pollerFailures,
                      retryAttempts: trigger.asyncRetryAttempts,
                      maxEventAge: pollInterval,
                    },
            }
          : {}),
      })
    }

    this.functions = perFunction(make)
    this.api.addRoutes(this.functions)
    for (const name of FUNCTION_KEYS) this.grantAccess(name, props)

    // New events only: MODIFY (outcome, delivery count) and REMOVE (TTL) records never invoke the
    // applier. Partial batch failures retry only the records whose event could not be completed;
    // also grants the stream read rights (grantStreamRead) and the on-failure queue.
    const applierStream = FUNCTIONS.webhookApplier.trigger
    this.functions.webhookApplier.fn.addEventSource(
      new DynamoEventSource(tables[applierStream.table], {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: applierStream.batchSize,
        bisectBatchOnError: true,
        retryAttempts: applierStream.retryAttempts,
        maxRecordAge: Duration.seconds(applierStream.maxRecordAgeSeconds),
        reportBatchItemFailures: true,
        parallelizationFactor: applierStream.parallelizationFactor,
        filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.isEqual('INSERT') })],
        onFailure: new SqsDlq(applierFailures),
      }),
    )

    // The publisher reads the three state streams. Partial batch responses retry from the first record
    // not published; an error thrown anyway (a bug) bisects the batch to isolate the record. REMOVE
    // records are filtered out: state items are never deleted, and a removal is no event.
    const publisherStreams = FUNCTIONS.eventPublisher.trigger
    for (const key of publisherStreams.tables) {
      this.functions.eventPublisher.fn.addEventSource(
        new DynamoEventSource(tables[key], {
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: publisherStreams.batchSize,
          bisectBatchOnError: true,
          retryAttempts: publisherStreams.retryAttempts,
          maxRecordAge: Duration.seconds(publisherStreams.maxRecordAgeSeconds),
          reportBatchItemFailures: true,
          parallelizationFactor: publisherStreams.parallelizationFactor,
          filters: [lambda.FilterCriteria.filter({ eventName: lambda.FilterRule.or('INSERT', 'MODIFY') })],
          onFailure: new SqsDlq(changeEventFailures),
        }),
      )
    }
    // GET /status shows how many batches wait for a redrive.
    changeEventFailures.grant(this.functions.api.role, 'sqs:GetQueueAttributes')

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

    // The health job: its own schedule, role and dead-letter queue, so either job can be changed alone.
    const healthScheduleRole = new iam.Role(this, 'HealthScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
      description: 'EventBridge Scheduler: invoke the PartnerOps health job, dead-letter failed deliveries',
    })
    Validations.of(healthScheduleRole).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagResource(this, this.functions.health.fn.functionArn)}:*]`,
      reason:
        'Added by the Scheduler Lambda target: invoke any version or alias of the health function itself (functionArn:*), and nothing else.',
    })
    new scheduler.Schedule(this, 'HealthSchedule', {
      description: `PartnerOps channel health checks every ${config.healthRateMinutes} minute(s)`,
      schedule: scheduler.ScheduleExpression.rate(healthInterval),
      timeWindow: scheduler.TimeWindow.off(),
      target: new LambdaInvoke(this.functions.health.fn, {
        input: scheduler.ScheduleTargetInput.fromObject({ source: 'partnerops.schedule' }),
        retryAttempts: 3,
        // A sweep older than one interval is pointless (and would be skipped by the pacing anyway).
        maxEventAge: healthInterval,
        deadLetterQueue: healthScheduleDeadLetters,
        role: healthScheduleRole,
      }),
    })

    this.monitoring = new Monitoring(this, 'Monitoring', {
      alarmEmail: config.alarmEmail,
      quality: { metrics: config.qualityMetrics, redAlarmActions: config.qualityRedAlarmActions },
      functions: perFunction((name) => this.functions[name].fn),
      tables,
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
        HealthFailures: {
          queue: healthFailures,
          meaning:
            'a health sweep failed for good (after its asynchronous retry); the stored health stays as it was.',
        },
        HealthScheduleDeadLetters: {
          queue: healthScheduleDeadLetters,
          meaning: 'the health schedule could not invoke the health job.',
        },
        WebhookApplierFailures: {
          queue: applierFailures,
          meaning: `stream records of new webhook events were given up after ${applierStream.retryAttempts} retries or ${Duration.seconds(applierStream.maxRecordAgeSeconds).toHumanString()}. Those events stay pending; the reconciliation sweep completes them. Fix the cause (the applier logs), then delete the messages.`,
        },
        ChangeEventFailures: {
          queue: changeEventFailures,
          meaning: `change events of stored state changes were not published after ${publisherStreams.retryAttempts} retries or ${Duration.seconds(publisherStreams.maxRecordAgeSeconds).toHumanString()}. Fix the cause (the event-publisher logs), then run npm run redrive-events within 24 hours of the change (README "Change events").`,
        },
      },
      changeEventFailures,
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
      // The same text the functions expect (WEBHOOK_URL), so registration and the drift check agree.
      this.api.stableUrlFor(WEBHOOK_PATH),
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
      'KeyReaderPolicyArn',
      this.api.keyReaderPolicy.managedPolicyArn,
      'Attach to callers that read (and rotate) channel Messaging API keys: GET /channels/{channelId}/api-key',
      `${config.stackPrefix}-KeyReaderPolicyArn`,
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
    output(
      'ChangeEventFailuresQueueUrl',
      changeEventFailures.queueUrl,
      'On-failure queue of the change-event publisher (npm run redrive-events drains it)',
    )
    output('AlarmTopicArn', this.monitoring.topic.topicArn, 'SNS topic the alarms publish to')
    output('DashboardName', this.monitoring.dashboard.dashboardName, 'CloudWatch dashboard')
  }

  /** Grants one function exactly the table actions, secrets and bus access of its definition. */
  private grantAccess(name: FunctionKey, props: StatelessStackProps): void {
    const role = this.functions[name].role
    const access: FunctionAccess = FUNCTIONS[name].access
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
    const cipher = access.channelKeyCipher ?? []
    if (cipher.length > 0) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ChannelKeyCipher',
          actions: cipher.map((a) => `kms:${a}`),
          resources: [props.channelKeyKey.keyArn],
          // Only for channel keys: every call names this purpose in its encryption context.
          conditions: { StringEquals: { 'kms:EncryptionContext:purpose': 'partnerops-channel-key' } },
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

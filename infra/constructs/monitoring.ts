import { Duration } from 'aws-cdk-lib'
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch'
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions'
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb'
import type * as lambda from 'aws-cdk-lib/aws-lambda'
import * as sns from 'aws-cdk-lib/aws-sns'
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions'
import type * as sqs from 'aws-cdk-lib/aws-sqs'
import { Construct } from 'constructs'
import type { TableAction } from '../../shared/functions'
import { FUNCTIONS, type FunctionKey } from '../../shared/functions'
import { CANCELLATION_PATH, WEBHOOK_PATH } from '../../shared/http/routes'
import {
  CHANGE_EVENTS,
  HEALTH,
  NAMESPACE,
  PARTNER_SETTINGS,
  POLLER,
  QUALITY,
  WEBHOOK,
  WEBHOOK_OUTCOME_SERVICES,
  WEBHOOK_OUTCOMES,
} from '../metrics'
import type { PartnerOpsApi } from './api'

/** Alarm thresholds that are not deployment settings. */
export const ALARM_DEFAULTS = {
  /** API 5xx answers per 5 minutes. */
  api5xxPerFiveMinutes: 5,
  /** Reconciliation is stale after this many poll intervals without a successful run. */
  staleIntervals: 3,
  /** The webhook applier is behind when its oldest stream record is older than this (minutes). */
  applierIteratorAgeMinutes: 5,
  /** A function's p99 duration above this share of its timeout raises an alarm (it is close to timing out). */
  durationShareOfTimeout: 0.8,
  /**
   * API latency p99 (ms, whole API, 5 minutes, 3 periods in a row). 360dialog gives a webhook 5 s and
   * the functions that call upstream have a 20 s budget: 5 s sustained means something is slow.
   */
  apiLatencyP99Ms: 5_000,
  apiLatencyPeriods: 3,
  /** DynamoDB requests throttled per table in 5 minutes (on-demand tables throttle only past their limits). */
  dynamoThrottledRequests: 1,
  /** The change-event publisher is behind when its oldest stream record is older than this (minutes). */
  publisherIteratorAgeMinutes: 5,
} as const

/** The DynamoDB operations PartnerOps calls (infra/access.ts), the ones whose throttling is alarmed. */
export const DYNAMO_OPERATIONS: readonly TableAction[] = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
]

/** What the monitoring construct watches. */
export interface MonitoringProps {
  alarmEmail: string
  /** Every function (its timeout sets its duration alarm; a function without one has Lambda's 3 s). */
  functions: Record<FunctionKey, lambda.Function>
  /** Every DynamoDB table, by key (throttled requests are alarmed per table). */
  tables: Record<string, dynamodb.ITableV2>
  api: PartnerOpsApi
  /** Dead-letter and on-failure queues, by a readable name, with what a message in each means. */
  deadLetterQueues: Record<string, { queue: sqs.IQueue; meaning: string }>
  /** The change-event publisher's on-failure queue (also in deadLetterQueues), for the dashboard. */
  changeEventFailures: sqs.IQueue
  pollRateMinutes: number
  unauthorizedAlarmThreshold: number
  /**
   * Quality signals: whether the publisher emits the quality metrics (then the LiveChannelTurnedRed
   * alarm exists), and whether that alarm notifies the topic (off by default: many partners see RED
   * ratings daily and watch them in the console or through the change events instead).
   */
  quality: { metrics: boolean; redAlarmActions: boolean }
  dashboardName: string
}

const FIVE_MINUTES = Duration.minutes(5)

/** A PartnerOps EMF metric (namespace PartnerOps, dimension `service`). */
export function partnerMetric(
  service: FunctionKey,
  metricName: string,
  statistic: string = cloudwatch.Stats.SUM,
  period: Duration = FIVE_MINUTES,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: NAMESPACE,
    metricName,
    dimensionsMap: { service: FUNCTIONS[service].service },
    statistic,
    period,
  })
}

/**
 * One webhook outcome metric summed over every function that emits it (WEBHOOK_OUTCOME_SERVICES: the
 * stream applier, and the webhook function when a redelivery completes a pending event). Missing
 * datapoints count as 0, so one silent emitter does not blank the sum.
 */
export function webhookOutcomeMetric(
  key: keyof typeof WEBHOOK_OUTCOMES,
  period: Duration = FIVE_MINUTES,
): cloudwatch.MathExpression {
  const usingMetrics = Object.fromEntries(
    WEBHOOK_OUTCOME_SERVICES.map((service) => [
      `${key.toLowerCase()}_${service.toLowerCase()}`,
      partnerMetric(service, WEBHOOK_OUTCOMES[key], cloudwatch.Stats.SUM, period),
    ]),
  )
  return new cloudwatch.MathExpression({
    expression: Object.keys(usingMetrics)
      .map((id) => `FILL(${id}, 0)`)
      .join(' + '),
    usingMetrics,
    label: WEBHOOK_OUTCOMES[key],
    period,
  })
}

/**
 * Alarms (to an SNS topic with an e-mail subscription) and the operations dashboard: function errors,
 * throttles and a p99 duration close to the timeout, DynamoDB throttled requests per table,
 * dead-letter queue depth, API 5xx and latency p99, a burst of webhook authentication failures,
 * rejected webhook events, a lagging webhook applier (stream iterator age), stale reconciliation,
 * a halted missing detection and partner settings drift.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic
  readonly alarms: cloudwatch.Alarm[] = []
  readonly dashboard: cloudwatch.Dashboard

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id)
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'PartnerOps alarms',
      enforceSSL: true,
    })
    this.topic.addSubscription(new EmailSubscription(props.alarmEmail))
    const action = new SnsAction(this.topic)
    const alarm = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      treatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods = 1,
    ): cloudwatch.Alarm => {
      const a = new cloudwatch.Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator,
        treatMissingData,
        alarmDescription: description,
      })
      a.addAlarmAction(action)
      a.addOkAction(action)
      this.alarms.push(a)
      return a
    }

    for (const [name, fn] of Object.entries(props.functions) as [FunctionKey, lambda.Function][]) {
      const label = name.charAt(0).toUpperCase() + name.slice(1)
      alarm(
        `${label}Errors`,
        fn.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
        1,
        `The ${name} function failed (errors in 5 minutes). Check its log group.`,
      )
      alarm(
        `${label}Throttles`,
        fn.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
        1,
        `The ${name} function was throttled (concurrency limit reached).`,
      )
      const timeout = fn.timeout ?? Duration.seconds(3)
      const limitMs = Math.round(timeout.toMilliseconds() * ALARM_DEFAULTS.durationShareOfTimeout)
      alarm(
        `${label}DurationNearTimeout`,
        fn.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
        limitMs,
        `The ${name} function's p99 duration is above ${ALARM_DEFAULTS.durationShareOfTimeout * 100} % of its ${timeout.toHumanString()} timeout (${limitMs} ms): it is close to timing out. Check slow dependencies (DynamoDB, the Partner API) in its traces.`,
        cloudwatch.TreatMissingData.NOT_BREACHING,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      )
    }
    for (const [key, table] of Object.entries(props.tables)) {
      const label = key.charAt(0).toUpperCase() + key.slice(1)
      alarm(
        `${label}TableThrottled`,
        table.metricThrottledRequestsForOperations({
          operations: DYNAMO_OPERATIONS as dynamodb.Operation[],
          period: FIVE_MINUTES,
        }),
        ALARM_DEFAULTS.dynamoThrottledRequests,
        `DynamoDB throttled requests to the ${key} table (past the on-demand table's throughput limits, or a hot key). The functions retry; sustained throttling delays webhooks and reconciliation.`,
      )
    }
    for (const [name, { queue, meaning }] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Depth`,
        queue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        1,
        `Messages are waiting in the ${name} queue: ${meaning}`,
      )
    }
    const lagMinutes = ALARM_DEFAULTS.applierIteratorAgeMinutes
    alarm(
      'WebhookApplierIteratorAge',
      props.functions.webhookApplier.metric('IteratorAge', {
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      lagMinutes * 60_000,
      `The webhook applier is more than ${lagMinutes} minutes behind the events table's stream: webhooks are stored and answered but not yet applied. Check its errors and throttles; records given up go to the WebhookApplierFailures queue and are completed by the reconciliation sweep.`,
      cloudwatch.TreatMissingData.NOT_BREACHING,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    )
    const publisherLag = ALARM_DEFAULTS.publisherIteratorAgeMinutes
    alarm(
      'EventPublisherIteratorAge',
      props.functions.eventPublisher.metric('IteratorAge', {
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      publisherLag * 60_000,
      `The change-event publisher is more than ${publisherLag} minutes behind the state tables' streams: changes are stored but their events not yet on the bus (EventBridge failing or throttling, or a record it cannot publish). Check its logs; batches given up go to the ChangeEventFailures queue.`,
      cloudwatch.TreatMissingData.NOT_BREACHING,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    )
    alarm(
      'Api5xx',
      props.api.api.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      ALARM_DEFAULTS.api5xxPerFiveMinutes,
      'The API answered 5xx (storage or Partner API unavailable, or a function failure).',
    )
    alarm(
      'ApiLatencyP99',
      props.api.api.metricLatency({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.p(99) }),
      ALARM_DEFAULTS.apiLatencyP99Ms,
      `The API's p99 latency stayed above ${ALARM_DEFAULTS.apiLatencyP99Ms} ms for ${ALARM_DEFAULTS.apiLatencyPeriods * 5} minutes (a slow dependency, cold starts under a burst, or throttled writes).`,
      cloudwatch.TreatMissingData.NOT_BREACHING,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      ALARM_DEFAULTS.apiLatencyPeriods,
    )
    alarm(
      'WebhookUnauthorizedSpike',
      partnerMetric('webhook', WEBHOOK.unauthorized),
      props.unauthorizedAlarmThreshold,
      'A burst of webhook requests answered 401 (signature or token check failed). Most often the Platform Secret was rotated in the 360dialog Partner Hub and the new one is not stored yet: store it (npm run setup, or put both secrets as a JSON array during the rotation). Otherwise someone is probing the endpoint.',
    )
    alarm(
      'PartnerSettingsDrift',
      partnerMetric('poller', PARTNER_SETTINGS.drift, cloudwatch.Stats.MAXIMUM),
      1,
      "The partner's settings at 360dialog (webhook URL, redirect URL) no longer match this deployment: webhooks or onboarding redirects may go elsewhere. Re-run npm run setup (it registers both) or check who changed them in the Partner Hub.",
    )
    if (props.quality.metrics) {
      const red = new cloudwatch.Alarm(this, 'LiveChannelTurnedRed', {
        metric: partnerMetric('eventPublisher', QUALITY.liveTurnedRed),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        actionsEnabled: props.quality.redAlarmActions,
        alarmDescription:
          "A live channel's quality rating turned RED (Channel Quality Changed on the bus names it). Meta may lower its messaging limit or restrict it: look at the templates and opt-outs of that number. Notifications are off unless qualityRedAlarmActions is true in cdk.json.",
      })
      red.addAlarmAction(action)
      red.addOkAction(action)
      this.alarms.push(red)
    }
    alarm(
      'WebhookRejectedEvents',
      webhookOutcomeMetric('rejected'),
      1,
      'A known webhook event did not fit its expected shape; it is stored as rejected and can be replayed after a fix.',
    )
    alarm(
      'ReconciliationMassMissingHalted',
      partnerMetric('poller', POLLER.warningMassMissingHalted, cloudwatch.Stats.MAXIMUM),
      1,
      'A reconciliation run found more than 5 % (at least 10) of the stored clients or channels absent upstream and marked none of them missing. Check what the Partner API lists (GET /status shows the run); missing detection resumes once the lists agree again.',
    )
    alarm(
      'ChannelBecameUnhealthy',
      partnerMetric('health', HEALTH.becameUnhealthy),
      1,
      'A health sweep found a live channel that has just become BLOCKED (Cloud API) or disconnected (on-premise gateway): it cannot send messages. GET /channels?health=BLOCKED (or =disconnected) lists them with the errors Meta gave; the Channel Health Changed event names each one. The alarm clears at the next period without a new one.',
    )
    const staleSeconds = ALARM_DEFAULTS.staleIntervals * props.pollRateMinutes * 60
    alarm(
      'ReconciliationStale',
      partnerMetric(
        'poller',
        POLLER.secondsSinceLastSuccess,
        cloudwatch.Stats.MAXIMUM,
        Duration.minutes(ALARM_DEFAULTS.staleIntervals * props.pollRateMinutes),
      ),
      staleSeconds,
      `No successful reconciliation run in ${ALARM_DEFAULTS.staleIntervals} poll intervals (or the poller did not report at all).`,
      cloudwatch.TreatMissingData.BREACHING,
    )

    this.dashboard = this.buildDashboard(props, staleSeconds)
  }

  private buildDashboard(props: MonitoringProps, staleSeconds: number): cloudwatch.Dashboard {
    const oneMinute = Duration.minutes(1)
    const webhookFn = props.functions.webhook
    const applierFn = props.functions.webhookApplier
    const d = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(6),
    })
    d.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '# PartnerOps\nWebhooks, reconciliation, cancellations and errors. Alarms go to the alarm topic.',
        width: 24,
        height: 2,
      }),
    )
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Webhook rate (per minute)',
        width: 12,
        left: [WEBHOOK.accepted, WEBHOOK.duplicate, WEBHOOK.unauthorized, WEBHOOK.storeFailed].map((m) =>
          partnerMetric('webhook', m, cloudwatch.Stats.SUM, oneMinute),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Webhook latency (ms)',
        width: 12,
        left: [
          props.api.routeMetric('POST', WEBHOOK_PATH, 'Latency', {
            statistic: cloudwatch.Stats.p(50),
            period: oneMinute,
            label: 'route p50',
          }),
          props.api.routeMetric('POST', WEBHOOK_PATH, 'Latency', {
            statistic: cloudwatch.Stats.p(99),
            period: oneMinute,
            label: 'route p99',
          }),
          webhookFn.metricDuration({
            statistic: cloudwatch.Stats.p(99),
            period: oneMinute,
            label: 'function p99',
          }),
        ],
        right: [
          props.api.routeMetric('POST', WEBHOOK_PATH, 'Count', {
            statistic: cloudwatch.Stats.SUM,
            period: oneMinute,
            label: 'requests',
          }),
        ],
      }),
    )
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Webhook outcomes (per minute)',
        width: 12,
        left: (Object.keys(WEBHOOK_OUTCOMES) as (keyof typeof WEBHOOK_OUTCOMES)[]).map((key) =>
          webhookOutcomeMetric(key, oneMinute),
        ),
      }),
      new cloudwatch.GraphWidget({
        title: 'Webhook applier (stream)',
        width: 12,
        left: [
          applierFn.metric('IteratorAge', {
            statistic: cloudwatch.Stats.MAXIMUM,
            period: oneMinute,
            label: 'iterator age max (ms)',
          }),
          applierFn.metricDuration({
            statistic: cloudwatch.Stats.p(99),
            period: oneMinute,
            label: 'function p99 (ms)',
          }),
        ],
        leftAnnotations: [
          {
            value: ALARM_DEFAULTS.applierIteratorAgeMinutes * 60_000,
            label: 'behind',
            color: cloudwatch.Color.RED,
          },
        ],
        right: [
          applierFn.metricInvocations({
            statistic: cloudwatch.Stats.SUM,
            period: oneMinute,
            label: 'batches',
          }),
          applierFn.metricErrors({ statistic: cloudwatch.Stats.SUM, period: oneMinute, label: 'errors' }),
        ],
      }),
    )
    const publisherFn = props.functions.eventPublisher
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Change events: publisher lag',
        width: 12,
        left: [
          publisherFn.metric('IteratorAge', {
            statistic: cloudwatch.Stats.MAXIMUM,
            period: oneMinute,
            label: 'iterator age max (ms), all three streams',
          }),
          partnerMetric('eventPublisher', CHANGE_EVENTS.delay, cloudwatch.Stats.p(99), oneMinute),
        ],
        leftAnnotations: [
          {
            value: ALARM_DEFAULTS.publisherIteratorAgeMinutes * 60_000,
            label: 'behind',
            color: cloudwatch.Color.RED,
          },
        ],
        right: [
          partnerMetric('eventPublisher', CHANGE_EVENTS.published, cloudwatch.Stats.SUM, oneMinute),
          partnerMetric('eventPublisher', CHANGE_EVENTS.failed, cloudwatch.Stats.SUM, oneMinute),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Change events: on-failure queue (batches to redrive)',
        width: 12,
        left: [
          props.changeEventFailures.metricApproximateNumberOfMessagesVisible({
            statistic: cloudwatch.Stats.MAXIMUM,
            period: oneMinute,
            label: 'ChangeEventFailures depth',
          }),
        ],
        leftAnnotations: [{ value: 1, label: 'redrive', color: cloudwatch.Color.RED }],
      }),
    )
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Reconciliation duration (ms)',
        width: 8,
        left: [partnerMetric('poller', POLLER.runDuration, cloudwatch.Stats.MAXIMUM, FIVE_MINUTES)],
      }),
      new cloudwatch.GraphWidget({
        title: 'Reconciliation changes',
        width: 8,
        left: [POLLER.clientsChanged, POLLER.channelsChanged, POLLER.channelsMissing, POLLER.eventsSwept].map(
          (m) => partnerMetric('poller', m),
        ),
        right: [partnerMetric('poller', POLLER.runFailed)],
      }),
      new cloudwatch.GraphWidget({
        title: 'Reconciliation warnings',
        width: 8,
        left: [
          POLLER.warningItemsKeyMissing,
          POLLER.warningTotalMismatch,
          POLLER.warningMassMissingHalted,
          POLLER.warningQuarantinedItems,
          POLLER.warningSortFallback,
        ].map((m) => partnerMetric('poller', m)),
        right: [partnerMetric('poller', POLLER.itemsQuarantined)],
      }),
      new cloudwatch.GraphWidget({
        title: 'Seconds since last successful run',
        width: 8,
        left: [partnerMetric('poller', POLLER.secondsSinceLastSuccess, cloudwatch.Stats.MAXIMUM)],
        leftAnnotations: [{ value: staleSeconds, label: 'stale', color: cloudwatch.Color.RED }],
      }),
    )
    d.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Cancellations',
        width: 12,
        left: [
          ...(['POST', 'DELETE'] as const).flatMap((method) => [
            props.api.routeMetric(method, CANCELLATION_PATH, 'Count', {
              statistic: cloudwatch.Stats.SUM,
              period: FIVE_MINUTES,
              label: `${method} requests`,
            }),
            props.api.routeMetric(method, CANCELLATION_PATH, '4XXError', {
              statistic: cloudwatch.Stats.SUM,
              period: FIVE_MINUTES,
              label: `${method} refused (4xx)`,
            }),
            props.api.routeMetric(method, CANCELLATION_PATH, '5XXError', {
              statistic: cloudwatch.Stats.SUM,
              period: FIVE_MINUTES,
              label: `${method} failed (5xx)`,
            }),
          ]),
          partnerMetric('poller', POLLER.cancellationsConfirmed),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Channel health (per sweep)',
        width: 12,
        left: [
          partnerMetric('health', HEALTH.unhealthy, cloudwatch.Stats.MAXIMUM),
          partnerMetric('health', HEALTH.becameUnhealthy),
          partnerMetric('health', HEALTH.changed),
        ],
        right: [
          partnerMetric('health', HEALTH.checked),
          partnerMetric('health', HEALTH.failed),
          partnerMetric('health', HEALTH.keysRejected),
          partnerMetric('health', HEALTH.late),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors',
        width: 12,
        left: Object.entries(props.functions).map(([name, fn]) =>
          fn.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM, label: `${name} errors` }),
        ),
        right: [
          props.api.api.metricServerError({
            period: FIVE_MINUTES,
            statistic: cloudwatch.Stats.SUM,
            label: 'API 5xx',
          }),
          props.api.api.metricClientError({
            period: FIVE_MINUTES,
            statistic: cloudwatch.Stats.SUM,
            label: 'API 4xx',
          }),
        ],
      }),
    )
    d.addWidgets(...this.signalWidgets(props))
    d.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.alarms }))
    return d
  }

  /**
   * What partners watch (README "What partners watch"): channels moved into each quality rating and the
   * live ones that turned RED (the event publisher's quality metrics, per 5 minutes), and the partner
   * settings drift of each reconciliation run (0 or 1; the PartnerSettingsDrift alarm reads it).
   */
  private signalWidgets(props: MonitoringProps): cloudwatch.IWidget[] {
    const quality = props.quality.metrics
      ? new cloudwatch.GraphWidget({
          title: 'Channel quality: channels moved into each rating (per 5 minutes)',
          width: 12,
          left: (['green', 'yellow', 'red', 'unknown'] as const).map((key) =>
            partnerMetric('eventPublisher', QUALITY[key]),
          ),
          right: [partnerMetric('eventPublisher', QUALITY.liveTurnedRed)],
          rightAnnotations: [{ value: 1, label: 'live channel turned RED', color: cloudwatch.Color.RED }],
        })
      : new cloudwatch.TextWidget({
          markdown:
            '### Channel quality\nQuality metrics are off in this deployment (`qualityMetrics` is false in cdk.json): the `Channel Quality Changed` events on the bus still name every change.',
          width: 12,
          height: 6,
        })
    return [
      quality,
      new cloudwatch.GraphWidget({
        title: 'Partner settings drift (per reconciliation run)',
        width: 12,
        left: [partnerMetric('poller', PARTNER_SETTINGS.drift, cloudwatch.Stats.MAXIMUM)],
        leftYAxis: { min: 0, max: 1 },
        leftAnnotations: [{ value: 1, label: 'drift', color: cloudwatch.Color.RED }],
      }),
    ]
  }
}

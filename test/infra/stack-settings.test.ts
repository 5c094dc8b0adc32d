import { beforeAll, describe, expect, it } from 'vitest'
import { ALARM_DEFAULTS, DYNAMO_OPERATIONS } from '../../infra/constructs/monitoring'
import { TABLES } from '../../shared/adapters/dynamo/tables'
import { FUNCTIONS } from '../../shared/functions'
import { CALLBACK_PATH, ROUTES, WEBHOOK_PATH } from '../../shared/http/routes'
import { resourcesOf, type Synthesized, synthesize } from './synth'

interface MethodSetting {
  HttpMethod: string
  ResourcePath: string
  ThrottlingRateLimit?: number
  ThrottlingBurstLimit?: number
  LoggingLevel?: string
  DataTraceEnabled?: boolean
  MetricsEnabled?: boolean
}

type Props = Record<string, unknown>

/** API Gateway's encoding of a resource path in a method setting: "/" + path with "/" as "~1". */
const settingPath = (path: string): string => `/${path.replace(/\//g, '~1')}`

describe('stack settings', () => {
  let s: Synthesized
  let settings: MethodSetting[]
  let alarms: Props[]
  let functionIds: Record<string, { id: string; timeout: number }>

  beforeAll(() => {
    s = synthesize({ apiRateLimit: 70, apiBurstLimit: 140, webhookRateLimit: 900, callbackRateLimit: 4 })
    const stage = Object.values(resourcesOf(s.stateless, 'AWS::ApiGateway::Stage'))[0]?.Properties
    settings = (stage?.MethodSettings ?? []) as MethodSetting[]
    alarms = Object.values(resourcesOf(s.stateless, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties)
    functionIds = Object.fromEntries(
      Object.entries(resourcesOf(s.stateless, 'AWS::Lambda::Function')).map(([id, fn]) => {
        const env = (fn.Properties.Environment as { Variables: Record<string, string> }).Variables
        return [env.POWERTOOLS_SERVICE_NAME, { id, timeout: fn.Properties.Timeout as number }]
      }),
    )
  })

  it('gives every route the stage logging level and the throttling meant for it, overridden or not', () => {
    const stage = settings.find((m) => m.HttpMethod === '*' && m.ResourcePath === '/*')
    expect(stage).toMatchObject({
      ThrottlingRateLimit: 70,
      ThrottlingBurstLimit: 140,
      LoggingLevel: 'ERROR',
      DataTraceEnabled: false,
    })
    const own: Record<string, { rate: number; burst: number }> = {
      [`POST ${WEBHOOK_PATH}`]: { rate: 900, burst: 2000 },
      [`GET ${CALLBACK_PATH}`]: { rate: 4, burst: 10 },
    }
    for (const route of ROUTES) {
      const key = `${route.method} ${route.path}`
      const override = settings.find(
        (m) => m.HttpMethod === route.method && m.ResourcePath === settingPath(route.path),
      )
      // What API Gateway applies to this route: its override when it has one, else the stage's.
      const effective = override ?? stage
      const expected = own[key] ?? { rate: 70, burst: 140 }
      expect(effective, key).toMatchObject({
        ThrottlingRateLimit: expected.rate,
        ThrottlingBurstLimit: expected.burst,
        LoggingLevel: 'ERROR',
        DataTraceEnabled: false,
      })
    }
    // No override of a path that is not a route (a typo would silently apply nothing).
    const routePaths = new Set(ROUTES.map((r) => `${r.method} ${settingPath(r.path)}`))
    for (const m of settings.filter((x) => x.HttpMethod !== '*')) {
      expect(routePaths.has(`${m.HttpMethod} ${m.ResourcePath}`), `${m.HttpMethod} ${m.ResourcePath}`).toBe(
        true,
      )
    }
  })

  it('alarms on every function whose p99 duration passes 80 % of its timeout', () => {
    const duration = alarms.filter((a) => a.MetricName === 'Duration')
    expect(duration).toHaveLength(Object.keys(functionIds).length)
    for (const [service, fn] of Object.entries(functionIds)) {
      const a = duration.find(
        (x) =>
          JSON.stringify(x.Dimensions) === JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fn.id } }]),
      )
      expect(a, service).toMatchObject({
        Namespace: 'AWS/Lambda',
        ExtendedStatistic: 'p99',
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: Math.round(fn.timeout * 1000 * ALARM_DEFAULTS.durationShareOfTimeout),
      })
    }
    // The webhook's 5 s timeout gives a 4,000 ms threshold.
    expect(FUNCTIONS.webhook.timeoutSeconds).toBe(5)
    expect(duration.map((a) => a.Threshold)).toContain(4000)
  })

  it('alarms on throttled DynamoDB requests of every table, over every operation PartnerOps calls', () => {
    const throttled = alarms.filter((a) => JSON.stringify(a.Metrics ?? []).includes('"ThrottledRequests"'))
    expect(throttled).toHaveLength(TABLES.length)
    for (const a of throttled) {
      const queries = a.Metrics as {
        Expression?: string
        MetricStat?: { Metric: { Namespace: string; Dimensions: { Name: string; Value: unknown }[] } }
      }[]
      const ops = queries
        .flatMap((q) => q.MetricStat?.Metric.Dimensions ?? [])
        .filter((d) => d.Name === 'Operation')
        .map((d) => d.Value)
      expect(ops.sort()).toEqual([...DYNAMO_OPERATIONS].sort())
      expect(queries.every((q) => !q.MetricStat || q.MetricStat.Metric.Namespace === 'AWS/DynamoDB')).toBe(
        true,
      )
      expect(a.Threshold).toBe(ALARM_DEFAULTS.dynamoThrottledRequests)
    }
    // One alarm per table: each names a different table (an import from the stateful stack).
    const tablesNamed = new Set(
      throttled.map((a) =>
        JSON.stringify(
          (a.Metrics as { MetricStat?: { Metric: { Dimensions: { Name: string; Value: unknown }[] } } }[])
            .flatMap((q) => q.MetricStat?.Metric.Dimensions ?? [])
            .find((d) => d.Name === 'TableName')?.Value,
        ),
      ),
    )
    expect(tablesNamed.size).toBe(TABLES.length)
  })

  it('alarms on API 5xx and on a sustained API latency p99', () => {
    const fiveXx = alarms.filter((a) => a.MetricName === '5XXError')
    expect(fiveXx).toHaveLength(1)
    expect(fiveXx[0]).toMatchObject({ Namespace: 'AWS/ApiGateway', Statistic: 'Sum' })
    const latency = alarms.filter((a) => a.MetricName === 'Latency')
    expect(latency).toHaveLength(1)
    expect(latency[0]).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      ExtendedStatistic: 'p99',
      Threshold: ALARM_DEFAULTS.apiLatencyP99Ms,
      EvaluationPeriods: ALARM_DEFAULTS.apiLatencyPeriods,
    })
    expect(JSON.stringify(latency[0]?.Dimensions)).toContain('ApiName')
  })

  it('alarms on a burst of webhook 401s and says what a rotated Platform Secret needs', () => {
    const unauthorized = alarms.filter((a) => a.MetricName === 'WebhookUnauthorized')
    expect(unauthorized).toHaveLength(1)
    expect(unauthorized[0]).toMatchObject({ Namespace: 'PartnerOps', Statistic: 'Sum', Threshold: 20 })
    expect(String(unauthorized[0]?.AlarmDescription)).toMatch(/Platform Secret was rotated/)
  })

  it('alarms on partner settings drift reported by the poller', () => {
    const drift = alarms.filter((a) => a.MetricName === 'PartnerSettingsDrift')
    expect(drift).toHaveLength(1)
    expect(drift[0]).toMatchObject({
      Namespace: 'PartnerOps',
      Dimensions: [{ Name: 'service', Value: 'poller' }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    })
    for (const a of alarms) expect(JSON.stringify(a.AlarmActions)).toMatch(/AlarmTopic/)
  })
})

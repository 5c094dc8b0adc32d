import { readFileSync } from 'node:fs'
import { Match } from 'aws-cdk-lib/assertions'
import { describe, expect, it } from 'vitest'
import { NAMESPACE, PARTNER_SETTINGS, QUALITY } from '../../infra/metrics'
import { synthesize } from './synth'

const redAlarm = (s: ReturnType<typeof synthesize>) =>
  s.stateless.findResources('AWS::CloudWatch::Alarm', {
    Properties: { MetricName: QUALITY.liveTurnedRed, Namespace: NAMESPACE },
  })

const publisherEnv = (s: ReturnType<typeof synthesize>): Record<string, unknown> => {
  const fns = s.stateless.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ EVENT_SINK: 'eventbridge' }) } },
  })
  const [fn] = Object.values(fns) as { Properties: { Environment: { Variables: Record<string, unknown> } } }[]
  return fn?.Properties.Environment.Variables ?? {}
}

describe('quality metrics and the RED alarm', () => {
  it('emits the metrics and creates the alarm, with its notifications off, by default', () => {
    const s = synthesize()
    expect(publisherEnv(s)['QUALITY_METRICS']).toBe('on')
    const alarms = Object.values(redAlarm(s)) as { Properties: Record<string, unknown> }[]
    expect(alarms).toHaveLength(1)
    expect(alarms[0]?.Properties).toMatchObject({
      ActionsEnabled: false,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Statistic: 'Sum',
      Dimensions: [{ Name: 'service', Value: 'event-publisher' }],
      TreatMissingData: 'notBreaching',
    })
    expect(alarms[0]?.Properties['AlarmActions']).toHaveLength(1)
  })

  it('notifies the alarm topic when qualityRedAlarmActions is true (cdk.json or -c)', () => {
    for (const value of [true, 'true']) {
      const alarms = Object.values(redAlarm(synthesize({ qualityRedAlarmActions: value }))) as {
        Properties: Record<string, unknown>
      }[]
      expect(alarms[0]?.Properties['ActionsEnabled']).toBe(true)
    }
  })

  it('turns metric and alarm off with qualityMetrics false', () => {
    const s = synthesize({ qualityMetrics: false })
    expect(publisherEnv(s)['QUALITY_METRICS']).toBe('off')
    expect(Object.keys(redAlarm(s))).toEqual([])
  })

  it('refuses a setting that is not a boolean', () => {
    expect(() => synthesize({ qualityRedAlarmActions: 'yes' })).toThrow(/qualityRedAlarmActions/)
  })

  it('reads the metric names the publisher emits', () => {
    const publisher = readFileSync('functions/event-publisher/handler.ts', 'utf8')
    expect(publisher).toContain('QUALITY_METRIC_OF[rating]')
    expect(publisher).toContain('LIVE_CHANNEL_TURNED_RED')
    expect(Object.values(QUALITY).sort()).toEqual(
      [
        'ChannelQualityGreen',
        'ChannelQualityRed',
        'ChannelQualityUnknown',
        'ChannelQualityYellow',
        'LiveChannelTurnedRed',
      ].sort(),
    )
  })
})

/** The dashboard JSON of a synthesis, tokens (region, function names) left out. */
const dashboardJson = (s: ReturnType<typeof synthesize>): string => {
  const [dashboard] = Object.values(s.stateless.findResources('AWS::CloudWatch::Dashboard')) as {
    Properties: { DashboardBody: { 'Fn::Join': [string, unknown[]] } }
  }[]
  return (dashboard?.Properties.DashboardBody['Fn::Join'][1] ?? [])
    .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
    .join('')
}

describe('the operations dashboard shows quality and partner settings drift', () => {
  it('graphs channels moved into each rating and live channels turned RED, from the publisher', () => {
    const json = dashboardJson(synthesize())
    expect(json).toContain('Channel quality: channels moved into each rating')
    for (const name of Object.values(QUALITY)) {
      expect(json, name).toContain(`["${NAMESPACE}","${name}","service","event-publisher"`)
    }
  })

  it('graphs the drift metric of every reconciliation run, from the poller, whatever the quality setting', () => {
    for (const s of [synthesize(), synthesize({ qualityMetrics: false })]) {
      const json = dashboardJson(s)
      expect(json).toContain('Partner settings drift (per reconciliation run)')
      expect(json).toContain(`["${NAMESPACE}","${PARTNER_SETTINGS.drift}","service","poller"`)
    }
  })

  it('says the quality metrics are off instead of graphing nothing when qualityMetrics is false', () => {
    const json = dashboardJson(synthesize({ qualityMetrics: false }))
    expect(json).not.toContain(QUALITY.green)
    expect(json).toContain('Quality metrics are off in this deployment')
  })
})

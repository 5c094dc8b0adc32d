import type { Stack } from 'aws-cdk-lib'
import { Match } from 'aws-cdk-lib/assertions'
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb'
import { beforeAll, describe, expect, it } from 'vitest'
import { CALLER_POLICIES, STAGE_NAME } from '../../infra/constructs/api'
import { ALARM_DEFAULTS } from '../../infra/constructs/monitoring'
import { WEBHOOK_OUTCOMES } from '../../infra/metrics'
import type { TableKey } from '../../shared/adapters/dynamo/tables'
import { loadConfig, readsSetting, SETTINGS, type SettingInfo, type SettingName } from '../../shared/env'
import { FUNCTION_KEYS, FUNCTIONS, type FunctionAccess, type FunctionKey } from '../../shared/functions'
import { ROUTES } from '../../shared/http/routes'
import type { SecretName } from '../../shared/ports'
import { resourcesOf, type Synthesized, synthesize } from './synth'

interface Statement {
  Effect: string
  Action: string | string[]
  Resource: unknown
  Condition?: unknown
}

const FNS: FunctionKey[] = [
  'webhook',
  'webhookApplier',
  'api',
  'export',
  'onboarding',
  'poller',
  'eventPublisher',
  'health',
  'channelKeys',
]
// What the stream mapping grants the applier on the events table's stream (grantStreamRead).
const STREAM_ACTIONS = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
]
const keyOfService = (service: unknown): FunctionKey => {
  const key = FUNCTION_KEYS.find((k) => FUNCTIONS[k].service === service)
  if (!key) throw new Error(`no function with service name ${String(service)}`)
  return key
}
const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v])
const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as Parameters<Stack['getLogicalId']>[0])

describe('stateless stack', () => {
  let s: Synthesized
  let fns: Record<FunctionKey, { id: string; props: Record<string, unknown>; statements: Statement[] }>
  let tableIds: Record<TableKey, string>
  let secretIds: Partial<Record<SecretName, string>>

  beforeAll(() => {
    s = synthesize({ webhookAuth: 'signature+token', pollRateMinutes: 10 })
    const functions = resourcesOf(s.stateless, 'AWS::Lambda::Function')
    const policies = resourcesOf(s.stateless, 'AWS::IAM::Policy')
    fns = {} as typeof fns
    for (const [id, fn] of Object.entries(functions)) {
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables
      const name = keyOfService(env.POWERTOOLS_SERVICE_NAME)
      const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
      const statements = Object.values(policies)
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
        .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      fns[name] = { id, props: fn.Properties, statements }
    }
    const stateful = s.stacks.stateful
    tableIds = Object.fromEntries(
      Object.entries(stateful.tables).map(([k, t]) => [k, logicalId(stateful, t as dynamodb.TableV2)]),
    ) as Record<TableKey, string>
    secretIds = Object.fromEntries(
      Object.entries(stateful.secrets).map(([k, sec]) => [k, logicalId(stateful, sec)]),
    )
  })

  it('has exactly the nine functions, on nodejs24.x and arm64 with tracing', () => {
    expect(Object.keys(fns).sort()).toEqual([...FNS].sort())
    expect([...FUNCTION_KEYS].sort()).toEqual([...FNS].sort())
    s.stateless.resourceCountIs('AWS::Lambda::Function', 9)
    for (const name of FNS) {
      const p = fns[name].props
      expect(p.Runtime).toBe('nodejs24.x')
      expect(p.Architectures).toEqual(['arm64'])
      expect(p.Handler).toBe('index.handler')
      expect(p.TracingConfig).toEqual({ Mode: 'Active' })
      expect(p.MemorySize).toBe(FUNCTIONS[name].memoryMb)
      expect(p.Timeout).toBe(FUNCTIONS[name].timeoutSeconds)
    }
  })

  it('gives each function an environment that shared/env.ts accepts, with only its own secret ids', () => {
    const secretEnv = Object.fromEntries(
      (Object.entries(SETTINGS) as [SettingName, SettingInfo][]).flatMap(([name, spec]) =>
        spec.secretId ? [[spec.secretId, name]] : [],
      ),
    ) as Record<SecretName, SettingName>
    expect(Object.keys(secretEnv).sort()).toEqual([
      'linkSigningKey',
      'partnerApi',
      'platformSecret',
      'webhookToken',
    ])
    for (const name of FNS) {
      const vars = (fns[name].props.Environment as { Variables: Record<string, unknown> }).Variables
      // Tokens (table names, ARNs) become placeholders; everything literal is checked by the real parser.
      const env = Object.fromEntries(
        Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : `resolved-${k.toLowerCase()}`]),
      )
      const config = loadConfig(env)
      expect(config.SECRETS_SOURCE).toBe('aws')
      expect(config.EVENT_SINK).toBe('eventbridge')
      expect(config.PARTNER_ID).toBe('examplePA')
      expect(vars.POWERTOOLS_METRICS_NAMESPACE).toBe('PartnerOps')
      expect(vars.POWERTOOLS_SERVICE_NAME).toBe(FUNCTIONS[name].service)
      for (const key of [
        'TABLE_CLIENTS',
        'TABLE_CHANNELS',
        'TABLE_EVENTS',
        'TABLE_CANCELLATIONS',
        'TABLE_AUDIT',
        'TABLE_OPS',
      ]) {
        expect(typeof vars[key], `${name} ${key}`).toBe('object')
      }
      const present = (Object.keys(secretEnv) as SecretName[]).filter((k) => vars[secretEnv[k]] !== undefined)
      expect(present.sort(), name).toEqual([...FUNCTIONS[name].access.secrets].sort())
      // Never a secret value, and the cursor secret is derived from the stack id, not a literal.
      expect(JSON.stringify(vars)).not.toMatch(
        /PARTNER_API_KEY|PLATFORM_SECRET"|WEBHOOK_TOKEN"|LINK_SIGNING_KEY"/,
      )
      expect(JSON.stringify(vars.CURSOR_SECRET)).toContain('AWS::StackId')
    }
    const webhookVars = (fns.webhook.props.Environment as { Variables: Record<string, unknown> }).Variables
    expect(webhookVars.WEBHOOK_SIGNATURE).toBe('required')
    const pollerVars = (fns.poller.props.Environment as { Variables: Record<string, unknown> }).Variables
    expect(Number(pollerVars.POLL_BUDGET_MS)).toBeLessThan(FUNCTIONS.poller.timeoutSeconds * 1000)
    expect(Number(pollerVars.POLL_LEASE_MS)).toBeGreaterThan(FUNCTIONS.poller.timeoutSeconds * 1000)
    const onboardingVars = (fns.onboarding.props.Environment as { Variables: Record<string, unknown> })
      .Variables
    expect(JSON.stringify(onboardingVars.ONBOARDING_CALLBACK_URL)).toContain(
      `/${STAGE_NAME}/onboarding/callback`,
    )
    // GET /partner and every run compare 360dialog's URLs with these two.
    for (const fn of [fns.api, fns.poller]) {
      const vars = (fn.props.Environment as { Variables: Record<string, unknown> }).Variables
      expect(JSON.stringify(vars.WEBHOOK_URL)).toContain(`/${STAGE_NAME}/webhooks/360dialog`)
      expect(JSON.stringify(vars.ONBOARDING_CALLBACK_URL)).toContain(`/${STAGE_NAME}/onboarding/callback`)
    }
  })

  it('sets only settings defined in shared/env.ts, each on the functions that read it, and never a secret value', () => {
    const runtime = [
      'NODE_OPTIONS',
      'POWERTOOLS_SERVICE_NAME',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_LOG_LEVEL',
    ]
    for (const name of FNS) {
      const vars = (fns[name].props.Environment as { Variables: Record<string, unknown> }).Variables
      for (const key of Object.keys(vars).filter((k) => !runtime.includes(k))) {
        expect(key in SETTINGS, `${name} ${key}`).toBe(true)
        expect(readsSetting(key as SettingName, name, FUNCTIONS[name].access.secrets), `${name} ${key}`).toBe(
          true,
        )
        const spec: SettingInfo = SETTINGS[key as SettingName]
        expect(spec.secretValue ?? spec.secret, `${name} ${key}`).toBeUndefined()
      }
    }
    // The Partner API settings go to the functions that call it, not to the webhook path.
    for (const name of ['webhook', 'webhookApplier'] as const) {
      const vars = (fns[name].props.Environment as { Variables: Record<string, unknown> }).Variables
      expect(vars.PARTNER_API_BASE_URL, name).toBeUndefined()
    }
  })

  it('runs the webhook applier as service webhook-applier, sized like the webhook, with the Partner API secret only', () => {
    const p = fns.webhookApplier.props
    const vars = (p.Environment as { Variables: Record<string, unknown> }).Variables
    expect(vars.POWERTOOLS_SERVICE_NAME).toBe('webhook-applier')
    // It publishes nothing: the bus settings go to the event publisher alone.
    expect(vars.EVENT_SINK).toBeUndefined()
    expect(vars.EVENT_BUS_NAME).toBeUndefined()
    const publisherVars = (fns.eventPublisher.props.Environment as { Variables: Record<string, unknown> })
      .Variables
    expect(publisherVars.EVENT_SINK).toBe('eventbridge')
    expect(JSON.stringify(publisherVars.EVENT_BUS_NAME)).toMatch(/ChangeEvents/)
    expect(JSON.stringify(vars.TABLE_EVENTS)).toMatch(/EventsTable/)
    // Permission events create channel keys upstream: the Partner API secret, nothing else.
    expect(Object.keys(vars).filter((k) => k.endsWith('_SECRET_ID'))).toEqual(['PARTNER_API_SECRET_ID'])
    expect(p.MemorySize).toBe(fns.webhook.props.MemorySize)
    expect(p.Timeout).toBe(60)
    expect(p.ReservedConcurrentExecutions).toBeUndefined()
    // A stream consumer only: no API route and no schedule invoke it.
    const permissions = Object.values(resourcesOf(s.stateless, 'AWS::Lambda::Permission'))
    expect(
      permissions.some((x) => JSON.stringify(x.Properties.FunctionName).includes(fns.webhookApplier.id)),
    ).toBe(false)
  })

  it('streams keys of new events to the applier: batches of 25, bisect, INSERT only, partial failures, a DLQ', () => {
    const mappings = Object.values(resourcesOf(s.stateless, 'AWS::Lambda::EventSourceMapping')).filter(
      (x) => JSON.stringify(x.Properties.FunctionName) === JSON.stringify({ Ref: fns.webhookApplier.id }),
    )
    expect(mappings).toHaveLength(1)
    const m = mappings[0]?.Properties ?? {}
    expect(m.FunctionName).toEqual({ Ref: fns.webhookApplier.id })
    expect(JSON.stringify(m.EventSourceArn)).toMatch(new RegExp(`${tableIds.events}.*StreamArn`))
    expect(m).toMatchObject({
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: FUNCTIONS.webhookApplier.trigger.batchSize,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 3600,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    })
    expect(FUNCTIONS.webhookApplier.trigger.batchSize).toBe(25)
    const patterns = (m.FilterCriteria as { Filters: { Pattern: string }[] }).Filters.map((f) =>
      JSON.parse(f.Pattern),
    )
    expect(patterns).toEqual([{ eventName: ['INSERT'] }])
    const destination = (m.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': [string] } } })
      .OnFailure.Destination['Fn::GetAtt'][0]
    expect(destination).toMatch(/^WebhookApplierFailures/)
    const queue = resourcesOf(s.stateless, 'AWS::SQS::Queue')[destination]?.Properties
    expect(queue).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 })
    // SSL enforced by the queue policy.
    const policy = Object.values(resourcesOf(s.stateless, 'AWS::SQS::QueuePolicy')).find((q) =>
      JSON.stringify(q.Properties.Queues).includes(destination),
    )
    expect(JSON.stringify(policy?.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"')
  })

  it('grants each function exactly its table actions, on its tables and indexes only', () => {
    for (const name of FNS) {
      const dynamo = fns[name].statements.filter(
        (st) =>
          list(st.Action).some((a) => a.startsWith('dynamodb:')) &&
          !list(st.Action).some((a) => STREAM_ACTIONS.includes(a)),
      )
      const granted = new Map<string, string[]>()
      for (const st of dynamo) {
        for (const r of list(st.Resource)) {
          const text = JSON.stringify(r)
          const table = (Object.keys(tableIds) as TableKey[]).find((k) => text.includes(tableIds[k]))
          expect(table, `${name}: dynamodb statement on an unknown resource ${text}`).toBeDefined()
          const index = /\/index\/(\w+)/.exec(text)?.[1]
          const key = index ? `${table}/index/${index}` : `${table}`
          granted.set(key, [...(granted.get(key) ?? []), ...list(st.Action)].sort())
        }
      }
      const expected = new Map<string, string[]>()
      for (const [table, grant] of Object.entries(
        FUNCTIONS[name].access.tables as FunctionAccess['tables'],
      )) {
        if (!grant) continue
        if (grant.actions.length > 0) expected.set(table, grant.actions.map((a) => `dynamodb:${a}`).sort())
        for (const index of grant.indexes ?? []) expected.set(`${table}/index/${index}`, ['dynamodb:Query'])
      }
      expect(Object.fromEntries(granted), name).toEqual(Object.fromEntries(expected))
    }
  })

  it('feeds the publisher from the three state streams: bisect, bounded retries and age, partial failures, a queue', () => {
    const all = Object.values(resourcesOf(s.stateless, 'AWS::Lambda::EventSourceMapping'))
    const mine = all.filter(
      (x) => JSON.stringify(x.Properties.FunctionName) === JSON.stringify({ Ref: fns.eventPublisher.id }),
    )
    expect(all).toHaveLength(4)
    const sources = mine.map((x) => {
      const text = JSON.stringify(x.Properties.EventSourceArn)
      return (['clients', 'channels', 'cancellations', 'events'] as TableKey[]).find(
        (k) => text.includes(tableIds[k]) && text.includes('StreamArn'),
      )
    })
    expect(sources.sort()).toEqual(['cancellations', 'channels', 'clients'])
    const trigger = FUNCTIONS.eventPublisher.trigger
    // Bounded: retries and age are finite, and the age leaves time to redrive within the 24 h retention.
    expect(trigger.retryAttempts).toBeGreaterThan(0)
    expect(trigger.maxRecordAgeSeconds).toBeLessThan(24 * 3600)
    for (const x of mine) {
      const m = x.Properties
      expect(m).toMatchObject({
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 100,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: trigger.retryAttempts,
        MaximumRecordAgeInSeconds: trigger.maxRecordAgeSeconds,
        ParallelizationFactor: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
      })
      const patterns = (m.FilterCriteria as { Filters: { Pattern: string }[] }).Filters.map((f) =>
        JSON.parse(f.Pattern),
      )
      expect(patterns).toEqual([{ eventName: ['INSERT', 'MODIFY'] }])
      const destination = (m.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': [string] } } })
        .OnFailure.Destination['Fn::GetAtt'][0]
      expect(destination).toMatch(/^ChangeEventFailures/)
    }
    // The publisher reads the three state streams with the stream actions alone, nothing of the events table's.
    const stream = fns.eventPublisher.statements.filter((st) =>
      list(st.Action).some((a) => STREAM_ACTIONS.includes(a)),
    )
    expect([...new Set(stream.flatMap((st) => list(st.Action)))].sort()).toEqual(STREAM_ACTIONS)
    const resources = JSON.stringify(stream.map((st) => st.Resource))
    for (const k of ['clients', 'channels', 'cancellations'] as TableKey[])
      expect(resources).toContain(tableIds[k])
    expect(resources).not.toContain(tableIds.events)
    // The on-failure queue: its URL an output, and the API may read its depth (GET /status).
    const outputs = s.stateless.toJSON().Outputs as Record<string, { Value: unknown }>
    expect(JSON.stringify(outputs.ChangeEventFailuresQueueUrl?.Value)).toMatch(/ChangeEventFailures/)
    const apiVars = (fns.api.props.Environment as { Variables: Record<string, unknown> }).Variables
    expect(JSON.stringify(apiVars.CHANGE_FAILURES_QUEUE_URL)).toMatch(/ChangeEventFailures/)
    const apiSqs = fns.api.statements.filter((st) => list(st.Action).some((a) => a.startsWith('sqs:')))
    expect(apiSqs.flatMap((st) => list(st.Action))).toEqual(['sqs:GetQueueAttributes'])
    expect(JSON.stringify(apiSqs.map((st) => st.Resource))).toMatch(/ChangeEventFailures/)
  })

  it('lets only the applier read the events stream, with the stream actions alone, and on that stream only', () => {
    for (const name of FNS.filter((n) => n !== 'eventPublisher')) {
      const stream = fns[name].statements.filter((st) =>
        list(st.Action).some((a) => STREAM_ACTIONS.includes(a)),
      )
      if (name !== 'webhookApplier') {
        expect(stream, name).toEqual([])
        continue
      }
      expect(stream.flatMap((st) => list(st.Action)).sort()).toEqual(STREAM_ACTIONS)
      for (const st of stream) {
        expect(list(st.Resource)).toHaveLength(1)
        expect(JSON.stringify(st.Resource)).toMatch(new RegExp(`${tableIds.events}.*StreamArn`))
      }
    }
  })

  it('grants the applier exactly its table actions, the bus and its failure queue, and nothing else', () => {
    expect(FUNCTIONS.webhookApplier.access).toEqual({
      tables: {
        events: { actions: ['GetItem', 'UpdateItem'] },
        clients: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
        // byClient: a client's changed legal name goes to its channels (state/legal-name.ts).
        channels: { actions: ['GetItem', 'PutItem', 'UpdateItem'], indexes: ['byPhone', 'byClient'] },
        cancellations: { actions: ['GetItem', 'PutItem'] },
        ops: { actions: ['UpdateItem', 'PutItem', 'DeleteItem'] },
        audit: { actions: ['PutItem'] },
        channelKeys: { actions: ['PutItem', 'DeleteItem'] },
      },
      secrets: ['partnerApi'],
      publishesEvents: false,
      channelKeyCipher: ['Encrypt'],
    })
    const actions = fns.webhookApplier.statements.flatMap((st) => list(st.Action))
    const services = [...new Set(actions.map((a) => a.split(':')[0]))].sort()
    expect(services).toEqual(['dynamodb', 'kms', 'logs', 'secretsmanager', 'sqs', 'xray'])
    const sqsActions = fns.webhookApplier.statements.filter((st) =>
      list(st.Action).some((a) => a.startsWith('sqs:')),
    )
    expect(sqsActions.flatMap((st) => list(st.Action)).sort()).toEqual([
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ])
    expect(JSON.stringify(sqsActions.map((st) => st.Resource))).toMatch(/WebhookApplierFailures/)
  })

  it('lets the poller list pending events for the sweep and write their outcome, without reading them by key', () => {
    expect(FUNCTIONS.poller.access.tables.events).toEqual({
      actions: ['UpdateItem'],
      indexes: ['pending'],
    })
    const onEvents = fns.poller.statements.filter((st) =>
      JSON.stringify(st.Resource).includes(tableIds.events),
    )
    expect(onEvents.flatMap((st) => list(st.Action)).sort()).toEqual([
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ])
  })

  it('keeps the audit table append-only: PutItem and nothing else, for every function', () => {
    for (const name of FNS) {
      const onAudit = fns[name].statements.filter((st) =>
        list(st.Resource).some((r) => JSON.stringify(r).includes(tableIds.audit)),
      )
      for (const st of onAudit) expect(list(st.Action)).toEqual(['dynamodb:PutItem'])
    }
    expect(fns.webhook.statements.some((st) => JSON.stringify(st.Resource).includes(tableIds.audit))).toBe(
      false,
    )
    // The poller audits the channel keys it creates (PutItem only, checked above).
  })

  it('lets each function read only the secrets it needs', () => {
    const expected: Record<FunctionKey, SecretName[]> = {
      webhook: ['platformSecret', 'webhookToken'],
      webhookApplier: ['partnerApi'],
      eventPublisher: [],
      api: ['partnerApi'],
      export: [],
      poller: ['partnerApi'],
      onboarding: ['partnerApi', 'linkSigningKey'],
      health: [],
      channelKeys: ['partnerApi'],
    }
    for (const name of FNS) {
      const reads = fns[name].statements.filter((st) =>
        list(st.Action).some((a) => a.startsWith('secretsmanager:')),
      )
      expect(reads.flatMap((st) => list(st.Action))).toEqual(
        expected[name].length > 0 ? ['secretsmanager:GetSecretValue'] : [],
      )
      const readable = reads
        .flatMap((st) => list(st.Resource))
        .map((r) => {
          const text = JSON.stringify(r)
          return (Object.keys(secretIds) as SecretName[]).find((k) => text.includes(secretIds[k] ?? '\u0000'))
        })
      expect(readable.sort(), name).toEqual([...expected[name]].sort())
    }
  })

  it('uses no "*" action anywhere and "*" resources only for X-Ray', () => {
    for (const template of [s.stateless, s.stateful]) {
      const docs = [
        ...Object.values(resourcesOf(template, 'AWS::IAM::Policy')),
        ...Object.values(resourcesOf(template, 'AWS::IAM::ManagedPolicy')),
      ].map((p) => p.Properties.PolicyDocument as { Statement: Statement[] })
      for (const st of docs.flatMap((d) => d.Statement)) {
        for (const a of list(st.Action)) expect(a).not.toContain('*')
        if (list(st.Resource).includes('*')) {
          expect(list(st.Action).every((a) => a.startsWith('xray:'))).toBe(true)
        }
      }
    }
    // Function roles carry no AWS managed policy (logs go to each function's own log group only).
    for (const name of FNS) {
      const roleId = (fns[name].props.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]
      const role = resourcesOf(s.stateless, 'AWS::IAM::Role')[roleId]
      expect(role?.Properties.ManagedPolicyArns).toBeUndefined()
      const logs = fns[name].statements.find((st) => list(st.Action).includes('logs:PutLogEvents'))
      const logGroup = (fns[name].props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref
      expect(JSON.stringify(logs?.Resource)).toContain(logGroup)
    }
  })

  it('gives every function an explicit log group with the configured retention', () => {
    const groups = resourcesOf(s.stateless, 'AWS::Logs::LogGroup')
    for (const name of FNS) {
      const ref = (fns[name].props.LoggingConfig as { LogGroup: { Ref: string } }).LogGroup.Ref
      expect(groups[ref]?.Properties.RetentionInDays).toBe(90)
    }
    // Nine functions and the API access log, all with retention.
    expect(Object.values(groups).map((g) => g.Properties.RetentionInDays)).toEqual(Array(10).fill(90))
  })

  it('reserves one concurrent poller and sends its failed async invocations to a queue', () => {
    expect(fns.poller.props.ReservedConcurrentExecutions).toBe(1)
    for (const name of ['webhook', 'webhookApplier', 'api', 'export', 'onboarding'] as const) {
      expect(fns[name].props.ReservedConcurrentExecutions).toBeUndefined()
    }
    s.stateless.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fns.poller.id },
      MaximumRetryAttempts: 1,
      MaximumEventAgeInSeconds: 600,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PollerFailures'), 'Arn'] } },
      },
    })
    for (const queue of Object.values(resourcesOf(s.stateless, 'AWS::SQS::Queue'))) {
      expect(queue.Properties.SqsManagedSseEnabled).toBe(true)
    }
  })

  it('schedules the poller at the configured rate with a retry policy and a dead-letter queue', () => {
    s.stateless.resourceCountIs('AWS::Scheduler::Schedule', 2)
    s.stateless.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(10 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [fns.poller.id, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ScheduleDeadLetters'), 'Arn'] } },
      },
    })
  })

  it('schedules the health job at its own rate, with its own dead-letter queue, on-failure queue and alarm', () => {
    s.stateless.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(15 minutes)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [fns.health.id, 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 900 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^HealthScheduleDeadLetters'), 'Arn'] },
        },
      },
    })
    s.stateless.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fns.health.id },
      MaximumRetryAttempts: 1,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^HealthFailures'), 'Arn'] } },
      },
    })
    expect(fns.health.props).toMatchObject({ Timeout: 900, ReservedConcurrentExecutions: 1 })
    const vars = (fns.health.props.Environment as { Variables: Record<string, unknown> }).Variables
    expect(vars).toMatchObject({ HEALTH_INTERVAL_MINUTES: '15', HEALTH_BUDGET_MS: '870000' })
    s.stateless.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ChannelsBecameUnhealthy',
      Namespace: 'PartnerOps',
      Dimensions: [{ Name: 'service', Value: 'health' }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    })
  })

  it('lets only the provisioning path write the key store, only the key route and the health job read it', () => {
    const onKeys = (name: FunctionKey): string[] =>
      fns[name].statements
        .filter((st) => JSON.stringify(st.Resource).includes(tableIds.channelKeys))
        .flatMap((st) => list(st.Action))
        .sort()
    const kms = (name: FunctionKey): Statement[] =>
      fns[name].statements.filter((st) => list(st.Action).some((a) => a.startsWith('kms:')))
    const writers: FunctionKey[] = ['webhookApplier', 'onboarding', 'poller', 'channelKeys']
    const readers: FunctionKey[] = ['channelKeys', 'health']
    for (const name of FNS) {
      const actions = onKeys(name)
      const writes = actions.filter((a) => a !== 'dynamodb:GetItem')
      expect(writes, name).toEqual(writers.includes(name) ? ['dynamodb:DeleteItem', 'dynamodb:PutItem'] : [])
      expect(actions.includes('dynamodb:GetItem'), name).toBe(readers.includes(name))
      // No Scan, Query or batch read of the key table anywhere: keys are read one channel at a time.
      expect(
        actions.every((a) => ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'].includes(a)),
      ).toBe(true)
      const cipher = kms(name)
        .flatMap((st) => list(st.Action))
        .sort()
      const expected = [
        ...(readers.includes(name) ? ['kms:Decrypt'] : []),
        ...(writers.includes(name) ? ['kms:Encrypt'] : []),
      ].sort()
      expect(cipher, name).toEqual(expected)
      for (const st of kms(name)) {
        // Only the channel-key KMS key, and only for channel keys (the encryption context).
        expect(list(st.Resource)).toHaveLength(1)
        expect(JSON.stringify(st.Resource)).toContain('ChannelKeyKey')
        expect(st.Condition).toEqual({
          StringEquals: { 'kms:EncryptionContext:purpose': 'partnerops-channel-key' },
        })
      }
    }
  })

  it('lets the health job read live channels and write only their health: reads keys, no key writes, no secrets', () => {
    const on = (table: TableKey): string[] =>
      fns.health.statements
        .filter((st) => {
          const r = JSON.stringify(st.Resource)
          return r.includes(tableIds[table]) && !r.includes('/index/')
        })
        .flatMap((st) => list(st.Action))
        .sort()
    // GetItem, UpdateItem: health, and a refused key's status (markKeyInvalid); audited.
    expect(on('channels')).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem'])
    expect(on('ops')).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ])
    expect(on('audit')).toEqual(['dynamodb:PutItem'])
    expect(on('channelKeys')).toEqual(['dynamodb:GetItem'])
    for (const table of ['clients', 'events', 'cancellations'] as TableKey[]) expect(on(table)).toEqual([])
    const actions = fns.health.statements.flatMap((st) => list(st.Action))
    expect(actions.some((a) => a.startsWith('secretsmanager:') || a.startsWith('events:'))).toBe(false)
  })

  it('builds every route of ROUTES with its authorization type, and nothing else', () => {
    const resources = resourcesOf(s.stateless, 'AWS::ApiGateway::Resource')
    const pathOf = (ref: unknown): string => {
      const id = (ref as { Ref?: string }).Ref
      if (!id || !resources[id]) return ''
      const r = resources[id].Properties
      return `${pathOf(r.ParentId)}/${r.PathPart as string}`
    }
    const methods = Object.values(resourcesOf(s.stateless, 'AWS::ApiGateway::Method')).map((m) => ({
      route: `${m.Properties.HttpMethod as string} ${pathOf(m.Properties.ResourceId)}`,
      auth: m.Properties.AuthorizationType,
      target: JSON.stringify(m.Properties.Integration),
    }))
    expect(methods.map((m) => m.route).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort())
    for (const route of ROUTES) {
      const m = methods.find((x) => x.route === `${route.method} ${route.path}`)
      expect(m?.auth, `${route.method} ${route.path}`).toBe(route.auth === 'iam' ? 'AWS_IAM' : 'NONE')
      expect(m?.target).toContain(fns[route.fn].id)
    }
    // CORS off: no OPTIONS method anywhere.
    expect(methods.some((m) => m.route.startsWith('OPTIONS'))).toBe(false)
  })

  it('streams the CSV export: STREAM transfer mode, InvokeWithResponseStream, the function timeout; every other route buffered', () => {
    const methods = Object.entries(resourcesOf(s.stateless, 'AWS::ApiGateway::Method')).map(([id, m]) => ({
      id,
      integration: m.Properties.Integration as Record<string, unknown>,
    }))
    const streaming = methods.filter((m) => m.integration.ResponseTransferMode === 'STREAM')
    expect(streaming).toHaveLength(ROUTES.filter((r) => r.fn === 'export').length)
    expect(streaming).toHaveLength(1)
    const exportIntegration = streaming[0]?.integration ?? {}
    expect(exportIntegration).toMatchObject({ Type: 'AWS_PROXY', TimeoutInMillis: 900_000 })
    const uri = JSON.stringify(exportIntegration.Uri)
    expect(uri).toContain(fns.export.id)
    expect(uri).toContain('/2021-11-15/functions/')
    expect(uri).toContain('/response-streaming-invocations')
    expect(FUNCTIONS.export.timeoutSeconds).toBe(900)
    for (const m of methods.filter((x) => x.integration.ResponseTransferMode !== 'STREAM')) {
      expect(m.integration.ResponseTransferMode, m.id).toBeUndefined()
      expect(JSON.stringify(m.integration.Uri ?? ''), m.id).not.toContain('response-streaming-invocations')
    }
    // API Gateway may invoke the export function for its one route, with the ordinary permission
    // (InvokeWithResponseStream is authorised by lambda:InvokeFunction).
    const permissions = Object.values(resourcesOf(s.stateless, 'AWS::Lambda::Permission')).filter(
      (p) =>
        JSON.stringify(p.Properties.FunctionName) ===
        JSON.stringify({ 'Fn::GetAtt': [fns.export.id, 'Arn'] }),
    )
    expect(permissions.length).toBeGreaterThan(0)
    for (const p of permissions) {
      expect(p.Properties.Action).toBe('lambda:InvokeFunction')
      expect(p.Properties.Principal).toBe('apigateway.amazonaws.com')
      expect(JSON.stringify(p.Properties.SourceArn)).toContain('/GET/exports/channels.csv')
    }
  })

  it('grants the export function a Scan of the clients and channels tables, its logs and X-Ray, and nothing else', () => {
    const actions = [...new Set(fns.export.statements.flatMap((st) => list(st.Action)))].sort()
    expect(actions).toEqual(
      [
        'dynamodb:Scan',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ].sort(),
    )
    // The clients' legal names (company_name), then the channels: one Scan grant each, no index.
    const scans = fns.export.statements.filter((st) => list(st.Action).includes('dynamodb:Scan'))
    const resources = JSON.stringify(scans.flatMap((st) => list(st.Resource)))
    expect(scans.flatMap((st) => list(st.Resource))).toHaveLength(2)
    expect(resources).toContain(tableIds.channels)
    expect(resources).toContain(tableIds.clients)
    expect(resources).not.toContain('/index/')
  })

  it('throttles the stage and the public routes and writes JSON access logs without headers or bodies', () => {
    const stage = Object.values(resourcesOf(s.stateless, 'AWS::ApiGateway::Stage'))[0]?.Properties
    expect(stage?.StageName).toBe(STAGE_NAME)
    expect(stage?.TracingEnabled).toBe(true)
    const settings = stage?.MethodSettings as Record<string, unknown>[]
    expect(settings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 100,
          ThrottlingBurstLimit: 200,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
        expect.objectContaining({
          HttpMethod: 'POST',
          ResourcePath: '/~1webhooks~1360dialog',
          ThrottlingRateLimit: 1000,
          ThrottlingBurstLimit: 2000,
        }),
        expect.objectContaining({
          HttpMethod: 'GET',
          ResourcePath: '/~1onboarding~1callback',
          ThrottlingRateLimit: 5,
          ThrottlingBurstLimit: 10,
        }),
      ]),
    )
    const format = (stage?.AccessLogSetting as { Format: string } | undefined)?.Format ?? '{}'
    const fields = JSON.parse(format) as Record<string, string>
    expect(fields.requestId).toBe('$context.requestId')
    expect(fields.userArn).toBe('$context.identity.userArn')
    for (const value of Object.values(fields)) {
      expect(value).not.toMatch(/header|body|querystring|input\.|authorizer|\$context\.path$/i)
    }
  })

  it('exports a read-only and a cancellation-operator policy over exactly their routes', () => {
    const policies = resourcesOf(s.stateless, 'AWS::IAM::ManagedPolicy')
    const routesOf = (idPrefix: string): string[] => {
      const entry = Object.entries(policies).find(([id]) => id.startsWith(idPrefix))
      const st =
        (entry?.[1].Properties.PolicyDocument as { Statement: Statement[] } | undefined)?.Statement ?? []
      expect(st.flatMap((x) => list(x.Action))).toEqual(['execute-api:Invoke'])
      return st
        .flatMap((x) => list(x.Resource))
        .map((r) => {
          const parts = (r as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1]
          return String(parts[parts.length - 1])
            .replace(`/${STAGE_NAME}/`, '')
            .replace('/', ' /')
        })
        .sort()
    }
    const expected = (select: (r: (typeof ROUTES)[number]) => boolean): string[] =>
      ROUTES.filter(select)
        .map((r) => `${r.method} ${r.path.replace(/\{\w+\}/g, '*')}`)
        .sort()
    expect(routesOf('ApiReadOnlyPolicy')).toEqual(expected(CALLER_POLICIES.readOnly))
    expect(routesOf('ApiReadOnlyPolicy').every((r) => r.startsWith('GET '))).toBe(true)
    expect(routesOf('ApiCancellationOperatorPolicy')).toEqual(expected(CALLER_POLICIES.cancellationOperator))
    const outputs = s.stateless.findOutputs('*')
    expect(outputs.ReadOnlyPolicyArn?.Export).toEqual({ Name: 'PartnerOps-ReadOnlyPolicyArn' })
    expect(outputs.CancellationOperatorPolicyArn?.Export).toEqual({
      Name: 'PartnerOps-CancellationOperatorPolicyArn',
    })
    expect(outputs.WebhookUrl).toBeDefined()
  })

  it('publishes change events to its own bus with an archive for replay', () => {
    s.stateless.resourceCountIs('AWS::Events::EventBus', 1)
    s.stateless.hasResourceProperties('AWS::Events::Archive', {
      EventPattern: { source: ['partnerops'] },
      RetentionDays: 30,
    })
    // Only the publisher may put events: services never publish beside their writes.
    for (const name of FNS) {
      expect(FUNCTIONS[name].access.publishesEvents, name).toBe(name === 'eventPublisher')
      const put = fns[name].statements.find((st) => list(st.Action).includes('events:PutEvents'))
      if (name === 'eventPublisher') expect(JSON.stringify(put?.Resource)).toMatch(/ChangeEvents/)
      else expect(put, name).toBeUndefined()
    }
  })

  it('raises the alarms the issue lists, to the alarm topic with an e-mail subscription', () => {
    s.stateless.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
    })
    const alarms = Object.values(resourcesOf(s.stateless, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties)
    const find = (metric: string, extra: Record<string, unknown> = {}): Record<string, unknown>[] =>
      alarms.filter(
        (a) =>
          a.MetricName === metric &&
          Object.entries(extra).every(([k, v]) => JSON.stringify(a[k]) === JSON.stringify(v)),
      )
    const onFunction = (metric: string, name: FunctionKey): Record<string, unknown>[] =>
      find(metric).filter(
        (a) =>
          JSON.stringify(a.Dimensions) ===
          JSON.stringify([{ Name: 'FunctionName', Value: { Ref: fns[name].id } }]),
      )
    expect(find('Errors')).toHaveLength(9)
    expect(find('Throttles')).toHaveLength(9)
    for (const name of FNS) {
      expect(onFunction('Errors', name), name).toHaveLength(1)
      expect(onFunction('Throttles', name), name).toHaveLength(1)
    }
    const depth = find('ApproximateNumberOfMessagesVisible')
    expect(depth).toHaveLength(6)
    expect(JSON.stringify(depth)).toMatch(/HealthFailures/)
    expect(JSON.stringify(depth)).toMatch(/HealthScheduleDeadLetters/)
    expect(JSON.stringify(depth)).toMatch(/WebhookApplierFailures/)
    expect(JSON.stringify(depth)).toMatch(/ChangeEventFailures/)
    const publisherLag = onFunction('IteratorAge', 'eventPublisher')
    expect(publisherLag).toHaveLength(1)
    expect(publisherLag[0]).toMatchObject({
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: ALARM_DEFAULTS.publisherIteratorAgeMinutes * 60_000,
    })
    const lag = onFunction('IteratorAge', 'webhookApplier')
    expect(lag).toHaveLength(1)
    expect(lag[0]).toMatchObject({
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: ALARM_DEFAULTS.applierIteratorAgeMinutes * 60_000,
    })
    expect(find('IteratorAge')).toHaveLength(2)
    expect(find('5XXError')).toHaveLength(1)
    expect(find('WebhookUnauthorized', { Namespace: 'PartnerOps', Threshold: 20 })).toHaveLength(1)
    expect(JSON.stringify(find('WebhookUnauthorized')[0]?.Dimensions)).toBe(
      JSON.stringify([{ Name: 'service', Value: 'webhook' }]),
    )
    // RejectedEvents comes from the applier (service webhook-applier) and from a redelivery that
    // completes its event in the webhook function: the alarm sums both, never one alone.
    const rejected = alarms.filter((a) => JSON.stringify(a.Metrics ?? []).includes('"RejectedEvents"'))
    expect(rejected).toHaveLength(1)
    expect(rejected[0]?.Threshold).toBe(1)
    const queries = rejected[0]?.Metrics as {
      Id: string
      Expression?: string
      ReturnData?: boolean
      MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown } }
    }[]
    const stats = queries.filter((q) => q.MetricStat)
    expect(stats.map((q) => q.MetricStat?.Metric.Dimensions)).toEqual([
      [{ Name: 'service', Value: 'webhook-applier' }],
      [{ Name: 'service', Value: 'webhook' }],
    ])
    for (const q of stats) {
      expect(q.MetricStat?.Metric).toMatchObject({ Namespace: 'PartnerOps', MetricName: 'RejectedEvents' })
      expect(q.ReturnData).toBe(false)
    }
    const expression = queries.find((q) => q.Expression)
    expect(expression?.ReturnData).toBe(true)
    for (const q of stats) expect(expression?.Expression).toContain(`FILL(${q.Id}, 0)`)
    const stale = find('SecondsSinceLastSuccess', { Namespace: 'PartnerOps' })
    expect(stale).toHaveLength(1)
    expect(stale[0]).toMatchObject({ Threshold: 1800, Period: 1800, TreatMissingData: 'breaching' })
    for (const a of alarms) {
      expect(JSON.stringify(a.AlarmActions)).toMatch(/AlarmTopic/)
    }
  })

  it('shows webhook rate and latency, reconciliation, cancellations and errors on the dashboard', () => {
    const dashboards = Object.values(resourcesOf(s.stateless, 'AWS::CloudWatch::Dashboard'))
    expect(dashboards).toHaveLength(1)
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody)
    for (const text of [
      'Webhook rate',
      'WebhookAccepted',
      'Webhook latency',
      '/webhooks/360dialog',
      'RunDuration',
      'ChannelsChanged',
      'SecondsSinceLastSuccess',
      'Cancellations',
      '/clients/{clientId}/channels/{channelId}/cancellation',
      'CancellationsConfirmed',
      'Errors',
      '5XXError',
      'Webhook outcomes',
      'Webhook applier',
      'IteratorAge',
      'Change events: publisher lag',
      'Change events: on-failure queue',
      'ChangeEventsPublished',
      'ChangeEventDelay',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body, text).toContain(text)
    }
    // The dashboard JSON itself (tokens such as the region or function names left out).
    const body0 = dashboards[0]?.Properties.DashboardBody as { 'Fn::Join': [string, unknown[]] } | undefined
    expect(body0).toBeDefined()
    const json = (body0?.['Fn::Join'][1] ?? [])
      .map((part) => (typeof part === 'string' ? part : 'TOKEN'))
      .join('')
    // Outcome metrics are read from both services that emit them; ingestion metrics from the webhook.
    for (const name of Object.values(WEBHOOK_OUTCOMES)) {
      expect(json, name).toContain(`["PartnerOps","${name}","service","webhook-applier"`)
      expect(json, name).toContain(`["PartnerOps","${name}","service","webhook"`)
    }
    expect(json).toContain('["PartnerOps","WebhookAccepted","service","webhook"')
    expect(json).not.toContain('["PartnerOps","WebhookAccepted","service","webhook-applier"')
    // The routes the dashboard reads per method have detailed metrics enabled on the stage.
    const stage = Object.values(resourcesOf(s.stateless, 'AWS::ApiGateway::Stage'))[0]?.Properties
    const detailed = (
      (stage?.MethodSettings ?? []) as {
        HttpMethod: string
        ResourcePath: string
        MetricsEnabled?: boolean
      }[]
    )
      .filter((m) => m.MetricsEnabled)
      .map((m) => `${m.HttpMethod} ${m.ResourcePath}`)
      .sort()
    expect(detailed).toEqual([
      'DELETE /~1clients~1{clientId}~1channels~1{channelId}~1cancellation',
      'POST /~1clients~1{clientId}~1channels~1{channelId}~1cancellation',
      'POST /~1webhooks~1360dialog',
    ])
  })
})

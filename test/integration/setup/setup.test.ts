import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation'
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager'
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm'
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { awsClients } from '../../../infra/setup/aws'
import { SelfTestError, selfTest } from '../../../infra/setup/self-test'
import {
  BOOTSTRAP_VERSION_PARAMETER,
  preflight,
  runSetup,
  type SetupDeps,
  type SetupInput,
} from '../../../infra/setup/setup'
import { deleteCommand, teardown } from '../../../infra/setup/teardown'
import { type App, LOCAL_DEFAULTS, startApp } from '../../../local/app'

// The setup flow end to end: AWS (CloudFormation, Secrets Manager, STS, SSM) mocked with
// aws-sdk-client-mock, the CDK CLI replaced by a recorder, and everything after the deploy real:
// registration against the simulator and the self-test through the local runner's webhook and
// GET /status over HTTP with SigV4 (the local pair stands in for the deploying identity).

const cfn = mockClient(CloudFormationClient)
const sm = mockClient(SecretsManagerClient)
const sts = mockClient(STSClient)
const ssm = mockClient(SSMClient)

const REGION = LOCAL_DEFAULTS.region
const ACCOUNT = '123456789012'
const ARN = (name: string): string => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${name}-AbCdEf`
const PARTNER_KEY = LOCAL_DEFAULTS.partnerApiKey
const PLATFORM_SECRET = LOCAL_DEFAULTS.platformSecret

let app: App
let deployed = false
let secretValues: Map<string, string[]>

const stack = (name: string, outputs: Record<string, string>) => ({
  Stacks: [
    {
      StackName: name,
      CreationTime: new Date(0),
      StackStatus: 'UPDATE_COMPLETE' as const,
      Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    },
  ],
})
const missing = (name: string) =>
  Object.assign(new Error(`Stack with id ${name} does not exist`), { name: 'ValidationError' })

function mockAws(): void {
  const statefulOut = {
    PartnerApiSecretArn: ARN('PartnerApiSecret'),
    PlatformSecretArn: ARN('PlatformSecret'),
    LinkSigningKeyArn: ARN('LinkSigningKey'),
  }
  const statelessOut = () => ({
    PartnerId: LOCAL_DEFAULTS.partnerId,
    PartnerApiBaseUrl: app.simulator?.baseUrl ?? '',
    PartnerApiAuth: 'api_key',
    WebhookAuth: 'signature',
    WebhookUrl: `${app.url}/webhooks/360dialog`,
    OnboardingCallbackUrl: `${app.url}/onboarding/callback`,
    ApiUrl: `${app.url}/`,
    ReadOnlyPolicyArn: `arn:aws:iam::${ACCOUNT}:policy/PartnerOps-ReadOnly`,
    CancellationOperatorPolicyArn: `arn:aws:iam::${ACCOUNT}:policy/PartnerOps-CancellationOperator`,
  })
  cfn.on(DescribeStacksCommand).callsFake((input: { StackName: string }) => {
    if (!deployed) throw missing(input.StackName)
    return input.StackName.endsWith('-Stateful')
      ? stack(input.StackName, statefulOut)
      : stack(input.StackName, statelessOut())
  })
  sts
    .on(GetCallerIdentityCommand)
    .resolves({ Account: ACCOUNT, Arn: `arn:aws:iam::${ACCOUNT}:user/deployer` })
  ssm.on(GetParameterCommand, { Name: BOOTSTRAP_VERSION_PARAMETER }).resolves({
    Parameter: { Name: BOOTSTRAP_VERSION_PARAMETER, Value: '28' },
  })
  // Secrets Manager as a map of versions: the placeholder first, every put appends one.
  secretValues = new Map(Object.values(statefulOut).map((arn) => [arn, ['placeholder-from-the-template']]))
  sm.on(GetSecretValueCommand).callsFake((input: { SecretId: string }) => {
    const versions = secretValues.get(input.SecretId)
    if (!versions) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' })
    return { ARN: input.SecretId, SecretString: versions[versions.length - 1] }
  })
  sm.on(PutSecretValueCommand).callsFake((input: { SecretId: string; SecretString: string }) => {
    secretValues.get(input.SecretId)?.push(input.SecretString)
    return { ARN: input.SecretId }
  })
  sm.on(DescribeSecretCommand).callsFake((input: { SecretId: string }) => ({
    ARN: input.SecretId,
    VersionIdsToStages: Object.fromEntries(
      (secretValues.get(input.SecretId) ?? []).map((_, i) => [`v${i}`, ['AWSCURRENT']]),
    ),
  }))
}

function harness(): { deps: SetupDeps; lines: string[]; cdkCalls: string[][] } {
  const lines: string[] = []
  const cdkCalls: string[][] = []
  const deps: SetupDeps = {
    aws: awsClients(REGION),
    runCdk: async (args) => {
      cdkCalls.push(args)
      deployed = true
      return 0
    },
    prompt: async () => {
      throw new Error('no prompt expected')
    },
    say: (line) => lines.push(line),
    credentials: async () => ({
      accessKeyId: LOCAL_DEFAULTS.accessKeyId,
      secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
    }),
    selfTest: { pollMs: 100, timeoutMs: 20_000 },
  }
  return { deps, lines, cdkCalls }
}

const INPUT: SetupInput = {
  context: { partnerId: LOCAL_DEFAULTS.partnerId, alarmEmail: 'ops@example.com' },
  region: REGION,
  dryRun: false,
  secrets: { partnerApi: PARTNER_KEY, platformSecret: PLATFORM_SECRET },
  canPrompt: false,
}

async function simPartner(): Promise<{ webhook_url: string | null; partner_redirect_url: string | null }> {
  const res = await fetch(`${app.simulator?.baseUrl}/partners/${LOCAL_DEFAULTS.partnerId}`, {
    headers: { 'x-api-key': PARTNER_KEY },
  })
  return (await res.json()) as { webhook_url: string | null; partner_redirect_url: string | null }
}

beforeAll(async () => {
  app = await startApp({
    pollIntervalSeconds: null,
    simulator: { seed: 'empty', deliverWebhooks: false, webhookUrl: null },
  })
})
afterAll(async () => {
  await app?.close()
})
afterEach(() => {
  cfn.reset()
  sm.reset()
  sts.reset()
  ssm.reset()
  deployed = false
})

describe('npm run setup', () => {
  it('deploys, stores the secrets, registers both URLs, verifies through the webhook, and is re-runnable', async () => {
    mockAws()
    const { deps, lines, cdkCalls } = harness()
    const pre = await preflight(INPUT, deps)
    expect(pre.problems).toEqual([])
    expect(pre).toMatchObject({ account: ACCOUNT, region: REGION, deployed: false, secretsToAsk: [] })

    const summary = await runSetup(INPUT, pre, deps)
    expect(cdkCalls).toHaveLength(1)
    expect(cdkCalls[0]).toEqual(
      expect.arrayContaining(['deploy', '--all', '--require-approval', 'never', '-c', 'partnerId=demoPA']),
    )
    expect(cdkCalls[0]?.join(' ')).toContain('alarmEmail=ops@example.com')
    expect(secretValues.get(ARN('PartnerApiSecret'))?.at(-1)).toBe(PARTNER_KEY)
    expect(secretValues.get(ARN('PlatformSecret'))?.at(-1)).toBe(PLATFORM_SECRET)
    expect(await simPartner()).toMatchObject({
      webhook_url: `${app.url}/webhooks/360dialog`,
      partner_redirect_url: `${app.url}/onboarding/callback`,
    })
    expect(lines.some((l) => /^\[self-test\] event partnerops-setup-[\w-]+ stored/.test(l))).toBe(true)
    expect(summary).toMatchObject({
      readOnlyPolicyArn: `arn:aws:iam::${ACCOUNT}:policy/PartnerOps-ReadOnly`,
      cancellationOperatorPolicyArn: `arn:aws:iam::${ACCOUNT}:policy/PartnerOps-CancellationOperator`,
      statusCommand: `npx partnerops status --stack PartnerOps --region ${REGION}`,
    })
    expect(lines.join('\n')).toContain(summary?.statusCommand)
    // Secret values are never printed.
    for (const secret of [PARTNER_KEY, PLATFORM_SECRET]) expect(lines.join('\n')).not.toContain(secret)

    // Again: nothing new stored, the same registration, another successful self-test.
    const puts = sm.commandCalls(PutSecretValueCommand).length
    const again = harness()
    const pre2 = await preflight(INPUT, again.deps)
    expect(pre2.deployed).toBe(true)
    await runSetup(INPUT, pre2, again.deps)
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(puts)
    expect(again.lines).toContain(
      `[secrets] partnerApi: already stored, unchanged (${ARN('PartnerApiSecret')})`,
    )
    expect(again.lines.some((l) => l.startsWith('[self-test] event'))).toBe(true)

    // And without the secrets in the environment: the stored ones are kept, nothing is asked.
    const keep = { ...INPUT, secrets: {} }
    const third = harness()
    const pre3 = await preflight(keep, third.deps)
    expect(pre3.problems).toEqual([])
    expect(pre3.secretsToAsk).toEqual([])
    await runSetup(keep, pre3, third.deps)
    expect(third.lines).toContain('[secrets] platformSecret: keeping the stored value')
    expect(third.lines.some((l) => l.startsWith('[self-test] event'))).toBe(true)
  })

  it('--dry-run prints every step and changes nothing', async () => {
    mockAws()
    const before = await simPartner()
    const { deps, lines, cdkCalls } = harness()
    const input = { ...INPUT, dryRun: true }
    const pre = await preflight(input, deps)
    expect(pre.problems).toEqual([])
    expect(await runSetup(input, pre, deps)).toBeNull()
    expect(cdkCalls).toEqual([])
    expect(sm.commandCalls(PutSecretValueCommand)).toEqual([])
    expect(await simPartner()).toEqual(before)
    const text = lines.join('\n')
    expect(text).toMatch(/\[deploy\] would run: cdk deploy --all/)
    expect(text).toMatch(/\[secrets\] partnerApi: would store the given value/)
    expect(text).toMatch(/\[register\] would set webhook_url and partner_redirect_url/)
    expect(text).toMatch(/\[self-test\] would POST a signed synthetic event/)
    expect(text).toContain('dry run: nothing was changed')
    expect(text).not.toContain(PARTNER_KEY)
  })

  it('preflight names each problem on one line and touches nothing', async () => {
    sts
      .on(GetCallerIdentityCommand)
      .rejects(Object.assign(new Error('no creds'), { name: 'CredentialsProviderError' }))
    const { deps, cdkCalls } = harness()
    const pre = await preflight(
      { ...INPUT, context: { alarmEmail: 'not-an-address' }, secrets: {} },
      { ...deps, nodeVersion: '18.19.0' },
    )
    expect(pre.problems).toEqual([
      'Node.js 18.19.0 is too old: PartnerOps needs Node 20 or later',
      expect.stringMatching(/^setting partnerId: missing .* \(--partner-id or PARTNER_ID\)$/),
      expect.stringMatching(
        /^setting alarmEmail: must be an e-mail address .*\(--alarm-email or ALARM_EMAIL\)$/,
      ),
      expect.stringMatching(/^no usable AWS credentials \(CredentialsProviderError\): configure them/),
    ])
    for (const p of pre.problems) expect(p).not.toContain('\n')
    expect(cdkCalls).toEqual([])
  })

  it('preflight says how to bootstrap, and which secret is missing when it cannot ask', async () => {
    mockAws()
    ssm.reset()
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }))
    const { deps } = harness()
    const pre = await preflight({ ...INPUT, secrets: { partnerApi: 'k' } }, deps)
    expect(pre.problems).toEqual([
      `CDK bootstrap missing in ${ACCOUNT}/${REGION}: run CDK_HOME=$PWD/.cdk npx cdk bootstrap aws://${ACCOUNT}/${REGION}`,
      'secret platformSecret is not stored yet: set PLATFORM_SECRET (or run in a terminal to be asked)',
    ])
    const region = await preflight(
      { ...INPUT, region: undefined },
      {
        ...deps,
        aws: {
          ...deps.aws,
          sts: new STSClient({
            region: async () => {
              throw new Error('Region is missing')
            },
          }),
        },
      },
    )
    expect(region.problems).toContain(
      'no AWS region: set AWS_REGION (or a profile with a region) or pass --region',
    )
  })

  it('asks for a secret without echo when it is neither given nor stored, and stores what was typed', async () => {
    mockAws()
    const { deps } = harness()
    const asked: string[] = []
    deps.prompt = async (q) => {
      asked.push(q)
      return PLATFORM_SECRET
    }
    const input = { ...INPUT, secrets: { partnerApi: PARTNER_KEY }, canPrompt: true }
    // First deploy: nothing stored, so preflight cannot know yet; the stack exists on a re-run.
    deployed = true
    const pre = await preflight(input, deps)
    expect(pre.secretsToAsk).toEqual(['platformSecret'])
    await runSetup(input, pre, deps)
    expect(asked).toEqual(['360dialog Platform Secret (input hidden): '])
    expect(secretValues.get(ARN('PlatformSecret'))?.at(-1)).toBe(PLATFORM_SECRET)
  })
})

describe('self-test against the local runner', () => {
  const target = () => ({
    webhookUrl: `${app.url}/webhooks/360dialog`,
    apiUrl: `${app.url}/`,
    platformSecret: PLATFORM_SECRET,
    credentials: { accessKeyId: LOCAL_DEFAULTS.accessKeyId, secretAccessKey: LOCAL_DEFAULTS.secretAccessKey },
    region: REGION,
  })

  it('sends a signed event through the webhook and sees it counted by GET /status', async () => {
    const r = await selfTest(target(), { pollMs: 100, timeoutMs: 20_000 })
    expect(r.webhookStatus).toBe(200)
    expect(r.receivedAfter).toBeGreaterThanOrEqual(r.receivedBefore + 1)
  })

  it('fails with the reason when the Platform Secret does not match', async () => {
    await expect(
      selfTest({ ...target(), platformSecret: 'a-rotated-secret' }, { pollMs: 100 }),
    ).rejects.toThrow(/the webhook endpoint answered 401 \(the stored Platform Secret/)
  })

  it('fails with the reason when the credentials cannot call GET /status', async () => {
    const wrong = { ...target(), credentials: { accessKeyId: 'AKIDOTHER', secretAccessKey: 'nope' } }
    const err = await selfTest(wrong, { pollMs: 100 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(SelfTestError)
    expect((err as Error).message).toMatch(/^GET \/status answered 401/)
  })
})

describe('npm run teardown', () => {
  const template = JSON.stringify({
    Resources: {
      ClientsTable: { Type: 'AWS::DynamoDB::GlobalTable', DeletionPolicy: 'Retain' },
      ApiFunctionLogs: { Type: 'AWS::Logs::LogGroup', DeletionPolicy: 'Retain' },
      ApiFunction: { Type: 'AWS::Lambda::Function', DeletionPolicy: 'Delete' },
    },
  })
  const resources = {
    StackResourceSummaries: [
      {
        LogicalResourceId: 'ClientsTable',
        PhysicalResourceId: 'PartnerOps-Clients',
        ResourceType: 'AWS::DynamoDB::GlobalTable',
        LastUpdatedTimestamp: new Date(0),
        ResourceStatus: 'CREATE_COMPLETE' as const,
      },
      {
        LogicalResourceId: 'ApiFunctionLogs',
        PhysicalResourceId: '/aws/lambda/api',
        ResourceType: 'AWS::Logs::LogGroup',
        LastUpdatedTimestamp: new Date(0),
        ResourceStatus: 'CREATE_COMPLETE' as const,
      },
      {
        LogicalResourceId: 'ApiFunction',
        PhysicalResourceId: 'api-fn',
        ResourceType: 'AWS::Lambda::Function',
        LastUpdatedTimestamp: new Date(0),
        ResourceStatus: 'CREATE_COMPLETE' as const,
      },
    ],
  }

  it('deletes the stateless stack, then the stateful one, and lists what it kept with the commands to delete it', async () => {
    const deletedStacks: string[] = []
    cfn.on(DescribeStacksCommand).callsFake((input: { StackName: string }) => ({
      Stacks: [
        {
          StackName: input.StackName,
          CreationTime: new Date(0),
          StackStatus: deletedStacks.includes(input.StackName) ? 'DELETE_COMPLETE' : 'CREATE_COMPLETE',
        },
      ],
    }))
    cfn.on(DeleteStackCommand).callsFake((input: { StackName: string }) => {
      deletedStacks.push(input.StackName)
      return {}
    })
    cfn.on(GetTemplateCommand).resolves({ TemplateBody: template })
    cfn.on(ListStackResourcesCommand).resolves(resources)
    const lines: string[] = []
    const kept = await teardown(new CloudFormationClient({ region: REGION }), {
      stackPrefix: 'PartnerOps',
      region: REGION,
      dryRun: false,
      say: (l) => lines.push(l),
    })
    expect(deletedStacks).toEqual(['PartnerOps-Stateless', 'PartnerOps-Stateful'])
    expect(kept.map((k) => k.physicalId)).toEqual([
      'PartnerOps-Clients',
      '/aws/lambda/api',
      'PartnerOps-Clients',
      '/aws/lambda/api',
    ])
    const text = lines.join('\n')
    expect(text).toContain('Kept on purpose')
    expect(text).toContain(
      `aws dynamodb update-table --table-name PartnerOps-Clients --no-deletion-protection-enabled --region ${REGION} && aws dynamodb delete-table --table-name PartnerOps-Clients --region ${REGION}`,
    )
    expect(text).toContain(`aws logs delete-log-group --log-group-name /aws/lambda/api --region ${REGION}`)
    expect(text).not.toContain('api-fn')

    // Again: both stacks are gone, nothing to do.
    cfn.reset()
    cfn.on(DescribeStacksCommand).rejects(missing('PartnerOps-Stateless'))
    const again: string[] = []
    await teardown(new CloudFormationClient({ region: REGION }), {
      stackPrefix: 'PartnerOps',
      region: REGION,
      dryRun: false,
      say: (l) => again.push(l),
    })
    expect(again).toEqual([
      '[teardown] PartnerOps-Stateless: not deployed, nothing to delete',
      '[teardown] PartnerOps-Stateful: not deployed, nothing to delete',
    ])
    expect(cfn.commandCalls(DeleteStackCommand)).toEqual([])
  })

  it('--dry-run deletes nothing', async () => {
    cfn.on(DescribeStacksCommand).resolves(stack('x', {}))
    cfn.on(GetTemplateCommand).resolves({ TemplateBody: template })
    cfn.on(ListStackResourcesCommand).resolves(resources)
    const lines: string[] = []
    await teardown(new CloudFormationClient({ region: REGION }), {
      stackPrefix: 'PartnerOps',
      region: REGION,
      dryRun: true,
      say: (l) => lines.push(l),
    })
    expect(cfn.commandCalls(DeleteStackCommand)).toEqual([])
    expect(lines).toContain('[teardown] would delete PartnerOps-Stateless (keeping 2 retained resources)')
    expect(lines.at(-1)).toBe('dry run: nothing was changed')
  })

  it('names a delete command for every retained type the stacks have', () => {
    const r = (type: string) => ({ stack: 's', logicalId: 'l', type, physicalId: 'id' })
    expect(deleteCommand(r('AWS::Events::Archive'), 'eu-west-1')).toBe(
      'aws events delete-archive --archive-name id --region eu-west-1',
    )
    expect(deleteCommand(r('AWS::IAM::Role'), 'eu-west-1')).toContain('aws iam delete-role --role-name id')
    expect(deleteCommand(r('AWS::SecretsManager::Secret'), 'eu-west-1')).toContain(
      '--force-delete-without-recovery',
    )
  })
})

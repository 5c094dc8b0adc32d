import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { GetParameterCommand } from '@aws-sdk/client-ssm'
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts'
import { createAwsSecretSource } from '../../shared/adapters/secrets'
import { REPO_ROOT } from '../bundling'
import { CONTEXT_KEYS, type DeployConfig, DeployConfigError, loadDeployConfig } from '../config'
import { describePlan, type RegistrationPlan, readPlan, registerWebhook } from '../register-webhook'
import { type AwsClients, putSecretIfChanged, secretValue, secretWasSet, stackOutputs } from './aws'
import { type SelfTestOptions, selfTest } from './self-test'

/**
 * `npm run setup`: from AWS credentials to a verified deployment, in steps that are each safe to run
 * again: preflight, deploy (the local CDK CLI), secrets, registration with 360dialog, self-test,
 * summary. Every AWS call goes through AwsClients and the CDK CLI through `runCdk`, so the whole
 * flow runs in tests with mocked AWS clients, the simulator and the local runner.
 *
 * Why the CDK CLI and not @aws-cdk/toolkit-lib: the CLI pinned in package.json (aws-cdk 2.1148.1) is
 * already the one tested against this aws-cdk-lib's cloud assembly, prints CloudFormation progress
 * itself, and needs no second copy of the deployment engine to keep in step; setup drives it as a
 * child process with CDK_HOME in the checkout.
 */

/** The CDK bootstrap version the stacks' synthesizer needs at least (aws-cdk-lib 2.x default synthesizer). */
export const MIN_BOOTSTRAP_VERSION = 6
/** The bootstrap stack's version parameter for the default qualifier. */
export const BOOTSTRAP_VERSION_PARAMETER = '/cdk-bootstrap/hnb659fds/version'
export const MIN_NODE_MAJOR = 20

/** What setup was given (flags, environment, cdk.json), secrets included: never printed. */
export interface SetupInput {
  /** Deployment settings as CDK context: partnerId, alarmEmail, stackPrefix and any other key. */
  context: Record<string, string>
  region: string | undefined
  dryRun: boolean
  /** Secret values from the environment or a prompt; absent = keep what is stored. */
  secrets: { partnerApi?: string; platformSecret?: string }
  /** Whether a hidden prompt can be shown (stdin is a terminal). */
  canPrompt: boolean
}

/** Everything setup touches outside itself. */
export interface SetupDeps {
  aws: AwsClients
  /** Runs the local CDK CLI with these arguments; resolves with its exit code. */
  runCdk(args: string[]): Promise<number>
  /** Asks for a secret without echoing it. */
  prompt(question: string): Promise<string>
  /** One line of progress for a person. */
  say(line: string): void
  fetch?: typeof fetch
  nodeVersion?: string
  /** Credentials the self-test signs GET /status with (default: the STS client's, i.e. the SDK chain). */
  credentials?(): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string }>
  selfTest?: SelfTestOptions
}

/** One problem found by the preflight: one line each. */
export type Problem = string

export interface PreflightResult {
  problems: Problem[]
  account?: string
  identity?: string
  region?: string
  config?: DeployConfig
  /** Whether the stacks exist already (a re-run). */
  deployed: boolean
  /** Secrets that must be provided now (not in the environment, not stored yet). */
  secretsToAsk: ('partnerApi' | 'platformSecret')[]
}

const SECRET_ENV = {
  partnerApi: 'PARTNER_API_KEY (or PARTNER_API_USERNAME and PARTNER_API_PASSWORD with partnerApiAuth=bearer)',
  platformSecret: 'PLATFORM_SECRET',
} as const

const errorName = (err: unknown): string => (err instanceof Error ? err.name : 'Error')

/** Checks everything a deploy needs; one line per problem, nothing changed anywhere. */
export async function preflight(input: SetupInput, deps: SetupDeps): Promise<PreflightResult> {
  const problems: Problem[] = []
  const result: PreflightResult = { problems, deployed: false, secretsToAsk: [] }
  const node = deps.nodeVersion ?? process.versions.node
  const major = Number(node.split('.')[0])
  if (!(major >= MIN_NODE_MAJOR))
    problems.push(`Node.js ${node} is too old: PartnerOps needs Node ${MIN_NODE_MAJOR} or later`)

  try {
    result.config = loadDeployConfig((key) => input.context[key])
  } catch (err: unknown) {
    if (!(err instanceof DeployConfigError)) throw err
    for (const line of err.message.split('\n').filter((l) => l.startsWith('  - '))) {
      const [key] = line.slice(4).split(':')
      const flag =
        key === 'partnerId'
          ? ' (--partner-id or PARTNER_ID)'
          : key === 'alarmEmail'
            ? ' (--alarm-email or ALARM_EMAIL)'
            : ''
      problems.push(`setting ${line.slice(4)}${flag}`)
    }
  }

  const region = input.region ?? (await deps.aws.sts.config.region().catch(() => undefined))
  if (!region) problems.push('no AWS region: set AWS_REGION (or a profile with a region) or pass --region')
  else result.region = region

  try {
    const who = await deps.aws.sts.send(new GetCallerIdentityCommand({}))
    result.account = who.Account
    result.identity = who.Arn
  } catch (err: unknown) {
    problems.push(
      `no usable AWS credentials (${errorName(err)}): configure them (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)`,
    )
  }

  if (result.account && region) {
    try {
      const p = await deps.aws.ssm.send(new GetParameterCommand({ Name: BOOTSTRAP_VERSION_PARAMETER }))
      const version = Number(p.Parameter?.Value)
      if (!(version >= MIN_BOOTSTRAP_VERSION)) {
        problems.push(
          `CDK bootstrap in ${result.account}/${region} is version ${p.Parameter?.Value ?? '?'}, at least ${MIN_BOOTSTRAP_VERSION} is needed: run CDK_HOME=$PWD/.cdk npx cdk bootstrap aws://${result.account}/${region}`,
        )
      }
    } catch (err: unknown) {
      problems.push(
        errorName(err) === 'ParameterNotFound'
          ? `CDK bootstrap missing in ${result.account}/${region}: run CDK_HOME=$PWD/.cdk npx cdk bootstrap aws://${result.account}/${region}`
          : `cannot check the CDK bootstrap in ${result.account}/${region} (${errorName(err)}): the identity needs ssm:GetParameter on ${BOOTSTRAP_VERSION_PARAMETER}`,
      )
    }
  }

  if (result.account && region && result.config) {
    const stateful = await stackOutputs(deps.aws.cfn, `${result.config.stackPrefix}-Stateful`).catch(
      () => null,
    )
    result.deployed = stateful !== null
    for (const name of ['partnerApi', 'platformSecret'] as const) {
      if (input.secrets[name] !== undefined) continue
      const arn = stateful?.[name === 'partnerApi' ? 'PartnerApiSecretArn' : 'PlatformSecretArn']
      const stored = arn ? await secretWasSet(deps.aws.secrets, arn).catch(() => false) : false
      if (stored) continue
      if (input.canPrompt) result.secretsToAsk.push(name)
      else
        problems.push(
          `secret ${name} is not stored yet: set ${SECRET_ENV[name]} (or run in a terminal to be asked)`,
        )
    }
  }

  if (!existsSync(join(REPO_ROOT, 'node_modules', '.bin', 'cdk'))) {
    problems.push('the local CDK CLI is missing: run npm ci')
  }
  return result
}

/**
 * The CDK CLI arguments of the deploy (context as -c, never a secret). The CLI has no region flag:
 * runLocalCdk passes the region as AWS_REGION and CDK_DEFAULT_REGION.
 */
export function cdkDeployArgs(input: SetupInput): string[] {
  const context = Object.entries(input.context)
    .filter(([k]) => k in CONTEXT_KEYS)
    .flatMap(([k, v]) => ['-c', `${k}=${v}`])
  return ['deploy', '--all', '--require-approval', 'never', '--progress', 'events', ...context]
}

/** Runs the CDK CLI pinned in package.json with CDK_HOME in the checkout; output goes to the terminal. */
export function runLocalCdk(args: string[], region?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'cdk'), args, {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: {
        ...process.env,
        CDK_HOME: join(REPO_ROOT, '.cdk'),
        ...(region ? { AWS_REGION: region, CDK_DEFAULT_REGION: region } : {}),
      },
    })
    child.on('error', reject)
    child.on('exit', (code) => resolve(code ?? 1))
  })
}

/** What setup hands back at the end. */
export interface SetupSummary {
  stackPrefix: string
  region: string
  apiUrl: string
  webhookUrl: string
  readOnlyPolicyArn: string
  cancellationOperatorPolicyArn: string
  statusCommand: string
}

/** Thrown for a step that failed; the message is the line to print. */
export class SetupError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SetupError'
  }
}

/** The first active Platform Secret (a JSON array during a rotation, else the value itself). */
export function firstPlatformSecret(value: string): string {
  try {
    const parsed = JSON.parse(value) as unknown
    if (Array.isArray(parsed) && typeof parsed[0] === 'string') return parsed[0]
  } catch {
    // plain text
  }
  return value
}

/** Runs setup after a clean preflight. With `dryRun`, says what each step would do and changes nothing. */
export async function runSetup(
  input: SetupInput,
  pre: PreflightResult,
  deps: SetupDeps,
): Promise<SetupSummary | null> {
  const say = deps.say
  const config = pre.config as DeployConfig
  const region = pre.region as string
  const prefix = config.stackPrefix
  const secrets = { ...input.secrets }

  // 1. Secrets asked for now, before the long deploy (never echoed, never printed).
  if (!input.dryRun) {
    for (const name of pre.secretsToAsk) {
      const label = name === 'partnerApi' ? '360dialog Partner API key' : '360dialog Platform Secret'
      const value = (await deps.prompt(`${label} (input hidden): `)).trim()
      if (!value) throw new SetupError(`no ${label} given`)
      secrets[name] = value
    }
  }

  // 2. Deploy (idempotent: CloudFormation applies only what changed).
  const args = cdkDeployArgs(input)
  if (input.dryRun) {
    say(
      `[deploy] would run: cdk ${args.join(' ')} (CDK_HOME=.cdk, account ${pre.account}, ${pre.deployed ? 'update' : 'first deploy'})`,
    )
  } else {
    say(`[deploy] cdk ${args.join(' ')} (account ${pre.account}, region ${region})`)
    const code = await deps.runCdk(args)
    if (code !== 0)
      throw new SetupError(
        `[deploy] the CDK CLI exited with ${code}; fix what it printed and run npm run setup again`,
      )
  }

  const stateful =
    input.dryRun && !pre.deployed ? null : await stackOutputs(deps.aws.cfn, `${prefix}-Stateful`)
  const stateless =
    input.dryRun && !pre.deployed ? null : await stackOutputs(deps.aws.cfn, `${prefix}-Stateless`)
  if (!input.dryRun && (!stateful || !stateless))
    throw new SetupError(`[deploy] stacks ${prefix}-Stateful/-Stateless not found after the deploy`)

  // 3. Secrets stored (only when given; an unchanged value creates no new version).
  const secretArns = {
    partnerApi: stateful?.PartnerApiSecretArn,
    platformSecret: stateful?.PlatformSecretArn,
  }
  for (const name of ['partnerApi', 'platformSecret'] as const) {
    const arn =
      secretArns[name] ?? `<${name === 'partnerApi' ? 'PartnerApiSecretArn' : 'PlatformSecretArn'} output>`
    const value = secrets[name]
    if (value === undefined) {
      say(`[secrets] ${name}: keeping the stored value`)
    } else if (input.dryRun) {
      say(`[secrets] ${name}: would store the given value in ${arn} (value not shown)`)
    } else {
      if (!secretArns[name])
        throw new SetupError(
          `[secrets] output ${name === 'partnerApi' ? 'PartnerApiSecretArn' : 'PlatformSecretArn'} missing on ${prefix}-Stateful`,
        )
      const done = await putSecretIfChanged(deps.aws.secrets, arn, value)
      say(`[secrets] ${name}: ${done === 'stored' ? 'stored' : 'already stored, unchanged'} (${arn})`)
    }
  }

  // 4. Registration with 360dialog (infra/register-webhook.ts): webhook URL and partner_redirect_url.
  let plan: RegistrationPlan | null = null
  if (!input.dryRun || pre.deployed) plan = await readPlan(deps.aws.cfn, prefix)
  if (input.dryRun) {
    say(
      plan
        ? `[register] would send:\n${indent(describePlan(plan))}`
        : '[register] would set webhook_url and partner_redirect_url to the deployed URLs (known after the deploy)',
    )
  } else if (plan) {
    const source = createAwsSecretSource({
      maxAgeSeconds: 0,
      client: deps.aws.secrets,
      ids: {
        partnerApi: plan.partnerApiSecretArn,
        ...(plan.webhookTokenSecretArn ? { webhookToken: plan.webhookTokenSecretArn } : {}),
      },
    })
    const reported = await registerWebhook(plan, {
      secrets: source,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    })
    if (reported.webhookUrl !== plan.webhookUrl) {
      throw new SetupError(
        `[register] the Partner API reports webhook_url ${reported.webhookUrl ?? '(none)'} instead of ${plan.webhookUrl}`,
      )
    }
    say(`[register] webhook_url ${reported.webhookUrl}`)
    if (plan.redirectUrl) say(`[register] partner_redirect_url ${reported.redirectUrl ?? '(not reported)'}`)
  }

  // 5. Self-test through the deployed endpoint.
  if (input.dryRun) {
    say(
      '[self-test] would POST a signed synthetic event to the webhook URL and wait for GET /status (SigV4) to count it',
    )
  } else if (stateless && stateful && plan) {
    const platform =
      secrets.platformSecret ?? (await secretValue(deps.aws.secrets, stateful.PlatformSecretArn as string))
    const token = plan.webhookTokenSecretArn
      ? await secretValue(deps.aws.secrets, plan.webhookTokenSecretArn)
      : undefined
    const credentials = deps.credentials ? await deps.credentials() : await deps.aws.sts.config.credentials()
    const result = await selfTest(
      {
        webhookUrl: plan.webhookUrl,
        apiUrl: stateless.ApiUrl as string,
        platformSecret: firstPlatformSecret(platform),
        ...(token ? { webhookToken: token } : {}),
        credentials,
        region,
      },
      { ...(deps.fetch ? { fetch: deps.fetch } : {}), ...deps.selfTest },
    )
    say(
      `[self-test] event ${result.eventId} stored: GET /status counts ${result.receivedAfter} received (was ${result.receivedBefore})`,
    )
  }

  if (input.dryRun) {
    say('dry run: nothing was changed')
    return null
  }
  const summary: SetupSummary = {
    stackPrefix: prefix,
    region,
    apiUrl: stateless?.ApiUrl ?? '',
    webhookUrl: stateless?.WebhookUrl ?? '',
    readOnlyPolicyArn: stateless?.ReadOnlyPolicyArn ?? '',
    cancellationOperatorPolicyArn: stateless?.CancellationOperatorPolicyArn ?? '',
    statusCommand: `npx partnerops status --stack ${prefix} --region ${region}`,
  }
  say('')
  say('PartnerOps is deployed, registered and verified.')
  say(`  API                         ${summary.apiUrl}`)
  say(`  webhook                     ${summary.webhookUrl}`)
  say(`  read-only callers           attach ${summary.readOnlyPolicyArn}`)
  say(`  cancellation operators      attach ${summary.cancellationOperatorPolicyArn}`)
  say('  confirm the alarm e-mail subscription sent to the alarm address')
  say('')
  say(`Try: ${summary.statusCommand}`)
  return summary
}

const indent = (text: string): string =>
  text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')

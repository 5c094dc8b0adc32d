import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cliOrExit } from '../../local/cli'
import { REPO_ROOT } from '../bundling'
import { awsClients } from './aws'
import { promptHidden } from './prompt'
import { preflight, runLocalCdk, runSetup, SetupError, type SetupInput } from './setup'

const CLI = {
  usage:
    'npm run setup -- [--partner-id <id>] [--alarm-email <address>] [--region <region>] [--stack-prefix <prefix>] [--dry-run]',
  description: `From AWS credentials to a verified deployment: checks the prerequisites (credentials, region,
CDK bootstrap, Node version, settings), deploys both stacks with the local CDK CLI, stores the Partner
API key and the Platform Secret in Secrets Manager (from the environment, or asked for without echo;
never printed), registers the webhook URL and partner_redirect_url with 360dialog, sends a signed
synthetic event through the deployed webhook and confirms it was stored (GET /status, SigV4), and
prints the caller policy ARNs and a ready npx partnerops command. Every step is safe to run again.`,
  flags: {
    'partner-id': {
      type: 'string',
      doc: '<id> 360dialog partner id (or PARTNER_ID, or cdk.json context partnerId)',
    },
    'alarm-email': {
      type: 'string',
      doc: '<address> e-mail for the alarms (or ALARM_EMAIL, or cdk.json alarmEmail)',
    },
    region: { type: 'string', doc: '<region> AWS region (default AWS_REGION or the profile)' },
    'stack-prefix': {
      type: 'string',
      doc: '<prefix> stack names <prefix>-Stateful/-Stateless (default PartnerOps)',
    },
    'dry-run': { type: 'boolean', doc: 'check and print what each step would do; change nothing' },
  },
  env: {
    PARTNER_ID: '360dialog partner id',
    ALARM_EMAIL: 'alarm e-mail address',
    PARTNER_API_KEY: 'Partner API key (asked for when unset and not stored yet)',
    'PARTNER_API_USERNAME/PASSWORD': 'instead of the key, with context partnerApiAuth=bearer',
    PLATFORM_SECRET: 'Platform Secret (asked for when unset and not stored yet)',
    'AWS_REGION, AWS_PROFILE': 'where and as whom to deploy (the AWS SDK default chain)',
  },
} as const

/** cdk.json's context: the settings a partner keeps in the repository. */
function cdkJsonContext(): Record<string, string> {
  try {
    const json = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context?: Record<string, unknown>
    }
    return Object.fromEntries(
      Object.entries(json.context ?? {}).flatMap(([k, v]) =>
        typeof v === 'string' || typeof v === 'number' ? [[k, String(v)]] : [],
      ),
    )
  } catch {
    return {}
  }
}

const nonEmpty = (v: string | undefined): string | undefined => (v && v.trim() !== '' ? v.trim() : undefined)

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const { values } = cliOrExit('setup', CLI)
  const env = process.env
  const context: Record<string, string> = { ...cdkJsonContext() }
  const set = (key: string, value: string | undefined): void => {
    if (value !== undefined) context[key] = value
  }
  set('partnerId', nonEmpty(values['partner-id']) ?? nonEmpty(env.PARTNER_ID))
  set('alarmEmail', nonEmpty(values['alarm-email']) ?? nonEmpty(env.ALARM_EMAIL))
  set('stackPrefix', nonEmpty(values['stack-prefix']))
  const bearer = context.partnerApiAuth === 'bearer'
  const partnerApi = bearer
    ? env.PARTNER_API_USERNAME && env.PARTNER_API_PASSWORD
      ? JSON.stringify({ username: env.PARTNER_API_USERNAME, password: env.PARTNER_API_PASSWORD })
      : undefined
    : nonEmpty(env.PARTNER_API_KEY)
  const region = nonEmpty(values.region) ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION)
  const input: SetupInput = {
    context,
    region,
    dryRun: values['dry-run'] === true,
    secrets: {
      ...(partnerApi ? { partnerApi } : {}),
      ...(nonEmpty(env.PLATFORM_SECRET) ? { platformSecret: nonEmpty(env.PLATFORM_SECRET) } : {}),
    },
    canPrompt: process.stdin.isTTY === true && !bearer,
  }
  const say = (line: string): void => {
    process.stdout.write(`${line}\n`)
  }
  const aws = awsClients(region)
  say('[preflight] checking credentials, region, CDK bootstrap, Node version and settings…')
  const pre = await preflight(input, {
    aws,
    runCdk: (args) => runLocalCdk(args, region),
    prompt: (q) => promptHidden(q),
    say,
  })
  if (pre.problems.length > 0) {
    for (const p of pre.problems) process.stderr.write(`setup: ${p}\n`)
    process.exit(1)
  }
  say(
    `[preflight] ok: ${pre.identity} in ${pre.account}/${pre.region}, stacks ${pre.config?.stackPrefix}-* ${pre.deployed ? 'exist (update)' : 'not deployed yet'}`,
  )
  await runSetup(input, pre, {
    aws,
    runCdk: (args) => runLocalCdk(args, pre.region),
    prompt: (q) => promptHidden(q),
    say,
  })
}

main().catch((err: unknown) => {
  // Messages name steps, statuses and ARNs, never secret values (the adapters and setup guarantee it).
  const message =
    err instanceof SetupError
      ? err.message
      : err instanceof Error
        ? `${err.name}: ${err.message.split('\n')[0]}`
        : String(err)
  process.stderr.write(`setup: ${message}\n`)
  process.exit(1)
})

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation'
import { createPartnerApiClient } from '../shared/adapters/partner-api/client'
import { createAwsSecretSource } from '../shared/adapters/secrets'
import { urlMatches } from '../shared/domain/partner-settings'
import { TOKEN_HEADER } from '../shared/http/webhook-auth'
import type { SecretSource } from '../shared/ports'
import { REPO_ROOT } from './bundling'

/**
 * `npm run register-webhook [-- --dry-run] [--stack-prefix PartnerOps] [--region eu-central-1]`:
 * reads the deployed webhook URL, onboarding callback URL and secret ARNs from the stack outputs,
 * sets the partner webhook URL through the Partner API (with the x-webhook-token header when the
 * deployment uses a token) and the partner's `partner_redirect_url` to the onboarding callback, and
 * reads both back. `npm run setup` runs the same steps (infra/setup/).
 */

export const HELP = `Usage: npm run register-webhook -- [--dry-run] [--stack-prefix <prefix>] [--region <region>]

Registers the deployed webhook URL (and the x-webhook-token header when the deployment uses a
token) and the onboarding callback as partner_redirect_url with the 360dialog Partner API, then
reads both back. Reads everything from the stack outputs; secret values are read from Secrets
Manager and never printed. Idempotent: re-running sets the same values.

Options:
  --dry-run                 print the requests it would send, send nothing
  --stack-prefix <prefix>   stack names <prefix>-Stateful / <prefix>-Stateless (default: cdk.json, else PartnerOps)
  --region <region>         AWS region of the stacks (default: the AWS SDK's, e.g. AWS_REGION)
  --help                    print this help and exit
`

/** What will be sent, from the stack outputs. Holds secret ARNs, never secret values. */
export interface RegistrationPlan {
  partnerId: string
  partnerApiBaseUrl: string
  partnerApiAuth: 'api_key' | 'bearer'
  webhookUrl: string
  /** The onboarding callback, registered as the partner's `partner_redirect_url` (null: left alone). */
  redirectUrl: string | null
  partnerApiSecretArn: string
  /** Set when the webhook auth mode uses a token: its value goes in the x-webhook-token header. */
  webhookTokenSecretArn: string | null
}

/** Command-line options. */
export interface RegisterOptions {
  stackPrefix: string
  dryRun: boolean
  region?: string
}

/** Thrown for a missing stack, output or setting; the message says what to do. */
export class RegisterWebhookError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RegisterWebhookError'
  }
}

async function stackOutputs(cfn: CloudFormationClient, stackName: string): Promise<Record<string, string>> {
  let result: DescribeStacksCommandOutput
  try {
    result = await cfn.send(new DescribeStacksCommand({ StackName: stackName }))
  } catch (err: unknown) {
    const name = err instanceof Error ? err.name : 'error'
    throw new RegisterWebhookError(
      `Cannot read stack ${stackName} (${name}). Deploy first (npm run deploy) and use the same account, region and --stack-prefix.`,
    )
  }
  const outputs = (result as { Stacks?: { Outputs?: { OutputKey?: string; OutputValue?: string }[] }[] })
    .Stacks?.[0]?.Outputs
  return Object.fromEntries(
    (outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [])),
  )
}

/** Reads the registration plan from the two stacks' outputs. */
export async function readPlan(cfn: CloudFormationClient, stackPrefix: string): Promise<RegistrationPlan> {
  const stateless = await stackOutputs(cfn, `${stackPrefix}-Stateless`)
  const stateful = await stackOutputs(cfn, `${stackPrefix}-Stateful`)
  const need = (outputs: Record<string, string>, key: string, stack: string): string => {
    const v = outputs[key]
    if (!v)
      throw new RegisterWebhookError(`Output ${key} is missing on ${stack}; redeploy with this version.`)
    return v
  }
  const auth = need(stateless, 'PartnerApiAuth', `${stackPrefix}-Stateless`)
  return {
    partnerId: need(stateless, 'PartnerId', `${stackPrefix}-Stateless`),
    partnerApiBaseUrl: need(stateless, 'PartnerApiBaseUrl', `${stackPrefix}-Stateless`),
    partnerApiAuth: auth === 'bearer' ? 'bearer' : 'api_key',
    webhookUrl: need(stateless, 'WebhookUrl', `${stackPrefix}-Stateless`),
    redirectUrl: stateless.OnboardingCallbackUrl ?? null,
    partnerApiSecretArn: need(stateful, 'PartnerApiSecretArn', `${stackPrefix}-Stateful`),
    webhookTokenSecretArn: stateful.WebhookTokenSecretArn ?? null,
  }
}

/** The dry-run description: the request that would be sent, with the token value redacted. */
export function describePlan(plan: RegistrationPlan): string {
  const body: Record<string, unknown> = { webhook_url: plan.webhookUrl }
  if (plan.webhookTokenSecretArn) body.headers = { [TOKEN_HEADER]: '<value of the webhook token secret>' }
  return [
    `POST ${plan.partnerApiBaseUrl.replace(/\/+$/, '')}/partners/${encodeURIComponent(plan.partnerId)}/webhook_url`,
    `auth: ${plan.partnerApiAuth === 'bearer' ? 'Bearer token from username/password' : 'X-API-Key'} read from ${plan.partnerApiSecretArn}`,
    ...(plan.webhookTokenSecretArn ? [`token: read from ${plan.webhookTokenSecretArn}`] : []),
    `body: ${JSON.stringify(body)}`,
    ...(plan.redirectUrl
      ? [
          `PATCH ${plan.partnerApiBaseUrl.replace(/\/+$/, '')}/partners/${encodeURIComponent(plan.partnerId)}`,
          `body: ${JSON.stringify({ partner_redirect_url: plan.redirectUrl })}`,
        ]
      : []),
  ].join('\n')
}

/** What the Partner API reports after registration. */
export interface Registered {
  webhookUrl: string | null
  redirectUrl: string | null
}

/**
 * Sets the partner webhook URL (with the token header when configured) and the partner redirect URL,
 * reads both back (the redirect URL from partner info, which every reconciliation run checks too) and
 * throws RegisterWebhookError when 360dialog reports anything else. Setting the same values again
 * changes nothing (idempotent).
 */
export async function registerWebhook(
  plan: RegistrationPlan,
  deps: { secrets: SecretSource; fetch?: typeof fetch },
): Promise<Registered> {
  const client = createPartnerApiClient({
    baseUrl: plan.partnerApiBaseUrl,
    partnerId: plan.partnerId,
    auth: plan.partnerApiAuth,
    secrets: deps.secrets,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  })
  let headers: Record<string, string> | undefined
  if (plan.webhookTokenSecretArn) {
    const token = await deps.secrets.get('webhookToken')
    if (!token) throw new RegisterWebhookError('The webhook token secret has no value.')
    headers = { [TOKEN_HEADER]: token }
  }
  await client.setWebhookUrl(plan.webhookUrl, headers)
  if (plan.redirectUrl) await client.patchPartner({ partner_redirect_url: plan.redirectUrl })
  const webhookUrl = await client.getWebhookUrl()
  const redirectUrl = plan.redirectUrl ? ((await client.getPartner()).partner_redirect_url ?? null) : null
  if (!urlMatches(plan.webhookUrl, webhookUrl)) {
    throw new RegisterWebhookError(
      `The Partner API reports webhook_url ${webhookUrl ?? '(none)'} instead of ${plan.webhookUrl}.`,
    )
  }
  if (!urlMatches(plan.redirectUrl, redirectUrl)) {
    throw new RegisterWebhookError(
      `The Partner API reports partner_redirect_url ${redirectUrl ?? '(none)'} instead of ${plan.redirectUrl}.`,
    )
  }
  return { webhookUrl, redirectUrl }
}

/** Parses `--dry-run`, `--stack-prefix X` and `--region X`; the prefix defaults to cdk.json context. */
export function parseArgs(argv: string[], defaultPrefix: string): RegisterOptions {
  const opts: RegisterOptions = { stackPrefix: defaultPrefix, dryRun: false }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => {
      const v = argv[++i]
      if (!v || v.startsWith('--')) throw new RegisterWebhookError(`${arg} needs a value`)
      return v
    }
    if (arg === '--dry-run') opts.dryRun = true
    else if (arg === '--stack-prefix') opts.stackPrefix = value()
    else if (arg === '--region') opts.region = value()
    else
      throw new RegisterWebhookError(
        `Unknown argument ${arg}. Use --dry-run, --stack-prefix <prefix>, --region <region>.`,
      )
  }
  return opts
}

/** The stack prefix from cdk.json's context, else PartnerOps. */
export function contextStackPrefix(): string {
  try {
    const cdkJson = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
      context?: { stackPrefix?: unknown }
    }
    const prefix = cdkJson.context?.stackPrefix
    return typeof prefix === 'string' && prefix !== '' ? prefix : 'PartnerOps'
  } catch {
    return 'PartnerOps'
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP)
    return
  }
  let opts: RegisterOptions
  try {
    opts = parseArgs(argv, contextStackPrefix())
  } catch (err: unknown) {
    process.stderr.write(`register-webhook: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(2)
  }
  const clientConfig = opts.region ? { region: opts.region } : {}
  const plan = await readPlan(new CloudFormationClient(clientConfig), opts.stackPrefix)
  process.stdout.write(`${describePlan(plan)}\n`)
  if (opts.dryRun) {
    process.stdout.write('dry run: nothing sent\n')
    return
  }
  const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager')
  const secrets = createAwsSecretSource({
    maxAgeSeconds: 0,
    client: new SecretsManagerClient(clientConfig),
    ids: {
      partnerApi: plan.partnerApiSecretArn,
      ...(plan.webhookTokenSecretArn ? { webhookToken: plan.webhookTokenSecretArn } : {}),
    },
  })
  const reported = await registerWebhook(plan, { secrets })
  process.stdout.write(
    `registered and checked: the Partner API reports webhook_url ${reported.webhookUrl ?? '(none)'}, partner_redirect_url ${reported.redirectUrl ?? '(unchanged)'}\n`,
  )
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    // Errors name operations and statuses, never secret values (the adapters guarantee it).
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
    process.stderr.write(`register-webhook failed: ${message}\n`)
    process.exit(1)
  })
}

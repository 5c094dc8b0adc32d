import { pathToFileURL } from 'node:url'
import {
  type CloudFormationClient,
  DeleteStackCommand,
  GetTemplateCommand,
  ListStackResourcesCommand,
  type StackResourceSummary,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation'
import { cliOrExit } from '../../local/cli'
import { contextStackPrefix } from '../register-webhook'
import { awsClients, stackOutputs } from './aws'

/**
 * `npm run teardown`: deletes the stateless stack, then the stateful one, waits for both, and says
 * what CloudFormation kept on purpose (every resource whose DeletionPolicy is Retain: the tables, log
 * groups, the API Gateway account role and whatever else the template marks) with the commands that
 * delete each. Read from the deployed templates, so the list is what this deployment retains, not a
 * list kept by hand. Re-runnable: a stack already gone is skipped.
 */

/** A resource CloudFormation keeps when its stack is deleted. */
export interface Retained {
  stack: string
  logicalId: string
  type: string
  physicalId: string
}

/** The shell command that deletes one retained resource (region given explicitly). */
export function deleteCommand(r: Retained, region: string): string {
  const id = r.physicalId
  const rg = `--region ${region}`
  switch (r.type) {
    case 'AWS::DynamoDB::Table':
    case 'AWS::DynamoDB::GlobalTable':
      return `aws dynamodb update-table --table-name ${id} --no-deletion-protection-enabled ${rg} && aws dynamodb delete-table --table-name ${id} ${rg}`
    case 'AWS::Logs::LogGroup':
      return `aws logs delete-log-group --log-group-name ${id} ${rg}`
    case 'AWS::Events::Archive':
      return `aws events delete-archive --archive-name ${id} ${rg}`
    case 'AWS::SecretsManager::Secret':
      return `aws secretsmanager delete-secret --secret-id ${id} --force-delete-without-recovery ${rg}`
    case 'AWS::IAM::Role':
      return `aws iam list-attached-role-policies --role-name ${id} --query 'AttachedPolicies[].PolicyArn' --output text | xargs -n1 aws iam detach-role-policy --role-name ${id} --policy-arn && aws iam delete-role --role-name ${id}   # only if no other API Gateway API in this account and region logs through it`
    case 'AWS::ApiGateway::Account':
      return '# an account-wide API Gateway setting (the CloudWatch role), nothing to delete'
    default:
      return `# ${r.type} ${id}: delete it in the console or with the service's CLI`
  }
}

const RETAIN = new Set(['Retain', 'RetainExceptOnCreate'])

/** The resources of a stack that its template marks DeletionPolicy Retain, with their physical ids. */
export async function retainedResources(cfn: CloudFormationClient, stackName: string): Promise<Retained[]> {
  const template = await cfn.send(
    new GetTemplateCommand({ StackName: stackName, TemplateStage: 'Processed' }),
  )
  const body = JSON.parse(template.TemplateBody ?? '{}') as {
    Resources?: Record<string, { Type: string; DeletionPolicy?: string }>
  }
  const retainedIds = new Set(
    Object.entries(body.Resources ?? {})
      .filter(([, r]) => r.DeletionPolicy && RETAIN.has(r.DeletionPolicy))
      .map(([id]) => id),
  )
  const resources: StackResourceSummary[] = []
  let token: string | undefined
  do {
    const page = await cfn.send(new ListStackResourcesCommand({ StackName: stackName, NextToken: token }))
    resources.push(...(page.StackResourceSummaries ?? []))
    token = page.NextToken
  } while (token)
  return resources
    .filter((r) => r.LogicalResourceId && retainedIds.has(r.LogicalResourceId) && r.PhysicalResourceId)
    .map((r) => ({
      stack: stackName,
      logicalId: r.LogicalResourceId as string,
      type: r.ResourceType as string,
      physicalId: r.PhysicalResourceId as string,
    }))
}

export interface TeardownOptions {
  stackPrefix: string
  region: string
  dryRun: boolean
  say(line: string): void
  /** Longest wait per stack (seconds). */
  maxWaitSeconds?: number
}

/** Deletes both stacks (stateless first: it imports from the stateful one) and lists what was kept. */
export async function teardown(cfn: CloudFormationClient, opts: TeardownOptions): Promise<Retained[]> {
  const kept: Retained[] = []
  for (const stackName of [`${opts.stackPrefix}-Stateless`, `${opts.stackPrefix}-Stateful`]) {
    if ((await stackOutputs(cfn, stackName)) === null) {
      opts.say(`[teardown] ${stackName}: not deployed, nothing to delete`)
      continue
    }
    const retained = await retainedResources(cfn, stackName)
    kept.push(...retained)
    if (opts.dryRun) {
      opts.say(`[teardown] would delete ${stackName} (keeping ${retained.length} retained resources)`)
      continue
    }
    opts.say(`[teardown] deleting ${stackName}…`)
    await cfn.send(new DeleteStackCommand({ StackName: stackName }))
    await waitUntilStackDeleteComplete(
      { client: cfn, maxWaitTime: opts.maxWaitSeconds ?? 1800, minDelay: 5, maxDelay: 30 },
      { StackName: stackName },
    )
    opts.say(`[teardown] ${stackName} deleted`)
  }
  if (kept.length > 0) {
    opts.say('')
    opts.say(
      `Kept on purpose (data and audit trail survive a teardown; ${opts.dryRun ? 'would be ' : ''}retained by the templates):`,
    )
    for (const r of kept) opts.say(`  ${r.type.padEnd(28)} ${r.physicalId}`)
    opts.say('')
    opts.say('To delete them too (irreversible: the tables hold the state and the audit trail):')
    for (const r of kept) opts.say(`  ${deleteCommand(r, opts.region)}`)
  }
  if (opts.dryRun) opts.say('dry run: nothing was changed')
  return kept
}

const CLI = {
  usage: 'npm run teardown -- [--region <region>] [--stack-prefix <prefix>] [--dry-run]',
  description: `Deletes the PartnerOps stacks (stateless, then stateful) and waits for them. What the templates
retain on purpose (the DynamoDB tables, log groups, the API Gateway account role, …) stays; teardown
lists each with the command that deletes it. Secrets are scheduled for deletion by CloudFormation
with Secrets Manager's recovery window. Safe to run again.`,
  flags: {
    region: { type: 'string', doc: '<region> AWS region of the stacks (default AWS_REGION or the profile)' },
    'stack-prefix': {
      type: 'string',
      doc: '<prefix> stack names <prefix>-Stateful/-Stateless (default cdk.json, else PartnerOps)',
    },
    'dry-run': { type: 'boolean', doc: 'say what would be deleted and kept; delete nothing' },
  },
} as const

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  const { values } = cliOrExit('teardown', CLI)
  const aws = awsClients(values.region)
  const region = values.region ?? (await aws.cfn.config.region().catch(() => undefined))
  if (!region) {
    process.stderr.write('teardown: no AWS region: set AWS_REGION or pass --region\n')
    process.exit(1)
  }
  await teardown(aws.cfn, {
    stackPrefix: values['stack-prefix'] ?? contextStackPrefix(),
    region,
    dryRun: values['dry-run'] === true,
    say: (line) => process.stdout.write(`${line}\n`),
  })
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(
      `teardown: ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err)}\n`,
    )
    process.exit(1)
  })
}

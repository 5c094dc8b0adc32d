import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation'
import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager'
import { SSMClient } from '@aws-sdk/client-ssm'
import { STSClient } from '@aws-sdk/client-sts'

/** The AWS clients setup and teardown use, built once for one region (tests pass mocked ones). */
export interface AwsClients {
  cfn: CloudFormationClient
  secrets: SecretsManagerClient
  sts: STSClient
  ssm: SSMClient
}

export function awsClients(region?: string): AwsClients {
  const config = region ? { region } : {}
  return {
    cfn: new CloudFormationClient(config),
    secrets: new SecretsManagerClient(config),
    sts: new STSClient(config),
    ssm: new SSMClient(config),
  }
}

/** A stack's outputs by key, or null when the stack does not exist. */
export async function stackOutputs(
  cfn: CloudFormationClient,
  stackName: string,
): Promise<Record<string, string> | null> {
  let result: DescribeStacksCommandOutput
  try {
    result = await cfn.send(new DescribeStacksCommand({ StackName: stackName }))
  } catch (err: unknown) {
    if (err instanceof Error && /does not exist/.test(err.message)) return null
    throw err
  }
  const stack = result.Stacks?.[0]
  if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return null
  return Object.fromEntries(
    (stack.Outputs ?? []).flatMap((o) =>
      o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [],
    ),
  )
}

/** Whether a secret was given a value after it was created (a put, not the template's placeholder). */
export async function secretWasSet(client: SecretsManagerClient, secretId: string): Promise<boolean> {
  const d = await client.send(new DescribeSecretCommand({ SecretId: secretId }))
  return Object.keys(d.VersionIdsToStages ?? {}).length > 1
}

/**
 * Stores a secret value unless it already holds exactly that value (so a re-run creates no new
 * version). Returns what it did. Never logs or returns the value.
 */
export async function putSecretIfChanged(
  client: SecretsManagerClient,
  secretId: string,
  value: string,
): Promise<'stored' | 'unchanged'> {
  try {
    const current = await client.send(new GetSecretValueCommand({ SecretId: secretId }))
    if (current.SecretString === value) return 'unchanged'
  } catch {
    // Unreadable now (no version yet, or no permission to read): put it anyway.
  }
  await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }))
  return 'stored'
}

/** A secret's current value (for the self-test's signing key and token). */
export async function secretValue(client: SecretsManagerClient, secretId: string): Promise<string> {
  const r = await client.send(new GetSecretValueCommand({ SecretId: secretId }))
  if (r.SecretString === undefined) throw new Error(`secret ${secretId} has no string value`)
  return r.SecretString
}

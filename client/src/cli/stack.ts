import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation'
import { ConfigurationError } from '../errors'

/** The stateless stack's output holding the API's base URL (infra: `ApiUrl`, stage `v1`). */
export const API_URL_OUTPUT = 'ApiUrl'

/**
 * Reads the deployed API's base URL from CloudFormation outputs. `name` is the stateless stack
 * (`PartnerOps-Stateless`) or the stack prefix (`PartnerOps`), in which case `-Stateless` is added.
 */
export async function endpointFromStack(
  name: string,
  client: Pick<CloudFormationClient, 'send'>,
): Promise<string> {
  const candidates = name.endsWith('-Stateless') ? [name] : [name, `${name}-Stateless`]
  for (const stackName of candidates) {
    let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined
    try {
      const res = await client.send(new DescribeStacksCommand({ StackName: stackName }))
      outputs = res.Stacks?.[0]?.Outputs
    } catch (err) {
      if ((err as { name?: string; message?: string }).message?.includes('does not exist')) continue
      throw new ConfigurationError(
        `cannot read stack ${stackName}: ${(err as Error).message ?? String(err)}`,
        { cause: err },
      )
    }
    const url = outputs?.find((o) => o.OutputKey === API_URL_OUTPUT)?.OutputValue
    if (url) return url
  }
  throw new ConfigurationError(
    `stack ${candidates.join(' or ')} not found, or it has no ${API_URL_OUTPUT} output (is it deployed in this region?)`,
  )
}

/** A CloudFormation client for the caller's region and credentials. */
export function cloudFormation(region?: string): CloudFormationClient {
  return new CloudFormationClient(region ? { region } : {})
}

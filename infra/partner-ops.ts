import { type Environment, Tags, Validations } from 'aws-cdk-lib'
import type { Construct } from 'constructs'
import type { DeployConfig } from './config'
import { StatefulStack } from './stacks/stateful-stack'
import { StatelessStack } from './stacks/stateless-stack'

/** The two stacks of one PartnerOps deployment. */
export interface PartnerOpsStacks {
  stateful: StatefulStack
  stateless: StatelessStack
}

/**
 * Adds one PartnerOps deployment to an app: `<prefix>-Stateful` (tables, secrets) and
 * `<prefix>-Stateless` (functions, API, schedule, bus, alarms, dashboard, caller policies).
 */
export function buildPartnerOps(scope: Construct, config: DeployConfig, env?: Environment): PartnerOpsStacks {
  const stateful = new StatefulStack(scope, `${config.stackPrefix}-Stateful`, {
    config,
    description: 'PartnerOps stateful resources: DynamoDB tables and secrets',
    ...(env ? { env } : {}),
  })
  const stateless = new StatelessStack(scope, `${config.stackPrefix}-Stateless`, {
    config,
    tables: stateful.tables,
    secrets: stateful.secrets,
    channelKeyKey: stateful.channelKeyKey,
    description: 'PartnerOps functions, API, schedule, change-event bus, alarms and dashboard',
    ...(env ? { env } : {}),
  })
  Validations.of(stateless).acknowledge({
    id: 'Annotation::@aws-cdk/core:crossStackReferencesDefaultStrong',
    reason:
      'Strong cross-stack references are intended: CloudFormation must refuse to remove a table or secret from the stateful stack while the stateless stack still uses it.',
  })
  Tags.of(stateful).add('project', 'PartnerOps')
  Tags.of(stateless).add('project', 'PartnerOps')
  return { stateful, stateless }
}

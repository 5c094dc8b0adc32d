import { App, Validations } from 'aws-cdk-lib'
import { AwsSolutionsChecks } from 'cdk-nag'
import { type DeployConfig, DeployConfigError, loadDeployConfig } from './config'
import { buildPartnerOps } from './partner-ops'

// The CDK app (`npm run synth`, `npm run deploy`): settings from context, cdk-nag AwsSolutions as a
// gate (any unacknowledged finding fails the synth), then the two stacks.
const app = new App()
let config: DeployConfig
try {
  config = loadDeployConfig((key) => app.node.tryGetContext(key))
} catch (err: unknown) {
  if (!(err instanceof DeployConfigError)) throw err
  process.stderr.write(`\n${err.message}\n\n`)
  process.exit(1)
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
const account = process.env.CDK_DEFAULT_ACCOUNT
const region = process.env.CDK_DEFAULT_REGION
buildPartnerOps(app, config, account && region ? { account, region } : undefined)
app.synth()

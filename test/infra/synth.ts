import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { App, Validations } from 'aws-cdk-lib'
import { Template } from 'aws-cdk-lib/assertions'
import { AwsSolutionsChecks } from 'cdk-nag'
import { loadDeployConfig } from '../../infra/config'
import { buildPartnerOps, type PartnerOpsStacks } from '../../infra/partner-ops'

/** The settings every infra test starts from (passed as context, as `-c` would). */
export const BASE_CONTEXT: Record<string, unknown> = {
  partnerId: 'examplePA',
  alarmEmail: 'ops@example.com',
}

/** An app built like infra/app.ts, not yet synthesized. */
export interface BuiltApp {
  app: App
  stacks: PartnerOpsStacks
  outdir: string
}

/**
 * Builds the PartnerOps app from context as infra/app.ts does, into a temporary output directory.
 * Bundling is skipped unless `bundle` is true (the asset stays a placeholder); `nag` registers the
 * cdk-nag AwsSolutions plugin, so that synthesis fails on any unacknowledged finding.
 */
export function buildApp(
  context: Record<string, unknown> = {},
  opts: { bundle?: boolean; nag?: boolean } = {},
): BuiltApp {
  const outdir = mkdtempSync(join(tmpdir(), 'partnerops-cdk-'))
  const app = new App({
    outdir,
    context: {
      ...BASE_CONTEXT,
      ...context,
      ...(opts.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  })
  if (opts.nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app))
  const config = loadDeployConfig((key) => app.node.tryGetContext(key))
  return { app, stacks: buildPartnerOps(app, config), outdir }
}

/** A synthesized deployment: the app, its stacks and their templates. */
export interface Synthesized extends BuiltApp {
  stateful: Template
  stateless: Template
}

/** Builds (without nag, without bundling) and returns both templates. */
export function synthesize(context: Record<string, unknown> = {}): Synthesized {
  const built = buildApp(context)
  try {
    return {
      ...built,
      stateful: Template.fromStack(built.stacks.stateful),
      stateless: Template.fromStack(built.stacks.stateless),
    }
  } finally {
    rmSync(built.outdir, { recursive: true, force: true })
  }
}

/** One rule violation of the validation report. */
export interface NagViolation {
  rule: string
  paths: string[]
}

/**
 * Synthesizes an app built with `nag: true` and returns the unacknowledged findings (empty when the
 * synthesis passed the gate). Other synthesis failures are rethrown. The output directory stays (the
 * caller may read the assembly); `cleanUp` removes it.
 */
export function nagViolations(built: BuiltApp): NagViolation[] {
  try {
    built.app.synth()
    return []
  } catch (err: unknown) {
    const reportPath = join(built.outdir, 'validation-report.json')
    if (!existsSync(reportPath)) throw err
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as {
      pluginReports: {
        violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[]
      }[]
    }
    return report.pluginReports.flatMap((p) =>
      p.violations.map((v) => ({
        rule: v.ruleName,
        paths: v.violatingConstructs.map((c) => c.constructPath),
      })),
    )
  }
}

/** CloudFormation resources of one type, by logical id. */
export function resourcesOf(
  template: Template,
  type: string,
): Record<string, { Properties: Record<string, unknown> } & Record<string, unknown>> {
  return template.findResources(type) as Record<
    string,
    { Properties: Record<string, unknown> } & Record<string, unknown>
  >
}

/** Removes the output directory of a built app. */
export function cleanUp(built: BuiltApp): void {
  rmSync(built.outdir, { recursive: true, force: true })
}

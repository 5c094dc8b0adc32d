import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FUNCTION_KEYS, FUNCTIONS, type FunctionKey } from '../../shared/functions'
import { lambdaEnv } from './lambda-env'
import { type BuiltApp, buildApp, nagViolations } from './synth'

// The one test that bundles for real, with the local esbuild (no Docker), exactly as `npm run synth`.
describe('real bundling', () => {
  let built: BuiltApp
  const bundles = {} as Record<FunctionKey, string>

  beforeAll(() => {
    built = buildApp({}, { bundle: true, nag: true })
    expect(nagViolations(built)).toEqual([])
    const assembly = built.app.synth()
    const stack = assembly.getStackByName(built.stacks.stateless.stackName)
    const template = stack.template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>
    }
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue
      const env = (resource.Properties.Environment as { Variables: Record<string, string> }).Variables
      const key = String((resource.Properties.Code as { S3Key: unknown }).S3Key)
      // File assets are staged as asset.<hash> next to the templates; the S3 key is <hash>.zip.
      const name = FUNCTION_KEYS.find((k) => FUNCTIONS[k].service === env.POWERTOOLS_SERVICE_NAME)
      if (!name) throw new Error(`unknown service ${env.POWERTOOLS_SERVICE_NAME}`)
      bundles[name] = join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`)
    }
  })

  afterAll(() => {
    if (built) rmSync(built.outdir, { recursive: true, force: true })
  })

  it('produces one minified ESM bundle with a source map per function', () => {
    expect(Object.keys(bundles).sort()).toEqual([
      'api',
      'channelKeys',
      'eventPublisher',
      'export',
      'health',
      'onboarding',
      'poller',
      'webhook',
      'webhookApplier',
    ])
    for (const [name, dir] of Object.entries(bundles)) {
      const file = join(dir, 'index.mjs')
      expect(existsSync(file), name).toBe(true)
      expect(existsSync(join(dir, 'index.mjs.map')), name).toBe(true)
      const code = readFileSync(file, 'utf8')
      expect(code.startsWith('import { createRequire as __partnerOpsCreateRequire }'), name).toBe(true)
      expect(code).toMatch(/export\s*\{[^}]*\bas handler\b/)
      // Minified: no indentation-heavy lines, few newlines for its size.
      expect(code.split('\n').length, name).toBeLessThan(code.length / 500)
      expect(code).toContain('//# sourceMappingURL=index.mjs.map')
    }
  })

  it('loads each bundle in a fresh Node process and builds its handler without network', () => {
    expect(Object.keys(bundles)).toHaveLength(9)
    // The Lambda Node.js runtime's global, as it marks a streaming handler (only the export streams).
    const runtime =
      "const marker = Symbol.for('aws.lambda.runtime.handler.streaming');" +
      'globalThis.awslambda = { streamifyResponse: (h) => { h[marker] = "response"; return h }, HttpResponseStream: { from: (s) => s } };'
    for (const [name, dir] of Object.entries(bundles) as [FunctionKey, string][]) {
      const url = pathToFileURL(join(dir, 'index.mjs')).href
      const run = spawnSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `${runtime} const m = await import(${JSON.stringify(url)}); console.log(typeof m.handler, m.handler[marker] ?? 'buffered')`,
        ],
        { encoding: 'utf8', env: lambdaEnv(FUNCTIONS[name].service), timeout: 30_000 },
      )
      expect(run.stderr, name).toBe('')
      const streaming = 'streaming' in FUNCTIONS[name].trigger
      expect(run.stdout.trim(), name).toBe(`function ${streaming ? 'response' : 'buffered'}`)
    }
  })
})

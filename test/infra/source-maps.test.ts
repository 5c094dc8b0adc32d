import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { BUNDLE, REPO_ROOT } from '../../infra/bundling'

// A bundle built with the stack's options, as Lambda runs it (no --enable-source-maps): an error's
// stack names the TypeScript source and line, the map being read only when the stack is printed.
describe('stack traces of a bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 'partnerops-source-maps-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('name the TypeScript source and line, without --enable-source-maps', async () => {
    writeFileSync(
      join(dir, 'thrower.ts'),
      ['export function failDeep(n: number): never {', "  throw new Error('failed at ' + n)", '}', ''].join(
        '\n',
      ),
    )
    writeFileSync(
      join(dir, 'entry.ts'),
      [
        `import { mapStackTracesOnDemand } from ${JSON.stringify(join(REPO_ROOT, 'shared/source-maps.ts'))}`,
        "import { failDeep } from './thrower'",
        'mapStackTracesOnDemand()',
        'try { failDeep(7) } catch (err) { process.stdout.write(String((err as Error).stack)) }',
        '',
      ].join('\n'),
    )
    await build({
      entryPoints: [join(dir, 'entry.ts')],
      bundle: true,
      outfile: join(dir, 'out', 'index.mjs'),
      format: BUNDLE.format,
      platform: BUNDLE.platform,
      target: BUNDLE.target,
      minify: BUNDLE.minify,
      sourcemap: BUNDLE.sourcemap,
      sourcesContent: BUNDLE.sourcesContent,
      banner: { js: BUNDLE.banner },
      logLevel: 'silent',
    })
    const run = spawnSync(process.execPath, [join(dir, 'out', 'index.mjs')], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', AWS_LAMBDA_FUNCTION_NAME: 'partnerops-test' },
    })
    expect(run.stderr).toBe('')
    const stack = run.stdout
    expect(stack.split('\n')[0]).toBe('Error: failed at 7')
    expect(stack).toMatch(/thrower\.ts:2:\d+/)
    expect(stack.split('\n')[1]).not.toContain('index.mjs')
  })
})

import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const tsx = join(process.cwd(), 'node_modules', '.bin', 'tsx')

function run(args: string[]): { code: number | null; out: string } {
  const r = spawnSync(tsx, args, {
    encoding: 'utf8',
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' },
  })
  return { code: r.status, out: `${r.stdout}${r.stderr}` }
}

describe('npm run bench', () => {
  it('answers --help with the list of benchmarks, runs nothing and keeps the last results', () => {
    const before = existsSync('.bench/latest.md') ? readFileSync('.bench/latest.md', 'utf8') : null
    const r = run(['test/bench/main.ts', '--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('Usage: npm run bench')
    expect(r.out).toMatch(/Benchmarks: .*webhook/)
    const after = existsSync('.bench/latest.md') ? readFileSync('.bench/latest.md', 'utf8') : null
    expect(after).toBe(before)
  })

  it('refuses an unknown benchmark name with exit code 2 and the known names', () => {
    const r = run(['test/bench/main.ts', 'no-such-bench'])
    expect(r.code).toBe(2)
    expect(r.out).toContain('unknown benchmark: no-such-bench')
    expect(r.out).toContain('cold-start')
  })
})

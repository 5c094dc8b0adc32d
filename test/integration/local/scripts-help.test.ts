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

// Every script: --help prints its usage and exits 0 without doing anything; an unknown flag is a
// usage error (exit 2) with one line.
const SCRIPTS: { name: string; file: string; usage: string }[] = [
  { name: 'start', file: 'local/main.ts', usage: 'Usage: npm start' },
  { name: 'simulator', file: 'local/simulator/main.ts', usage: 'Usage: npm run simulator' },
  { name: 'replay', file: 'local/replay.ts', usage: 'Usage: npm run replay' },
  { name: 'register-webhook', file: 'infra/register-webhook.ts', usage: 'Usage: npm run register-webhook' },
  { name: 'setup', file: 'infra/setup/main.ts', usage: 'Usage: npm run setup' },
  { name: 'teardown', file: 'infra/setup/teardown.ts', usage: 'Usage: npm run teardown' },
]

describe.each(SCRIPTS)('npm run $name', ({ file, usage }) => {
  it('answers --help with its usage and exit 0', () => {
    const r = run([file, '--help'])
    expect(r.code, r.out).toBe(0)
    expect(r.out).toContain(usage)
    expect(r.out).toMatch(/--help/)
    expect(r.out).not.toMatch(/\n\s+at /)
  })

  it('refuses an unknown flag with one line and exit 2', () => {
    const r = run([file, '--no-such-flag'])
    expect(r.code, r.out).toBe(2)
    expect(r.out.trim().split('\n')).toHaveLength(1)
    expect(r.out).toContain('--no-such-flag')
  })
})

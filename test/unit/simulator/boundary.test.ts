import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const DIR = join(process.cwd(), 'local', 'simulator')
// The one shared file: local/cli.ts, the scripts' flag and --help parser, which imports only
// node:util and knows nothing of PartnerOps.
const SHARED_SCRIPT_HELPERS = new Set(['../cli'])

describe('simulator boundary', () => {
  it('imports only its own modules, Node built-ins, zod and the scripts flag parser: nothing of PartnerOps, nothing of test/', () => {
    const outside: string[] = []
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(DIR, file), 'utf8')
      for (const m of source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1] ?? ''
        const own = spec.startsWith('./') && !spec.slice(2).includes('/')
        if (!own && !spec.startsWith('node:') && spec !== 'zod' && !SHARED_SCRIPT_HELPERS.has(spec))
          outside.push(`${file}: ${spec}`)
      }
    }
    expect(outside).toEqual([])
  })

  it("allows the scripts' flag parser only while it stays free of PartnerOps", () => {
    const cli = readFileSync(join(process.cwd(), 'local', 'cli.ts'), 'utf8')
    const specs = [...cli.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? '')
    expect(specs.every((s) => s.startsWith('node:'))).toBe(true)
  })
})

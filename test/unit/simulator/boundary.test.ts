import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const DIR = join(process.cwd(), 'local', 'simulator')

describe('simulator boundary', () => {
  it('imports only its own modules, Node built-ins and zod: nothing of PartnerOps, nothing of test/', () => {
    const outside: string[] = []
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.ts'))) {
      const source = readFileSync(join(DIR, file), 'utf8')
      for (const m of source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1] ?? ''
        const own = spec.startsWith('./') && !spec.slice(2).includes('/')
        if (!own && !spec.startsWith('node:') && spec !== 'zod') outside.push(`${file}: ${spec}`)
      }
    }
    expect(outside).toEqual([])
  })
})

import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { FUNCTION_KEYS, FUNCTIONS } from '../../../shared/functions'

/**
 * The dependency rule of the README's architecture section, enforced on every TypeScript source:
 * `functions → services → ports ← adapters`, `domain` imports nothing outside itself, services know
 * no HTTP, adapter or API Gateway shape, and the simulator is its own program.
 *
 * Why no library (dependency-cruiser, eslint-plugin-boundaries): the rule is a dozen lines over the
 * import specifiers, which TypeScript's own `preProcessFile` (already a dependency) lists exactly,
 * dynamic imports and re-exports included; a cruiser would add a dependency tree and a config file
 * to `npm ci` for the same check, and would run slower than this whole test.
 */

const ROOT = resolve(__dirname, '../../..')
const SOURCE_DIRS = ['functions', 'shared', 'local', 'infra']

/** One import of one file: the specifier as written, and the repo-relative file it names (relative imports only). */
interface Edge {
  from: string
  specifier: string
  to: string | null
}

function sources(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (name === 'node_modules' || name.startsWith('.')) continue
    if (statSync(path).isDirectory()) out.push(...sources(path))
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

function edges(): Edge[] {
  const out: Edge[] = []
  for (const dir of SOURCE_DIRS) {
    for (const file of sources(join(ROOT, dir))) {
      const from = relative(ROOT, file)
      const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true)
      for (const ref of info.importedFiles) {
        const specifier = ref.fileName
        const to = specifier.startsWith('.') ? relative(ROOT, resolve(dirname(file), specifier)) : null
        out.push({ from, specifier, to })
      }
    }
  }
  return out
}

const ALL = edges()

const under = (path: string, dir: string): boolean => path === dir || path.startsWith(`${dir}/`)

/** The edges that break a rule, as `from → specifier` lines (empty when the rule holds). */
function violations(rule: (e: Edge) => boolean): string[] {
  return ALL.filter(rule).map((e) => `${e.from} → ${e.specifier}`)
}

describe('import boundaries', () => {
  it('reads every source file (the check is not vacuous)', () => {
    const files = new Set(ALL.map((e) => e.from))
    for (const dir of SOURCE_DIRS) expect([...files].some((f) => under(f, dir))).toBe(true)
    expect(ALL.length).toBeGreaterThan(200)
  })

  it('domain imports nothing outside itself (zod and node built-ins only)', () => {
    expect(
      violations(
        (e) =>
          under(e.from, 'shared/domain') &&
          (e.to === null
            ? !(e.specifier === 'zod' || e.specifier.startsWith('zod/') || e.specifier.startsWith('node:'))
            : !under(e.to, 'shared/domain')),
      ),
    ).toEqual([])
  })

  it('services import no HTTP, no adapter, no handler and no API Gateway types', () => {
    const forbidden = ['shared/http', 'shared/adapters', 'functions', 'local', 'infra', 'test']
    expect(
      violations(
        (e) =>
          under(e.from, 'shared/services') &&
          (e.to === null
            ? e.specifier === 'aws-lambda' ||
              e.specifier.startsWith('@aws-sdk/') ||
              e.specifier === '@middy/core'
            : forbidden.some((d) => under(e.to as string, d))),
      ),
    ).toEqual([])
  })

  it('ports depend on the domain only', () => {
    expect(
      violations((e) => e.from === 'shared/ports.ts' && (e.to === null || !under(e.to, 'shared/domain'))),
    ).toEqual([])
  })

  it('adapters implement ports and never call services, HTTP or handlers', () => {
    const forbidden = ['shared/services', 'shared/http', 'functions', 'local', 'test']
    expect(
      violations(
        (e) =>
          under(e.from, 'shared/adapters') &&
          e.to !== null &&
          forbidden.some((d) => under(e.to as string, d)),
      ),
    ).toEqual([])
  })

  it('only handlers (and the local runner standing in for Lambda) know API Gateway event shapes', () => {
    expect(
      violations(
        (e) =>
          e.specifier === 'aws-lambda' &&
          !(
            under(e.from, 'functions') ||
            under(e.from, 'shared/http') ||
            under(e.from, 'local') ||
            under(e.from, 'infra')
          ),
      ),
    ).toEqual([])
  })

  it('product code never imports handlers, the local runner or tests', () => {
    expect(
      violations(
        (e) =>
          under(e.from, 'shared') &&
          e.to !== null &&
          (under(e.to, 'functions') || under(e.to, 'local') || under(e.to, 'test')),
      ),
    ).toEqual([])
  })

  it('the simulator is its own program: no PartnerOps domain errors, nothing from test/', () => {
    expect(
      violations(
        (e) =>
          under(e.from, 'local/simulator') &&
          e.to !== null &&
          (under(e.to, 'shared/domain/errors') || under(e.to, 'test')),
      ),
    ).toEqual([])
  })

  it('a Lambda entry wires through shared/wiring/core.ts with exactly the builders of its adapters', () => {
    // shared/wiring.ts holds every builder (the local runner, tests): an entry importing it would
    // bundle every SDK client. A builder is shared/wiring/<adapter in kebab case>.ts (docs/wiring.md).
    const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
    const problems: string[] = []
    for (const fn of FUNCTION_KEYS) {
      const entry = FUNCTIONS[fn].entry
      const imports = ALL.filter((e) => e.from === entry && e.to !== null).map((e) => e.to as string)
      if (imports.includes('shared/wiring')) problems.push(`${entry} imports shared/wiring.ts`)
      if (!imports.includes('shared/wiring/core')) problems.push(`${entry} does not use wireFunction`)
      const builders = imports
        .filter((to) => under(to, 'shared/wiring') && to !== 'shared/wiring/core')
        .map((to) => to.slice('shared/wiring/'.length))
        .sort()
      const declared = FUNCTIONS[fn].adapters.map(kebab).sort()
      if (builders.join() !== declared.join())
        problems.push(`${entry} imports builders [${builders}], FUNCTIONS.${fn}.adapters is [${declared}]`)
    }
    expect(problems).toEqual([])
  })

  it('nothing but shared/wiring.ts, the local runner and tools import the all-builders wiring', () => {
    expect(
      violations(
        (e) =>
          e.to === 'shared/wiring' &&
          (under(e.from, 'functions') || (under(e.from, 'shared') && !under(e.from, 'shared/wiring'))),
      ),
    ).toEqual([])
  })
})

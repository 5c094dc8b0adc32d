import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { BUNDLE, REPO_ROOT } from '../../infra/bundling'
import { FUNCTION_KEYS, FUNCTIONS } from '../../shared/functions'
import { lambdaEnv } from '../infra/lambda-env'
import { type Bench, type BenchTable, percentile, round } from './harness'

// Enough rounds that the medians hold on a busy machine (other processes share the CPUs).
const RUNS = 25
// Issue 13: every function within 1.2× the reference (source maps on, as deployed).
const TARGET_RATIO = 1.2

// What every Lambda function pays anyway: a trivial handler next to one DynamoDB client.
export const REFERENCE_SOURCE = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
const client = new DynamoDBClient({})
export const handler = async () => ({ statusCode: 200, body: String(typeof client.send) })
`

// Runs in a fresh Node process: import the bundle (which wires its dependencies and builds the
// handler at module scope, as in a Lambda init) and report the time it took, wall and CPU (user +
// system, all threads of the process: V8 compiles and collects garbage on helper threads).
const PROBE = `
// The Lambda Node.js runtime defines this global before loading a handler (the export function streams).
globalThis.awslambda ??= {}
globalThis.awslambda.streamifyResponse ??= (handler) => handler
globalThis.awslambda.HttpResponseStream ??= { from: (stream) => stream }
const cpu = process.cpuUsage()
const started = performance.now()
const mod = await import(process.argv[1])
if (typeof mod.handler !== 'function') throw new Error('no handler export')
const wall = performance.now() - started
const used = process.cpuUsage(cpu)
process.stdout.write(JSON.stringify({ initMs: wall, cpuMs: (used.user + used.system) / 1000 }))
`

export interface Built {
  name: string
  file: string
  bytes: number
}

/**
 * Builds one bundle with the stack's esbuild options (infra/bundling.ts). `splitting` (not what the
 * stack does: CDK's NodejsFunction writes one file) puts dynamically imported modules in chunks of
 * their own, read only when first imported.
 */
export async function bundle(
  outDir: string,
  name: string,
  entry: { path: string } | { source: string },
  splitting = false,
): Promise<Built> {
  const file = join(outDir, name, 'index.mjs')
  await build({
    ...(splitting
      ? { splitting: true, outdir: join(outDir, name), entryNames: 'index', outExtension: { '.js': '.mjs' } }
      : { outfile: file }),
    ...('path' in entry
      ? { entryPoints: [join(REPO_ROOT, entry.path)] }
      : {
          stdin: { contents: entry.source, resolveDir: REPO_ROOT, sourcefile: 'reference.ts', loader: 'ts' },
        }),
    bundle: true,
    format: BUNDLE.format,
    platform: BUNDLE.platform,
    target: BUNDLE.target,
    minify: BUNDLE.minify,
    sourcemap: BUNDLE.sourcemap,
    sourcesContent: BUNDLE.sourcesContent,
    mainFields: [...BUNDLE.mainFields],
    banner: { js: BUNDLE.banner },
    logLevel: 'silent',
  })
  return { name, file, bytes: statSync(file).size }
}

export function initOnce(
  b: Built,
  sourceMaps: boolean,
): { initMs: number; cpuMs: number; processMs: number } {
  const env = {
    ...lambdaEnv(b.name),
    ...(sourceMaps ? { NODE_OPTIONS: '--enable-source-maps' } : {}),
  }
  const started = performance.now()
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', PROBE, pathToFileURL(b.file).href],
    {
      env,
      encoding: 'utf8',
      timeout: 60_000,
    },
  )
  const processMs = performance.now() - started
  const probe = JSON.parse(out) as { initMs: number; cpuMs: number }
  return { initMs: probe.initMs, cpuMs: probe.cpuMs, processMs }
}

/**
 * Cold-start initialisation of each function bundle (built with the stack's esbuild options) against a
 * reference bundle holding only a trivial handler and a DynamoDB client, all in the same run.
 */
export const bench: Bench = {
  name: 'cold-start',
  async run(): Promise<BenchTable[]> {
    const outDir = mkdtempSync(join(tmpdir(), 'partnerops-cold-start-'))
    try {
      const names = FUNCTION_KEYS
      const built: Built[] = [await bundle(outDir, 'reference', { source: REFERENCE_SOURCE })]
      for (const name of names) built.push(await bundle(outDir, name, { path: FUNCTIONS[name].entry }))

      const tables: BenchTable[] = []
      for (const sourceMaps of [false, true]) {
        const samples = new Map(
          built.map((b) => [b.name, { init: [] as number[], cpu: [] as number[], proc: [] as number[] }]),
        )
        // One warm-up round (file cache), then rounds that interleave the bundles so drift hits all alike.
        for (const b of built) initOnce(b, sourceMaps)
        for (let run = 0; run < RUNS; run++) {
          for (const b of built) {
            const r = initOnce(b, sourceMaps)
            samples.get(b.name)?.init.push(r.initMs)
            samples.get(b.name)?.cpu.push(r.cpuMs)
            samples.get(b.name)?.proc.push(r.processMs)
          }
        }
        const median = (name: string, k: 'init' | 'cpu' | 'proc'): number =>
          percentile(samples.get(name)?.[k] ?? [], 50)
        const refInit = median('reference', 'init')
        const refCpu = median('reference', 'cpu')
        const refBytes = built[0]?.bytes ?? 1
        tables.push({
          title: sourceMaps
            ? 'Cold-start init per function bundle, NODE_OPTIONS=--enable-source-maps (deployed until 2026-11-26)'
            : 'Cold-start init per function bundle, as deployed (source maps read only when a stack is printed)',
          note:
            `Fresh \`node\` process per sample (${process.version}); init = importing the bundle, which wires the dependencies and builds the handler; ` +
            `median of ${RUNS} after one warm-up. Reference: trivial handler + DynamoDBClient, same esbuild options (${BUNDLE.format}, minified, target ${BUNDLE.target}), same run. ` +
            `CPU = user + system time of the process during the import: on a shared machine wall time also counts waiting for a core, while Lambda gives a function a share of a vCPU in proportion to its memory, so its init follows the CPU figure. Target ≤ ${TARGET_RATIO}× reference (CPU).`,
          columns: [
            'bundle',
            'size (KiB)',
            'size vs reference',
            'init wall median (ms)',
            'init wall p90 (ms)',
            'init CPU median (ms)',
            'wall vs reference',
            'CPU vs reference',
            'target',
          ],
          rows: built.map((b) => {
            const wall = median(b.name, 'init') / refInit
            const cpu = median(b.name, 'cpu') / refCpu
            return [
              b.name,
              round(b.bytes / 1024, 0),
              `${round(b.bytes / refBytes, 2)}×`,
              round(median(b.name, 'init'), 1),
              round(percentile(samples.get(b.name)?.init ?? [], 90), 1),
              round(median(b.name, 'cpu'), 1),
              `${round(wall, 2)}×`,
              `${round(cpu, 2)}×`,
              b.name === 'reference' ? '–' : cpu <= TARGET_RATIO ? 'met' : 'missed',
            ]
          }),
        })
      }
      return tables
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
  },
}

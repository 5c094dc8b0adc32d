import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FUNCTIONS } from '../../shared/functions'
import { type Built, bundle, initOnce, REFERENCE_SOURCE } from './cold-start.bench'
import { type Bench, type BenchTable, percentile, round } from './harness'

const RUNS = 21

// Each part on top of the reference (its DynamoDB client is `client`), built and timed like a function.
const PARTS: [string, string][] = [
  [
    'zod (classic), one object schema',
    "import * as z from 'zod'\nexport const s = z.object({ a: z.string() })",
  ],
  [
    'zod/mini + English messages (shared/domain/zod-locale.ts), one object schema',
    "import * as z from 'zod/mini'\nimport './shared/domain/zod-locale'\nexport const s = z.object({ a: z.string() })",
  ],
  [
    'Powertools Logger + Metrics (shared/observability.ts)',
    "import { createLogger, createMetrics } from './shared/observability'\nconst l = createLogger('x')\nexport const m = createMetrics('x', l)",
  ],
  ['middy', "import middy from '@middy/core'\nexport const h = middy(async () => 1)"],
  [
    'DynamoDB document client',
    "import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'\nexport const d = DynamoDBDocumentClient.from(client)",
  ],
  [
    'PartnerOps store (document client + repositories) on that client',
    "import { createDynamoStore, tableNamesFromConfig } from './shared/adapters/dynamo/dynamo-store'\nimport { loadConfig } from './shared/env'\nexport const s = createDynamoStore({ client, tables: tableNamesFromConfig(loadConfig()), cursorSecret: 'x' })",
  ],
  [
    'an SDK client loaded on first use (EventBridge sink: module in the bundle, not evaluated)',
    "import { createEventBridgeSink } from './shared/adapters/event-sink'\nexport const e = createEventBridgeSink",
  ],
  [
    'wiring of the event publisher (config, store, Logger, Metrics, its sink builder)',
    "import { loadConfig } from './shared/env'\nimport { wireFunction } from './shared/wiring/core'\nimport { events } from './shared/wiring/events'\nexport const d = wireFunction('eventPublisher', loadConfig(), { events })",
  ],
]

const withPart = (source: string): string =>
  REFERENCE_SOURCE.replace('export const handler', `${source}\nexport const handler`)

/**
 * `npm run bench -- cold-start-parts`: what each part a PartnerOps function loads costs at init, each
 * on top of the reference (trivial handler + DynamoDB client) in its own bundle, all in one run; then
 * the reference and two functions bundled with code splitting, against the same bundles without.
 */
export const bench: Bench = {
  name: 'cold-start-parts',
  async run(): Promise<BenchTable[]> {
    const outDir = mkdtempSync(join(tmpdir(), 'partnerops-cold-parts-'))
    try {
      const parts: Built[] = [await bundle(outDir, 'reference', { source: REFERENCE_SOURCE })]
      for (const [i, [, source]] of PARTS.entries()) {
        parts.push(await bundle(outDir, `part${i}`, { source: withPart(source) }))
      }
      const split: Built[] = [await bundle(outDir, 'reference-split', { source: REFERENCE_SOURCE }, true)]
      for (const fn of ['api', 'eventPublisher'] as const) {
        split.push(await bundle(outDir, fn, { path: FUNCTIONS[fn].entry }))
        split.push(await bundle(outDir, `${fn}-split`, { path: FUNCTIONS[fn].entry }, true))
      }
      const all = [...parts, ...split]
      const cpu = new Map(all.map((b) => [b.name, [] as number[]]))
      for (const b of all) initOnce(b, false)
      for (let run = 0; run < RUNS; run++) {
        for (const b of all) cpu.get(b.name)?.push(initOnce(b, false).cpuMs)
      }
      const median = (name: string): number => percentile(cpu.get(name) ?? [], 50)
      const ref = median('reference')
      const refSplit = median('reference-split')
      return [
        {
          title:
            'Cold-start cost of each part a function loads (init CPU, each part on top of the reference)',
          note: `Median of ${RUNS} fresh processes per bundle, same esbuild options as the stack, one run; the reference is a trivial handler + DynamoDBClient (${round(ref, 1)} ms CPU). Parts are not additive (a larger heap costs more collection).`,
          columns: ['part', 'init CPU ms', '+ ms over the reference', '× reference'],
          rows: [
            ['reference', round(ref, 1), 0, '1×'],
            ...PARTS.map(([label], i) => {
              const m = median(`part${i}`)
              return [label, round(m, 1), round(m - ref, 1), `${round(m / ref, 2)}×`]
            }),
          ],
        },
        {
          title: 'Cold start with code splitting (dynamically imported modules in chunks of their own)',
          note: 'Not what the stack deploys (CDK NodejsFunction writes one file); ratios against the reference built the same way.',
          columns: ['bundle', 'one file: CPU ms (× reference)', 'split: CPU ms (× split reference)'],
          rows: ['reference', 'api', 'eventPublisher'].map((name) => {
            const one = median(name)
            const sp = median(`${name}-split`)
            return [
              name,
              `${round(one, 1)} (${round(one / ref, 2)}×)`,
              `${round(sp, 1)} (${round(sp / refSplit, 2)}×)`,
            ]
          }),
        },
      ]
    } finally {
      rmSync(outDir, { recursive: true, force: true })
    }
  },
}

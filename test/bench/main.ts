import { mkdirSync, writeFileSync } from 'node:fs'
import { type Bench, toMarkdown } from './harness'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT'
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true'

// Each benchmark registers here; `npm run bench -- <name>` runs only the named ones.
const registry: Record<string, () => Promise<{ bench: Bench }>> = {
  'cold-start': () => import('./cold-start.bench'),
  'cold-start-parts': () => import('./cold-start-parts.bench'),
  'partner-client': () => import('./partner-client.bench'),
  onboarding: () => import('./onboarding.bench'),
  webhook: () => import('./webhook.bench'),
  reconcile: () => import('./reconcile.bench'),
  // A full sweep of 1,000,000 channels at 250 ms per call: about 12 minutes.
  'reconcile-million': () => import('./reconcile-million.bench'),
  api: () => import('./api.bench'),
  'change-events': () => import('./change-events.bench'),
  health: () => import('./health.bench'),
  export: () => import('./export.bench'),
  balance: () => import('./balance.bench'),
  filters: () => import('./filters.bench'),
}

const USAGE = `Usage: npm run bench [-- NAME …]

Runs the named benchmarks (all of them without a name), prints one Markdown table per figure and
writes them to .bench/latest.md. Every ratio is against a baseline measured in the same run.

Benchmarks: ${Object.keys(registry).join(', ')}
`

async function main(): Promise<void> {
  const only = process.argv.slice(2)
  if (only.includes('--help') || only.includes('-h')) {
    process.stdout.write(USAGE)
    return
  }
  const unknown = only.filter((n) => !(n in registry))
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark: ${unknown.join(', ')} (known: ${Object.keys(registry).join(', ')})\n`,
    )
    process.exit(2)
  }
  const names = Object.keys(registry).filter((n) => only.length === 0 || only.includes(n))
  const out: string[] = [`Benchmarks run ${new Date().toISOString()} on Node ${process.version}\n`]
  for (const name of names) {
    const load = registry[name]
    if (!load) continue
    const { bench } = await load()
    process.stderr.write(`running ${bench.name}…\n`)
    for (const table of await bench.run()) {
      const md = toMarkdown(table)
      process.stdout.write(`${md}\n`)
      out.push(md)
    }
  }
  mkdirSync('.bench', { recursive: true })
  writeFileSync('.bench/latest.md', out.join('\n'))
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})

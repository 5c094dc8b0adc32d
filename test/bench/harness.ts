/** A benchmark's result: one printed table. Ratios are against a baseline measured in the same run. */
export interface BenchTable {
  title: string
  /** What the figures mean and how they were produced (one or two lines). */
  note?: string
  columns: string[]
  rows: (string | number)[][]
}

/** A benchmark module: registered in test/bench/main.ts. */
export interface Bench {
  name: string
  run(): Promise<BenchTable[]>
}

/** Peak resident set size in MB, sampled every 20 ms while `fn` runs (plus the process max). */
export async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; peakRssMb: number }> {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 20)
  try {
    const result = await fn()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { result, peakRssMb: Math.round((peak / 1024 / 1024) * 10) / 10 }
  } finally {
    clearInterval(timer)
  }
}

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank] ?? 0
}

/** Rounds to `digits` decimals for printing. */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}

/** Renders a table as GitHub Markdown. */
export function toMarkdown(t: BenchTable): string {
  const head = `| ${t.columns.join(' | ')} |\n|${t.columns.map(() => '---').join('|')}|`
  const body = t.rows.map((r) => `| ${r.join(' | ')} |`).join('\n')
  return `### ${t.title}\n${t.note ? `${t.note}\n\n` : '\n'}${head}\n${body}\n`
}

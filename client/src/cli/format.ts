/** Plain-text output for people: aligned tables and key/value blocks, no colours, no dependencies. */

export type Cell = string | number | boolean | null | undefined

const text = (v: Cell): string => (v === null || v === undefined || v === '' ? '-' : String(v))

/** An aligned table with a header row; the last column is not padded. */
export function table(headers: string[], rows: Cell[][]): string {
  const cells = rows.map((r) => r.map(text))
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd()
  return [line(headers), ...cells.map(line)].join('\n')
}

/** `key  value` lines, keys aligned. Nested objects are shown as compact JSON. */
export function keyValues(entries: [string, unknown][]): string {
  const width = Math.max(0, ...entries.map(([k]) => k.length))
  return entries
    .map(([k, v]) => {
      const value = v !== null && typeof v === 'object' ? JSON.stringify(v) : text(v as Cell)
      return `${k.padEnd(width)}  ${value}`
    })
    .join('\n')
}

/** Every field of a record, in its own order. */
export function record(obj: object): string {
  return keyValues(Object.entries(obj))
}

/** A byte count for people (KiB/MiB). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}

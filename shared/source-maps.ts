import { readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'

/**
 * Stack traces mapped to the TypeScript sources, on demand.
 *
 * Why not `NODE_OPTIONS=--enable-source-maps`: Node then reads, parses and decodes the bundle's whole
 * source map when the bundle loads, on every cold start, whether or not any stack trace is ever
 * printed; for a PartnerOps bundle that was about 12 ms of CPU, a sixth of the init
 * (`npm run bench -- cold-start`). Here nothing is read at init: the first time a stack trace is
 * formatted (an unexpected error being logged), the map next to the bundle (`index.mjs.map`) is read
 * once, with Node's own `SourceMap` class, and kept for the life of the container.
 *
 * Why not the `source-map-support` package: it does the same, with its own source-map parser that
 * every cold start would load; Node has had the parser built in since version 13.
 */

/** The map of each file that has one (`<file>.map`), null for the others; read on first use. */
const maps = new Map<string, SourceMap | null>()

function mapOf(file: string): SourceMap | null {
  let map = maps.get(file)
  if (map === undefined) {
    try {
      const path = file.startsWith('file:') ? fileURLToPath(file) : file
      map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')))
    } catch {
      map = null
    }
    maps.set(file, map)
  }
  return map
}

/** One frame as V8 prints it, with the bundle position replaced by the source position when mapped. */
function frameText(frame: NodeJS.CallSite): string {
  const text = frame.toString()
  const file = frame.getFileName()
  const line = frame.getLineNumber()
  const column = frame.getColumnNumber()
  if (!file || line === null || column === null) return text
  const map = mapOf(file)
  if (!map) return text
  const entry = map.findEntry(line - 1, column - 1) as Partial<{
    originalSource: string
    originalLine: number
    originalColumn: number
  }>
  if (entry.originalSource === undefined || entry.originalLine === undefined) return text
  const source = `${entry.originalSource}:${entry.originalLine + 1}:${(entry.originalColumn ?? 0) + 1}`
  return text.replace(`${file}:${line}:${column}`, source)
}

/**
 * In a Lambda function, maps every stack trace formatted from now on (lazily, see above). Does nothing
 * elsewhere (the local runner and tests run the TypeScript sources through tsx or vitest, which map
 * stacks themselves) or when Node maps them already (`--enable-source-maps`).
 */
export function mapStackTracesOnDemand(env: Record<string, string | undefined> = process.env): void {
  if (!env.AWS_LAMBDA_FUNCTION_NAME || process.sourceMapsEnabled) return
  Error.prepareStackTrace = (error: Error, frames: NodeJS.CallSite[]): string => {
    let head: string
    try {
      head = String(error)
    } catch {
      head = 'Error'
    }
    try {
      return [head, ...frames.map((f) => `    at ${frameText(f)}`)].join('\n')
    } catch {
      return [head, ...frames.map((f) => `    at ${f}`)].join('\n')
    }
  }
}

import { parseArgs } from 'node:util'

/**
 * The command-line convention of every PartnerOps script: `--help` prints the usage and exits 0; an
 * unknown flag, a missing value or a stray argument prints one line and exits 2. Parsing is node's
 * own `util.parseArgs` (strict); this only adds the help text and the exit codes.
 */

/** A flag: a boolean switch, or a string that takes a value. */
export interface FlagSpec {
  type: 'boolean' | 'string'
  /** One-line description for --help (with the value's name first for string flags, e.g. "<time> …"). */
  doc: string
}

/** What a script says about itself. */
export interface CliSpec<F extends Record<string, FlagSpec>> {
  /** How to run it, e.g. "npm run replay -- --since <ISO time> [--limit N]". */
  usage: string
  /** What it does: a few lines. */
  description: string
  flags: F
  /** Environment variables it reads, with what each means. */
  env?: Record<string, string>
  /** Positional arguments allowed (default none). */
  positionals?: boolean
}

type Values<F extends Record<string, FlagSpec>> = {
  [K in keyof F]?: F[K]['type'] extends 'boolean' ? boolean : string
}

/** The --help text of a script. */
export function helpText<F extends Record<string, FlagSpec>>(spec: CliSpec<F>): string {
  const flags = Object.entries({ ...spec.flags, help: { type: 'boolean', doc: 'print this help and exit' } })
  const width = Math.max(...flags.map(([name]) => name.length)) + 4
  const lines = [`Usage: ${spec.usage}`, '', spec.description.trim(), '', 'Options:']
  for (const [name, f] of flags) lines.push(`  --${name.padEnd(width)}${f.doc}`)
  if (spec.env && Object.keys(spec.env).length > 0) {
    const envWidth = Math.max(...Object.keys(spec.env).map((k) => k.length)) + 2
    lines.push('', 'Environment:')
    for (const [name, doc] of Object.entries(spec.env)) lines.push(`  ${name.padEnd(envWidth)}${doc}`)
  }
  return `${lines.join('\n')}\n`
}

/** Thrown by parseCli for a usage error (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Parses argv; `help: true` when --help was given. Throws UsageError on anything unknown. */
export function parseCli<F extends Record<string, FlagSpec>>(
  spec: CliSpec<F>,
  argv: string[],
): { values: Values<F>; positionals: string[]; help: boolean } {
  const options: Record<string, { type: 'boolean' | 'string' }> = { help: { type: 'boolean' } }
  for (const [name, f] of Object.entries(spec.flags)) options[name] = { type: f.type }
  try {
    const parsed = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: spec.positionals ?? false,
    })
    const { help, ...values } = parsed.values as Record<string, unknown>
    return { values: values as Values<F>, positionals: parsed.positionals, help: help === true }
  } catch (err: unknown) {
    // node's messages end with a hint about '--' that does not apply here; keep the first sentence.
    const message = err instanceof Error ? (err.message.split('. ')[0] ?? err.message) : 'invalid arguments'
    throw new UsageError(message.replace(/\.$/, ''))
  }
}

/**
 * parseCli for a script's main: prints the help and exits 0 on --help, prints one line naming the
 * problem and exits 2 on a usage error.
 */
export function cliOrExit<F extends Record<string, FlagSpec>>(
  name: string,
  spec: CliSpec<F>,
  argv: string[] = process.argv.slice(2),
): { values: Values<F>; positionals: string[] } {
  let parsed: ReturnType<typeof parseCli<F>>
  try {
    parsed = parseCli(spec, argv)
  } catch (err: unknown) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`${name}: ${err.message} (see --help)\n`)
    process.exit(2)
  }
  if (parsed.help) {
    process.stdout.write(helpText(spec))
    process.exit(0)
  }
  return { values: parsed.values, positionals: parsed.positionals }
}

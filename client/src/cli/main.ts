import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Transform, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import { fromNodeProviderChain } from '@aws-sdk/credential-providers'
import { defaultCredentials } from '../auth'
import { LOCAL_ENDPOINT, PartnerOpsClient } from '../client'
import { ApiError, ConfigurationError, FilterNotAppliedError, NetworkError } from '../errors'
import type { Paginator } from '../paginator'
import type { Cancellation, Channel, ChannelFilters, Client, Page, Status } from '../types'
import { bytes, keyValues, record, table } from './format'
import { cloudFormation, endpointFromStack } from './stack'

/**
 * `npx partnerops`: the management API from a shell, on the client library. Tables for people,
 * `--json` for scripts. Hand-rolled dispatch over node:util parseArgs (no dependency) because the
 * command set is small and fixed.
 */

/** Exit codes (documented in client/README.md). */
export const EXIT = {
  ok: 0,
  /** The API answered with an error (4xx/5xx, after the client's retries). */
  api: 1,
  /** Wrong command line: unknown command or option, missing or malformed argument. */
  usage: 2,
  /** The API could not be reached (connection refused or reset, DNS, timeout), after retries. */
  network: 3,
  /** Configuration: no usable credentials, or `--stack` has no ApiUrl output. */
  config: 4,
} as const

export interface Io {
  stdout: Writable & { isTTY?: boolean }
  stderr: Writable & { isTTY?: boolean }
  env: NodeJS.ProcessEnv
}

type OptionSpec = { type: 'string' | 'boolean'; short?: string; description: string; value?: string }

const GLOBAL: Record<string, OptionSpec> = {
  endpoint: {
    type: 'string',
    value: 'URL',
    description: `API base URL (env PARTNEROPS_ENDPOINT; default ${LOCAL_ENDPOINT})`,
  },
  stack: {
    type: 'string',
    value: 'NAME',
    description: 'read the endpoint from this CloudFormation stack (ApiUrl output)',
  },
  region: {
    type: 'string',
    value: 'REGION',
    description: 'AWS region for signing and --stack (default from the endpoint or AWS_REGION)',
  },
  profile: {
    type: 'string',
    value: 'NAME',
    description: 'AWS profile (default: the AWS default credential chain)',
  },
  json: { type: 'boolean', description: 'machine-readable JSON on stdout (errors as JSON on stderr)' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
}

const PAGE: Record<string, OptionSpec> = {
  limit: { type: 'string', value: 'N', description: 'page size, 1–100 (default 50)' },
  cursor: { type: 'string', value: 'CURSOR', description: 'start from this page (a previous nextCursor)' },
  all: { type: 'boolean', description: 'every page (with --json: one JSON object per line)' },
}

interface Ctx {
  client: PartnerOpsClient
  values: Record<string, string | boolean | undefined>
  args: string[]
  io: Io
  json: boolean
}

interface Command {
  name: string
  summary: string
  args?: string[]
  options?: Record<string, OptionSpec>
  notes?: string
  run(ctx: Ctx): Promise<void>
}

class UsageError extends Error {}

const print = (io: Io, text: string): void => {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
}
const printJson = (io: Io, value: unknown): void => print(io, JSON.stringify(value, null, 2))

function str(ctx: Ctx, name: string): string | undefined {
  const v = ctx.values[name]
  return typeof v === 'string' ? v : undefined
}

function limitOf(ctx: Ctx): number | undefined {
  const raw = str(ctx, 'limit')
  if (raw === undefined) return undefined
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 100)
    throw new UsageError('--limit must be 1–100')
  return Number(raw)
}

async function showList<T>(ctx: Ctx, list: Paginator<T>, render: (items: T[]) => string): Promise<void> {
  if (ctx.values.all) {
    if (ctx.json) {
      for await (const item of list) print(ctx.io, JSON.stringify(item))
      return
    }
    const items: T[] = []
    for await (const item of list) items.push(item)
    print(ctx.io, render(items))
    return
  }
  const page: Page<T> = await list.page()
  if (ctx.json) return printJson(ctx.io, page)
  print(ctx.io, render(page.items))
  if (page.nextCursor) ctx.io.stderr.write(`more: --cursor ${page.nextCursor} (or --all)\n`)
}

const clientRows = (items: Client[]): string =>
  table(
    ['CLIENT', 'NAME', 'ORGANISATION', 'STATUS', 'MAX', 'PAYLOAD', 'UPDATED'],
    items.map((c) => [
      c.clientId,
      c.name,
      c.organisation,
      c.status,
      c.maxChannels,
      c.partnerPayload,
      c.updatedAt,
    ]),
  )

const channelRows = (items: Channel[]): string =>
  table(
    ['CHANNEL', 'CLIENT', 'PHONE', 'NAME', 'LIFECYCLE', 'QUALITY', 'MODE', 'UPDATED'],
    items.map((c) => {
      const x = c as Channel & { qualityRating?: string | null }
      return [
        c.channelId,
        c.clientId,
        c.phoneNumber,
        c.displayName,
        c.lifecycle,
        x.qualityRating,
        c.accountMode,
        c.updatedAt,
      ]
    }),
  )

const cancellationText = (c: Cancellation): string => record(c)

const COMMANDS: Command[] = [
  {
    name: 'status',
    summary: 'last reconciliation, channels by lifecycle, webhook counts',
    async run(ctx) {
      const s = await ctx.client.status()
      if (ctx.json) return printJson(ctx.io, s)
      const last = s.reconciliation.last
      const ok = s.reconciliation.lastSuccess
      print(
        ctx.io,
        [
          keyValues([
            ['at', s.at],
            [
              'last run',
              last ? `${last.outcome} ${last.endedAt}${last.error ? ` (${last.error})` : ''}` : 'none yet',
            ],
            ['last success', ok ? ok.endedAt : 'none yet'],
            ['warnings', last?.warnings?.length ? last.warnings.join(', ') : 'none'],
            ['partner settings', partnerSettingsLine(s.partnerSettings)],
            ['channels', s.channels.total],
          ]),
          '',
          table(['LIFECYCLE', 'CHANNELS'], Object.entries(s.channels.byLifecycle)),
          '',
          table(
            ['WEBHOOKS', 'COUNT'],
            Object.entries(s.webhooks).map(([k, v]) => [k, v as number]),
          ),
        ].join('\n'),
      )
    },
  },
  {
    name: 'clients list',
    summary: 'list clients',
    options: {
      status: { type: 'string', value: 'STATUS', description: 'only clients with this status' },
      q: {
        type: 'string',
        value: 'TEXT',
        description: 'search name, organisation, contact email, partner payload',
      },
      ...PAGE,
    },
    async run(ctx) {
      const list = ctx.client.clients.list({
        status: str(ctx, 'status'),
        q: str(ctx, 'q'),
        limit: limitOf(ctx),
        cursor: str(ctx, 'cursor'),
      })
      await showList(ctx, list, clientRows)
    },
  },
  {
    name: 'clients get',
    summary: 'one client with a summary of its channels',
    args: ['CLIENT_ID'],
    async run(ctx) {
      const c = await ctx.client.clients.get(ctx.args[0]!)
      if (ctx.json) return printJson(ctx.io, c)
      const { channels, ...fields } = c
      print(
        ctx.io,
        [
          record(fields),
          '',
          `channels: ${channels.total}`,
          table(['LIFECYCLE', 'CHANNELS'], Object.entries(channels.byLifecycle)),
          channels.channelIds.length > 0 ? `ids: ${channels.channelIds.join(' ')}` : '',
        ]
          .join('\n')
          .trimEnd(),
      )
    },
  },
  {
    name: 'channels list',
    summary: 'list channels (filters combine with AND)',
    options: {
      'client-id': { type: 'string', value: 'ID', description: "only this client's channels" },
      lifecycle: {
        type: 'string',
        value: 'STATE',
        description: 'draft | onboarding | error | live | pending_deletion | terminated',
      },
      quality: { type: 'string', value: 'RATING', description: 'GREEN | YELLOW | RED | UNKNOWN' },
      'messaging-limit': { type: 'string', value: 'LIMIT', description: 'messaging limit tier' },
      'account-mode': { type: 'string', value: 'MODE', description: 'sandbox | live' },
      health: { type: 'string', value: 'STATUS', description: 'health status' },
      q: {
        type: 'string',
        value: 'TEXT',
        description: 'search phone number, display name, company name, partner payload',
      },
      ...PAGE,
    },
    async run(ctx) {
      const lifecycle = str(ctx, 'lifecycle')
      const quality = str(ctx, 'quality')
      const list = ctx.client.channels.list({
        clientId: str(ctx, 'client-id'),
        lifecycle: lifecycle as Channel['lifecycle'] | undefined,
        quality: quality as ChannelFilters['quality'],
        messagingLimit: str(ctx, 'messaging-limit'),
        accountMode: str(ctx, 'account-mode') as ChannelFilters['accountMode'],
        health: str(ctx, 'health') as ChannelFilters['health'],
        q: str(ctx, 'q'),
        limit: limitOf(ctx),
        cursor: str(ctx, 'cursor'),
      })
      await showList(ctx, list, channelRows)
    },
  },
  {
    name: 'channels get',
    summary: 'one channel',
    args: ['CHANNEL_ID'],
    async run(ctx) {
      const c = await ctx.client.channels.get(ctx.args[0]!)
      if (ctx.json) return printJson(ctx.io, c)
      print(ctx.io, record(c))
    },
  },
  {
    name: 'cancel',
    summary: "request a channel's cancellation (at most once per idempotency key)",
    args: ['CLIENT_ID', 'CHANNEL_ID'],
    options: {
      reason: { type: 'string', value: 'TEXT', description: 'why (at most 500 characters)' },
      'idempotency-key': {
        type: 'string',
        value: 'KEY',
        description: 'reuse a key to repeat a call safely (default: a new key per invocation)',
      },
    },
    notes: 'A channel already pending deletion or terminated exits 1 with code already_cancelled.',
    async run(ctx) {
      const reason = str(ctx, 'reason')
      const key = str(ctx, 'idempotency-key')
      const c = await ctx.client.cancellations.request(
        ctx.args[0]!,
        ctx.args[1]!,
        reason === undefined ? {} : { reason },
        key === undefined ? {} : { idempotencyKey: key },
      )
      if (ctx.json) return printJson(ctx.io, c)
      print(ctx.io, cancellationText(c))
    },
  },
  {
    name: 'revoke',
    summary: 'revoke a pending cancellation',
    args: ['CLIENT_ID', 'CHANNEL_ID'],
    options: {
      'idempotency-key': { type: 'string', value: 'KEY', description: 'reuse a key to repeat a call safely' },
    },
    notes: 'Nothing pending exits 1 with code nothing_pending.',
    async run(ctx) {
      const key = str(ctx, 'idempotency-key')
      const c = await ctx.client.cancellations.revoke(
        ctx.args[0]!,
        ctx.args[1]!,
        key === undefined ? {} : { idempotencyKey: key },
      )
      if (ctx.json) return printJson(ctx.io, c)
      print(ctx.io, cancellationText(c))
    },
  },
  {
    name: 'export',
    summary: 'every channel as CSV, streamed (progress on a terminal)',
    options: {
      out: { type: 'string', short: 'o', value: 'FILE', description: 'write to FILE (default: stdout)' },
    },
    notes:
      'With --out the CSV goes to FILE.partial and is renamed to FILE when complete. Progress goes to\n' +
      'stderr only when stderr is a terminal.',
    async run(ctx) {
      const out = str(ctx, 'out')
      const { stream } = await ctx.client.exports.channelsCsv()
      let seen = 0
      let rows = -1
      const progress = ctx.io.stderr.isTTY === true
      let shown = 0
      const show = (final: boolean): void => {
        if (!progress) return
        const now = Date.now()
        if (!final && now - shown < 200) return
        shown = now
        ctx.io.stderr.write(`\rexport: ${Math.max(0, rows)} rows, ${bytes(seen)}${final ? '\n' : ''}`)
      }
      const counter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          seen += chunk.length
          for (const b of chunk) if (b === 10) rows++
          show(false)
          done(null, chunk)
        },
      })
      if (out === undefined) {
        await pipeline(stream, counter, ctx.io.stdout, { end: false })
      } else {
        const partial = `${out}.partial`
        try {
          await pipeline(stream, counter, createWriteStream(partial))
          await rename(partial, out)
        } catch (err) {
          await rm(partial, { force: true })
          throw err
        }
      }
      show(true)
      if (out !== undefined && ctx.json)
        printJson(ctx.io, { file: out, rows: Math.max(0, rows), bytes: seen })
      else if (out !== undefined)
        ctx.io.stderr.write(`wrote ${out}: ${Math.max(0, rows)} rows, ${bytes(seen)}\n`)
    },
  },
  {
    name: 'onboarding-link',
    summary: 'a link that onboards a new client through 360dialog',
    options: {
      payload: { type: 'string', value: 'TEXT', description: 'your reference for the client (required)' },
      'redirect-url': {
        type: 'string',
        value: 'URL',
        description: "where the client's browser returns (https)",
      },
      number: { type: 'string', value: 'PHONE', description: 'the phone number to pre-fill' },
    },
    async run(ctx) {
      const partnerPayload = str(ctx, 'payload')
      if (!partnerPayload) throw new UsageError('--payload is required')
      const redirectUrl = str(ctx, 'redirect-url')
      const number = str(ctx, 'number')
      const link = await ctx.client.onboarding.createLink({
        partnerPayload,
        ...(redirectUrl ? { redirectUrl } : {}),
        ...(number ? { number } : {}),
      })
      if (ctx.json) return printJson(ctx.io, link)
      print(
        ctx.io,
        keyValues([
          ['url', link.url],
          ...(link.expiresAt ? [['expires', link.expiresAt] as [string, string]] : []),
        ]),
      )
    },
  },
  {
    name: 'partner',
    summary: "360dialog's webhook and redirect URLs against this deployment's",
    async run(ctx) {
      const p = await ctx.client.partner()
      if (ctx.json) return printJson(ctx.io, p)
      print(
        ctx.io,
        [
          keyValues([
            ['partner', p.partnerId],
            ['checked', p.checkedAt],
          ]),
          '',
          table(
            ['SETTING', 'OK', 'EXPECTED', 'ACTUAL'],
            [
              ['webhookUrl', p.webhookUrl.ok ? 'yes' : 'NO', p.webhookUrl.expected, p.webhookUrl.actual],
              ['redirectUrl', p.redirectUrl.ok ? 'yes' : 'NO', p.redirectUrl.expected, p.redirectUrl.actual],
            ],
          ),
        ].join('\n'),
      )
    },
  },
  {
    name: 'balance',
    summary: "a client's balance at 360dialog",
    args: ['CLIENT_ID'],
    async run(ctx) {
      const b = await ctx.client.balance(ctx.args[0]!)
      if (ctx.json) return printJson(ctx.io, b)
      const renewal = b.lastRenewal
      print(
        ctx.io,
        keyValues([
          ['client', b.clientId],
          ['balance', `${b.balance} ${b.currency}`],
          [
            'last renewal',
            renewal ? `${renewal.amount ?? '?'} ${b.currency} on ${renewal.date ?? 'an unknown date'}` : null,
          ],
          ['fetched', b.fetchedAt],
        ]),
      )
    },
  },
]

/** The last partner settings check in one line: ok, or which URL drifted (details: `partnerops partner`). */
function partnerSettingsLine(p: Status['partnerSettings']): string {
  const failed = p.lastFailure ? `; last check failed ${p.lastFailure.at} (${p.lastFailure.code})` : ''
  if (p.checkedAt === null) return `not checked yet${failed}`
  const drifted = [
    p.webhookUrlOk === false ? 'webhookUrl' : null,
    p.redirectUrlOk === false ? 'redirectUrl' : null,
  ]
    .filter((x) => x !== null)
    .join(' and ')
  return `${drifted ? `DRIFT in ${drifted}` : 'ok'} (checked ${p.checkedAt})${failed}`
}

const GROUPS = ['clients', 'channels']

function optionHelp(options: Record<string, OptionSpec>): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`
    return [flag, o.description] as const
  })
  const width = Math.max(...rows.map(([f]) => f.length))
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`).join('\n')
}

const EXIT_HELP = `Exit codes:
  0  ok
  1  the API answered an error (its code is printed; 4xx/5xx after the client's retries)
  2  usage: unknown command or option, missing or malformed argument
  3  the API could not be reached (connection, DNS, timeout), after retries
  4  configuration: no usable credentials, or --stack without an ApiUrl output`

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length + (c.args ? c.args.join(' ').length + 1 : 0)))
  const lines = COMMANDS.map((c) => {
    const head = `${c.name}${c.args ? ` ${c.args.join(' ')}` : ''}`
    return `  ${head.padEnd(width)}  ${c.summary}`
  })
  return `Usage: partnerops <command> [options]

The PartnerOps management API from a shell, signed with AWS SigV4 (credentials from the AWS default
chain; against the local runner, its documented local pair when none are configured).

Commands:
${lines.join('\n')}

Global options:
${optionHelp(GLOBAL)}

${EXIT_HELP}

Run "partnerops <command> --help" for a command's options.`
}

function commandHelp(c: Command): string {
  const usage = `Usage: partnerops ${c.name}${c.args ? ` ${c.args.join(' ')}` : ''} [options]`
  const parts = [usage, '', `${c.summary[0]?.toUpperCase()}${c.summary.slice(1)}.`]
  if (c.options) parts.push('', 'Options:', optionHelp(c.options))
  parts.push('', 'Global options:', optionHelp(GLOBAL))
  if (c.notes) parts.push('', c.notes)
  parts.push('', EXIT_HELP)
  return parts.join('\n')
}

function groupHelp(group: string): string {
  const cmds = COMMANDS.filter((c) => c.name.startsWith(`${group} `))
  return `Usage: partnerops ${group} <${cmds.map((c) => c.name.split(' ')[1]).join('|')}> [options]\n\n${cmds
    .map((c) => `  ${c.name}${c.args ? ` ${c.args.join(' ')}` : ''}  ${c.summary}`)
    .join('\n')}\n\nRun "partnerops ${group} <subcommand> --help" for options.`
}

/** The command words: the first positional tokens, skipping global options and their values. */
function commandWords(argv: string[]): string[] {
  const words: string[] = []
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const t = argv[i]!
    if (t === '--') break
    if (t.startsWith('-')) {
      const name = t.replace(/^--?/, '').split('=')[0]!
      if (!t.includes('=') && GLOBAL[name]?.type === 'string') i++
      continue
    }
    words.push(t)
    if (!GROUPS.includes(words[0]!)) break
  }
  return words
}

function removeWords(argv: string[], words: string[]): string[] {
  const rest = [...argv]
  for (const w of words) rest.splice(rest.indexOf(w), 1)
  return rest
}

function toParseOptions(specs: Record<string, OptionSpec>) {
  return Object.fromEntries(
    Object.entries(specs).map(([k, o]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
  ) as Record<string, { type: 'string' | 'boolean'; short?: string }>
}

function reportError(io: Io, json: boolean, err: unknown): number {
  const write = (code: string, message: string, extra: Record<string, unknown> = {}): void => {
    io.stderr.write(
      json
        ? `${JSON.stringify({ error: { code, message, ...extra } })}\n`
        : `partnerops: ${message}${code ? ` (${code}${extra.status ? `, HTTP ${String(extra.status)}` : ''})` : ''}\n`,
    )
  }
  if (err instanceof UsageError) {
    if (json) write('usage', err.message)
    else io.stderr.write(`partnerops: ${err.message}; see --help\n`)
    return EXIT.usage
  }
  if (err instanceof ApiError) {
    write(err.code, err.message, {
      status: err.status,
      ...(err.retryAfterSeconds !== null ? { retryAfterSeconds: err.retryAfterSeconds } : {}),
    })
    return EXIT.api
  }
  if (err instanceof FilterNotAppliedError) {
    write(err.code, err.message)
    return EXIT.api
  }
  if (err instanceof NetworkError) {
    write('network_error', `could not reach the API: ${err.message}`)
    return EXIT.network
  }
  if (err instanceof ConfigurationError || (err as { name?: string }).name === 'CredentialsProviderError') {
    write('configuration', (err as Error).message)
    return EXIT.config
  }
  write('internal', err instanceof Error ? err.message : String(err))
  return EXIT.api
}

export interface MainOptions {
  /** Overrides for tests (retry timings). */
  client?: ConstructorParameters<typeof PartnerOpsClient>[0]
}

/** Runs one command line; resolves with the exit code. */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env },
  opts: MainOptions = {},
): Promise<number> {
  let json = argv.includes('--json')
  try {
    const words = commandWords(argv)
    const name = words.join(' ')
    const command = COMMANDS.find((c) => c.name === name)
    const wantsHelp = argv.includes('--help') || argv.includes('-h')
    if (words.length === 0 || words[0] === 'help') {
      print(io, mainHelp())
      return words.length === 0 && !wantsHelp ? EXIT.usage : EXIT.ok
    }
    if (!command) {
      if (GROUPS.includes(words[0]!) && words.length === 1) {
        print(io, groupHelp(words[0]!))
        return wantsHelp ? EXIT.ok : EXIT.usage
      }
      throw new UsageError(`unknown command "${name}"`)
    }
    if (wantsHelp) {
      print(io, commandHelp(command))
      return EXIT.ok
    }
    const parsed = (() => {
      try {
        return parseArgs({
          args: removeWords(argv, words),
          options: toParseOptions({ ...GLOBAL, ...(command.options ?? {}) }),
          allowPositionals: true,
          strict: true,
        })
      } catch (err) {
        throw new UsageError((err as Error).message)
      }
    })()
    json = parsed.values.json === true
    const expected = command.args ?? []
    if (parsed.positionals.length !== expected.length) {
      throw new UsageError(
        parsed.positionals.length < expected.length
          ? `missing ${expected.slice(parsed.positionals.length).join(' ')}`
          : `unexpected argument "${parsed.positionals[expected.length]}"`,
      )
    }
    const values = parsed.values as Record<string, string | boolean | undefined>
    const region = typeof values.region === 'string' ? values.region : undefined
    let endpoint = typeof values.endpoint === 'string' ? values.endpoint : io.env.PARTNEROPS_ENDPOINT
    if (typeof values.stack === 'string') {
      if (typeof values.endpoint === 'string') throw new UsageError('give --endpoint or --stack, not both')
      endpoint = await endpointFromStack(values.stack, cloudFormation(region))
    }
    endpoint ??= LOCAL_ENDPOINT
    let url: URL
    try {
      url = new URL(endpoint)
    } catch {
      throw new UsageError(`endpoint "${endpoint}" is not a URL`)
    }
    const profile = typeof values.profile === 'string' ? values.profile : undefined
    const client = new PartnerOpsClient({
      endpoint: url,
      credentials: defaultCredentials(url, fromNodeProviderChain(profile ? { profile } : {})),
      ...(region ? { region } : {}),
      ...opts.client,
    })
    await command.run({ client, values, args: parsed.positionals, io, json })
    return EXIT.ok
  } catch (err) {
    return reportError(io, json, err)
  }
}

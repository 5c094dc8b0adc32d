import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { promisify } from 'node:util'
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation'
import { mockClient } from 'aws-sdk-client-mock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../local/app'
import { openApiProblems } from '../../test/integration/api/openapi'
import { EXIT, main } from '../src/cli/main'
import { endpointFromStack } from '../src/cli/stack'
import { PartnerOpsClient } from '../src/client'
import { NotFoundError } from '../src/errors'
import { liveChannel, loopback, SEED_CLIENT, startLocalRunner } from './support'

// The command line against the real local runner (in process, through main()), plus the installed
// bin (node_modules/.bin/partnerops, which npx resolves) spawned as a user would run it.

const run = promisify(execFile)
const BIN = join(process.cwd(), 'node_modules', '.bin', 'partnerops')
/** An environment where the AWS default chain finds nothing and never calls instance metadata. */
const NO_AWS: NodeJS.ProcessEnv = {
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: '/nonexistent/partnerops-test/config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/partnerops-test/credentials',
}

let app: App
const tmp = mkdtempSync(join(tmpdir(), 'partnerops-cli-'))
const saved = { ...process.env }

beforeAll(async () => {
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
    delete process.env[k]
  Object.assign(process.env, NO_AWS)
  app = await startLocalRunner()
})

afterAll(async () => {
  await app?.close()
  rmSync(tmp, { recursive: true, force: true })
  process.env = saved
})

interface Result {
  code: number
  stdout: string
  stderr: string
}

/** Runs main() with captured output; `tty` makes stderr look like a terminal. */
async function cli(args: string[], opts: { tty?: boolean; endpoint?: string } = {}): Promise<Result> {
  const stdout = new PassThrough()
  const stderr = Object.assign(new PassThrough(), { isTTY: opts.tty ?? false })
  let out = ''
  let err = ''
  stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  stderr.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const code = await main(
    args,
    {
      stdout,
      stderr,
      env: { PARTNEROPS_ENDPOINT: opts.endpoint ?? app.url },
    },
    { client: { retry: { baseDelayMs: 1, maxDelayMs: 5 } } },
  )
  return { code, stdout: out, stderr: err }
}

describe('partnerops against the local runner', () => {
  it('status: a table by default, the API document with --json', async () => {
    const human = await cli(['status'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^LIFECYCLE\s+CHANNELS$/m)
    expect(human.stdout).toMatch(/^live\s+\d+$/m)
    const json = await cli(['status', '--json'])
    expect(json.code).toBe(0)
    expect(
      openApiProblems('/status', 'GET', {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: json.stdout,
      }),
    ).toEqual([])
  })

  it('channels list: filters, one page with a cursor hint, every page with --all', async () => {
    await liveChannel(app)
    await liveChannel(app)
    const page = await cli([
      'channels',
      'list',
      '--lifecycle',
      'live',
      '--client-id',
      SEED_CLIENT,
      '--limit',
      '1',
      '--json',
    ])
    expect(page.code).toBe(0)
    const body = JSON.parse(page.stdout) as {
      items: { lifecycle: string; clientId: string }[]
      nextCursor: string
    }
    expect(body.items).toHaveLength(1)
    expect(body.items[0]).toMatchObject({ lifecycle: 'live', clientId: SEED_CLIENT })
    expect(body.nextCursor).toEqual(expect.any(String))

    const next = await cli([
      'channels',
      'list',
      '--lifecycle',
      'live',
      '--client-id',
      SEED_CLIENT,
      '--limit',
      '1',
      '--cursor',
      body.nextCursor,
    ])
    expect(next.code).toBe(0)
    expect(next.stdout).toMatch(/^CHANNEL\s+CLIENT\s+PHONE/)

    const all = await cli(['channels', 'list', '--all', '--limit', '2', '--json'])
    const lines = all.stdout.trim().split('\n')
    const total = ((await app.deps.store.channels.list({ limit: 100 })) as { items: unknown[] }).items.length
    expect(lines).toHaveLength(total)
    expect(lines.every((l) => (JSON.parse(l) as { channelId?: string }).channelId)).toBe(true)

    const human = await cli(['channels', 'list', '--limit', '1'])
    expect(human.stderr).toMatch(/^more: --cursor \S+ \(or --all\)$/m)
  })

  it('never prints channels that do not match a filter, even from an API that ignores it', async () => {
    const res = await cli(['channels', 'list', '--quality', 'RED', '--json'])
    if (res.code === 0) {
      for (const c of (JSON.parse(res.stdout) as { items: { qualityRating?: string }[] }).items) {
        expect(c.qualityRating).toBe('RED')
      }
    } else {
      expect(res.code).toBe(EXIT.api)
      expect(JSON.parse(res.stderr)).toMatchObject({ error: { code: 'filter_not_applied' } })
    }
  })

  it('clients list and get', async () => {
    const list = await cli(['clients', 'list'])
    expect(list.code).toBe(0)
    expect(list.stdout).toContain(SEED_CLIENT)
    const get = await cli(['clients', 'get', SEED_CLIENT])
    expect(get.code).toBe(0)
    expect(get.stdout).toMatch(new RegExp(`^clientId\\s+${SEED_CLIENT}$`, 'm'))
    expect(get.stdout).toMatch(/^channels: \d+$/m)
  })

  it('channels get, and exit 1 with the API code for an unknown channel', async () => {
    const id = await liveChannel(app)
    const ok = await cli(['channels', 'get', id, '--json'])
    expect(JSON.parse(ok.stdout)).toMatchObject({ channelId: id })
    const missing = await cli(['channels', 'get', 'nope'])
    expect(missing.code).toBe(EXIT.api)
    expect(missing.stderr).toMatch(/\(channel_not_found, HTTP 404\)/)
    const missingJson = await cli(['channels', 'get', 'nope', '--json'])
    expect(JSON.parse(missingJson.stderr)).toMatchObject({
      error: { code: 'channel_not_found', status: 404 },
    })
  })

  it('cancel and revoke', async () => {
    const id = await liveChannel(app)
    const cancel = await cli([
      'cancel',
      SEED_CLIENT,
      id,
      '--reason',
      'churned',
      '--idempotency-key',
      'cli-k1',
      '--json',
    ])
    expect(cancel.code).toBe(0)
    expect(JSON.parse(cancel.stdout)).toMatchObject({
      channelId: id,
      reason: 'churned',
      idempotencyKey: 'cli-k1',
    })
    const again = await cli(['cancel', SEED_CLIENT, id])
    expect(again.code).toBe(EXIT.api)
    expect(again.stderr).toContain('already_cancelled')
    await app.poll()
    const revoke = await cli(['revoke', SEED_CLIENT, id])
    expect(revoke.code).toBe(0)
    expect(revoke.stdout).toMatch(/^state\s+revoked$/m)
  })

  it('export --out writes the file without progress when stderr is not a terminal', async () => {
    const file = join(tmp, 'channels.csv')
    const res = await cli(['export', '--out', file])
    expect(res.code).toBe(0)
    const csv = readFileSync(file, 'utf8')
    expect(csv).toMatch(/^client_id,company_name,/)
    expect(existsSync(`${file}.partial`)).toBe(false)
    expect(res.stderr).not.toContain('\r')
    expect(res.stderr).toMatch(/^wrote .*channels\.csv: \d+ rows/m)
  })

  it('export shows progress on a terminal and streams to stdout', async () => {
    const res = await cli(['export'], { tty: true })
    expect(res.code).toBe(0)
    expect(res.stdout).toMatch(/^client_id,company_name,/)
    expect(res.stderr).toMatch(/\rexport: \d+ rows, [\d.]+ (B|KiB)\n$/)
  })

  it('onboarding-link', async () => {
    const res = await cli([
      'onboarding-link',
      '--payload',
      'cust-7',
      '--redirect-url',
      'http://localhost:9000/back',
      '--json',
    ])
    expect(res.code).toBe(0)
    expect(new URL((JSON.parse(res.stdout) as { url: string }).url).searchParams.get('partner')).toBe(
      'cust-7',
    )
    expect((await cli(['onboarding-link'])).code).toBe(EXIT.usage)
  })

  it('answers --help on every command, exit 0', async () => {
    const commands = [
      [],
      ['status'],
      ['clients'],
      ['clients', 'list'],
      ['clients', 'get'],
      ['channels'],
      ['channels', 'list'],
      ['channels', 'get'],
      ['cancel'],
      ['revoke'],
      ['export'],
      ['onboarding-link'],
      ['partner'],
      ['balance'],
    ]
    for (const c of commands) {
      const res = await cli([...c, '--help'])
      expect(res.code, c.join(' ')).toBe(0)
      expect(res.stdout).toMatch(/^Usage: partnerops/)
    }
    expect((await cli(['channels', 'list', '--help'])).stdout).toContain('--messaging-limit')
    expect((await cli(['--help'])).stdout).toContain('Exit codes:')
  })

  it('exits 2 on usage errors and 3 when the API cannot be reached', async () => {
    expect((await cli(['nope'])).code).toBe(EXIT.usage)
    expect((await cli(['channels', 'list', '--colour'])).code).toBe(EXIT.usage)
    expect((await cli(['channels', 'get'])).code).toBe(EXIT.usage)
    expect((await cli(['channels', 'get', 'a', 'b'])).code).toBe(EXIT.usage)
    expect((await cli(['channels', 'list', '--limit', '500'])).code).toBe(EXIT.usage)
    expect((await cli(['status', '--endpoint', 'not a url'])).code).toBe(EXIT.usage)
    // A deployed endpoint with no AWS credentials anywhere: a configuration error, nothing sent.
    const noCreds = await cli(['status'], {
      endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/v1/',
    })
    expect(noCreds.code).toBe(EXIT.config)
    expect(noCreds.stderr).toMatch(/^partnerops: .*credentials/im)
    const closed = await loopback(() => undefined)
    await closed.close()
    const down = await cli(['status'], { endpoint: closed.url })
    expect(down.code).toBe(EXIT.network)
    expect(down.stderr).toMatch(/could not reach the API: GET \/status: ECONNREFUSED/)
  })
})

describe('partner and balance against the local runner', () => {
  it("partner: both URLs checked against the runner's own, a table by default and the API document with --json", async () => {
    const human = await cli(['partner'])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/^partner\s+demoPA$/m)
    expect(human.stdout).toMatch(
      new RegExp(
        `^webhookUrl\\s+yes\\s+${app.url}/webhooks/360dialog\\s+${app.url}/webhooks/360dialog$`,
        'm',
      ),
    )
    expect(human.stdout).toMatch(/^redirectUrl\s+yes\s+/m)
    const status = await cli(['status'])
    expect(status.stdout).toMatch(/^partner settings\s+ok \(checked \d{4}-/m)
    expect(status.stdout).toMatch(/^warnings\s+none$/m)
    const json = await cli(['partner', '--json'])
    expect(json.code).toBe(0)
    expect(
      openApiProblems('/partner', 'GET', {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: json.stdout,
      }),
    ).toEqual([])
  })

  it("balance: the client's balance, cached, through the library and the command", async () => {
    const client = new PartnerOpsClient({ endpoint: app.url })
    const first = await client.balance(SEED_CLIENT)
    expect(first).toMatchObject({ clientId: SEED_CLIENT, currency: 'USD' })
    const human = await cli(['balance', SEED_CLIENT])
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(new RegExp(`^balance\\s+${first.balance} USD$`, 'm'))
    expect(human.stdout).toMatch(/^last renewal\s+50 USD on \d{4}-\d\d-\d\dT/m)
    const json = await cli(['balance', SEED_CLIENT, '--json'])
    expect(JSON.parse(json.stdout)).toEqual(first)
    expect(
      openApiProblems('/clients/{clientId}/balance', 'GET', {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: json.stdout,
      }),
    ).toEqual([])
    const upstream = app
      .simulator!.requests()
      .filter((r) => r.path.endsWith(`/clients/${SEED_CLIENT}/info/balance`))
    expect(upstream).toHaveLength(1)
  })

  it('balance of an unknown client: exit 1 with the API code, NotFoundError in the library', async () => {
    const unknown = await cli(['balance', 'Nope00CL'])
    expect(unknown.code).toBe(EXIT.api)
    expect(unknown.stderr).toMatch(/\(client_not_found, HTTP 404\)/)
    await expect(new PartnerOpsClient({ endpoint: app.url }).balance('Nope00CL')).rejects.toBeInstanceOf(
      NotFoundError,
    )
  })
})

describe('--stack', () => {
  it('reads ApiUrl from the stateless stack, given the stack or its prefix', async () => {
    const cfn = mockClient(CloudFormationClient)
    cfn.on(DescribeStacksCommand).callsFake((input: { StackName?: string }) => {
      if (input.StackName !== 'PartnerOps-Stateless') {
        throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), {
          name: 'ValidationError',
        })
      }
      return {
        Stacks: [
          {
            StackName: 'PartnerOps-Stateless',
            CreationTime: new Date(),
            StackStatus: 'CREATE_COMPLETE',
            Outputs: [
              { OutputKey: 'ApiUrl', OutputValue: 'https://abc.execute-api.eu-west-1.amazonaws.com/v1/' },
            ],
          },
        ],
      }
    })
    const client = new CloudFormationClient({ region: 'eu-west-1' })
    expect(await endpointFromStack('PartnerOps', client)).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com/v1/',
    )
    expect(await endpointFromStack('PartnerOps-Stateless', client)).toBe(
      'https://abc.execute-api.eu-west-1.amazonaws.com/v1/',
    )
    await expect(endpointFromStack('Other-Stateless', client)).rejects.toThrow(/no ApiUrl output/)
    cfn.restore()
  })
})

describe('the installed command', () => {
  const env = { ...process.env, ...NO_AWS, PATH: process.env.PATH ?? '' }

  it('npx --no-install partnerops resolves to node_modules/.bin/partnerops', async () => {
    const { stdout } = await run('npx', ['--no-install', 'partnerops', '--help'], { env, timeout: 60_000 })
    expect(stdout).toMatch(/^Usage: partnerops <command>/)
  })

  it('runs against the local runner with the local pair when no AWS credentials are configured', async () => {
    const { stdout } = await run(BIN, ['channels', 'list', '--limit', '2', '--json'], {
      env: { ...env, PARTNEROPS_ENDPOINT: app.url },
      timeout: 60_000,
    })
    expect((JSON.parse(stdout) as { items: unknown[] }).items).toHaveLength(2)
  })

  it('signs with credentials from the environment (the AWS default chain)', async () => {
    const wrong = await run(BIN, ['status'], {
      env: {
        ...env,
        PARTNEROPS_ENDPOINT: app.url,
        AWS_ACCESS_KEY_ID: 'AKIDSOMEONEELSE',
        AWS_SECRET_ACCESS_KEY: 'x',
      },
      timeout: 60_000,
    }).catch((e: { code: number; stderr: string }) => e)
    expect(wrong).toMatchObject({ code: EXIT.api })
    expect((wrong as { stderr: string }).stderr).toMatch(/\(unauthorized, HTTP 401\)/)
  })
})

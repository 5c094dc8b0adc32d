import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { signedFetch } from '../../support/signed-fetch'

interface Run {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

function start(env: Record<string, string>): Run {
  // As `npm start` runs it: node --import tsx, so signals reach the process itself (the tsx CLI
  // relays them through a 30 ms IPC handshake that misses under load and ends in exit 143).
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)))
  return { child, output: () => out, exited }
}

async function waitFor(run: Run, pattern: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    const m = run.output().match(pattern)
    if (m) return m
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${pattern}; output so far:\n${run.output()}`)
}

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('npm start (local/main.ts)', () => {
  it('serves the local API and the simulator, then shuts down cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partnerops-start-'))
    dirs.push(dataDir)
    const run = start({ PORT: '0', SIMULATOR_PORT: '0', DATA_DIR: dataDir, SIMULATOR_AUTO_ADVANCE_MS: '0' })
    try {
      const api = (await waitFor(run, /API\s+(http:\/\/127\.0\.0\.1:\d+)/))[1]!
      const sim = (await waitFor(run, /Partner API \(sim\)\s+(http:\/\/127\.0\.0\.1:\d+\/api\/v2)/))[1]!
      expect(run.output()).toContain('AKIDLOCALPARTNEROPS')
      expect(run.output()).toMatch(/curl .*--aws-sigv4/)

      const unsigned = await fetch(`${api}/channels`)
      expect(unsigned.status).toBe(401)
      expect(await unsigned.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } })

      const creds = {
        accessKeyId: 'AKIDLOCALPARTNEROPS',
        secretAccessKey: 'local-secret-access-key',
        region: 'us-east-1',
        service: 'execute-api',
      }
      const signed = await signedFetch({ url: api, credentials: creds }, '/channels?limit=5')
      expect(signed.status).toBe(200)

      const partner = await fetch(`${sim}/partners/demoPA`, {
        headers: { 'x-api-key': 'local-partner-api-key' },
      })
      expect(partner.status).toBe(200)
      expect(((await partner.json()) as { webhook_url: string }).webhook_url).toBe(
        `${api}/webhooks/360dialog`,
      )

      const unknown = await fetch(`${api}/nope`)
      expect(unknown.status).toBe(404)
    } finally {
      run.child.kill('SIGTERM')
    }
    expect(await run.exited).toBe(0)
    expect(run.output()).toContain('stopped')
    expect(run.output()).not.toMatch(/\n\s+at /)
  })

  it('prints one line and exits 1 when the port is taken', async () => {
    const blocker = createServer()
    await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok))
    const port = (blocker.address() as { port: number }).port
    const dataDir = mkdtempSync(join(tmpdir(), 'partnerops-start-'))
    dirs.push(dataDir)
    try {
      const run = start({ PORT: String(port), SIMULATOR_PORT: '0', DATA_DIR: dataDir })
      expect(await run.exited).toBe(1)
      expect(run.output().trim()).toMatch(new RegExp(`^partnerops: port ${port} is already in use`))
      expect(
        run
          .output()
          .trim()
          .split('\n')
          .filter((l) => !l.includes('npm warn')),
      ).toHaveLength(1)
    } finally {
      blocker.close()
    }
  })

  it('prints one line and exits 1 when DATA_DIR is not writable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'partnerops-start-'))
    dirs.push(dir)
    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    const run = start({ PORT: '0', SIMULATOR_PORT: '0', DATA_DIR: join(file, 'sub') })
    expect(await run.exited).toBe(1)
    const lines = run.output().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^partnerops: .*not writable/)
  })

  it('refuses an invalid environment with one line naming the variable', async () => {
    const run = start({ PORT: 'eighty' })
    expect(await run.exited).toBe(1)
    expect(run.output().trim()).toMatch(/^partnerops: invalid environment: PORT/)
  })
})

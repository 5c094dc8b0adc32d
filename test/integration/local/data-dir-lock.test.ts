import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LOCK_FILE } from '../../../local/lock'

// node --import tsx: the process itself receives signals (the tsx CLI relays them through a
// 30 ms IPC handshake that misses under load and ends in exit 143).
const run = (
  script: string,
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } => {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
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
  return { child, output: () => out, exited: new Promise((ok) => child.on('exit', (code) => ok(code))) }
}

async function waitFor(output: () => string, pattern: RegExp, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (pattern.test(output())) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${pattern}; output so far:\n${output()}`)
}

const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('one process per DATA_DIR', () => {
  it('refuses a second npm start, replays through the running one, then on its own once it stopped', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'partnerops-lock-'))
    dirs.push(dataDir)
    const env = { PORT: '0', SIMULATOR_PORT: '0', DATA_DIR: dataDir, SIMULATOR_AUTO_ADVANCE_MS: '0' }
    const first = run('local/main.ts', [], env)
    try {
      await waitFor(first.output, /Ctrl\+C stops everything/)
      const pid = first.child.pid

      const second = run('local/main.ts', [], env)
      expect(await second.exited).toBe(1)
      const lines = second.output().trim().split('\n')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(
        new RegExp(`^partnerops: DATA_DIR ${dataDir} is in use by pid ${pid} \\(npm start, since [^)]+\\)`),
      )

      const replay = run('local/replay.ts', ['--since', '2000-01-01T00:00:00Z'], { DATA_DIR: dataDir })
      expect(await replay.exited).toBe(0)
      expect(replay.output()).toContain(`(local, through the running instance pid ${pid})`)
      expect(replay.output()).toMatch(/^\{"target":"local"/m)
      expect(replay.output()).not.toMatch(/\n\s+at /)
    } finally {
      first.child.kill('SIGTERM')
    }
    expect(await first.exited).toBe(0)
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false)

    const alone = run('local/replay.ts', ['--since', '2000-01-01T00:00:00Z'], { DATA_DIR: dataDir })
    expect(await alone.exited).toBe(0)
    expect(alone.output()).toMatch(/replayed \d+ events since 2000-01-01T00:00:00Z \(local\)/)
    expect(existsSync(join(dataDir, LOCK_FILE))).toBe(false)
  })
})

import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { acquireDataDirLock, DataDirLockedError, LOCK_FILE, readLock } from '../../../local/lock'

const dirs: string[] = []
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'partnerops-lock-'))
  dirs.push(d)
  return d
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** The pid of a process that has exited (so is certainly not alive). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  })
  return Number(r.stdout)
}

describe('DATA_DIR lock', () => {
  it('is taken once: a second holder is refused with a message naming the first', () => {
    const d = dir()
    const first = acquireDataDirLock(d, 'npm start')
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE), 'utf8'))).toMatchObject({
      pid: process.pid,
      command: 'npm start',
    })
    // Another live process (our parent stands in for it) asking for the same directory.
    let refused: unknown
    try {
      acquireDataDirLock(d, 'npm run replay', process.ppid)
    } catch (err) {
      refused = err
    }
    expect(refused).toBeInstanceOf(DataDirLockedError)
    expect((refused as Error).message).toBe(
      `DATA_DIR ${d} is in use by pid ${process.pid} (npm start, since ${first.info.startedAt}); stop it or set DATA_DIR to another directory`,
    )
    first.release()
    expect(existsSync(join(d, LOCK_FILE))).toBe(false)
    const second = acquireDataDirLock(d, 'npm run replay', process.ppid)
    expect(readLock(d)?.pid).toBe(process.ppid)
    second.release()
  })

  it('takes over a stale lock whose process is gone', () => {
    const d = dir()
    const pid = deadPid()
    writeFileSync(join(d, LOCK_FILE), JSON.stringify({ pid, command: 'npm start', startedAt: 'then' }))
    expect(readLock(d)).toBeNull()
    const lock = acquireDataDirLock(d, 'npm start')
    expect(readLock(d)?.pid).toBe(process.pid)
    lock.release()
  })

  it('takes over an unreadable lock file (a holder that died while writing it)', () => {
    const d = dir()
    writeFileSync(join(d, LOCK_FILE), '{"pid":')
    const lock = acquireDataDirLock(d, 'npm start')
    expect(readLock(d)?.command).toBe('npm start')
    lock.release()
  })

  it('publishes a control endpoint with a random token, readable by the next process', () => {
    const d = dir()
    const lock = acquireDataDirLock(d, 'npm start')
    const token = lock.publishControl('http://127.0.0.1:1234')
    expect(token).toMatch(/^[\w-]{32}$/)
    expect(readLock(d)?.control).toEqual({ url: 'http://127.0.0.1:1234', token })
    expect(lock.publishControl('http://127.0.0.1:1234')).not.toBe(token)
    lock.release()
  })

  it('never removes a lock another process holds now', () => {
    const d = dir()
    const lock = acquireDataDirLock(d, 'npm start')
    // Someone else took the directory over meanwhile (e.g. after judging ours stale).
    writeFileSync(
      join(d, LOCK_FILE),
      JSON.stringify({ pid: process.ppid, command: 'other', startedAt: 'now' }),
    )
    lock.release()
    expect(readLock(d)?.command).toBe('other')
  })
})

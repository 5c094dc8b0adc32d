import { randomBytes } from 'node:crypto'
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * One process per DATA_DIR. The embedded DynamoDB's files are single-process: a second `npm start`
 * or `npm run replay` on the same directory used to die with a dynalite stack trace. The first
 * process creates DATA_DIR/partnerops.lock exclusively (O_EXCL, so two starting at once cannot both
 * win) with its pid and command; a second one reads it and stops with one line naming the holder. A
 * lock whose pid is no longer alive (a crash, kill -9) is stale and taken over.
 *
 * The holder may also publish a control endpoint in the lock (the local server's control route and a
 * random token), so that a tool such as replay can ask the running instance to do the work instead of
 * opening its files.
 */

export const LOCK_FILE = 'partnerops.lock'

/** What the lock file holds. */
export interface LockInfo {
  pid: number
  command: string
  startedAt: string
  /** Set by a holder that accepts control requests (npm start). */
  control?: { url: string; token: string }
}

/** Thrown when another live process holds the directory; the message is the one line to print. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by pid ${holder.pid} (${holder.command}, since ${holder.startedAt}); stop it or set DATA_DIR to another directory`,
    )
    this.name = 'DataDirLockedError'
  }
}

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err: unknown) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The current holder of a directory's lock, or null when none (or only a stale lock) exists. */
export function readLock(dataDir: string): LockInfo | null {
  let info: LockInfo
  try {
    info = JSON.parse(readFileSync(join(dataDir, LOCK_FILE), 'utf8')) as LockInfo
  } catch {
    return null
  }
  return isAlive(info.pid) ? info : null
}

/** A held lock. */
export interface DataDirLock {
  readonly path: string
  readonly info: LockInfo
  /** Publishes a control endpoint in the lock file; returns the token callers must send. */
  publishControl(url: string): string
  /** Removes the lock file if it is still ours. Safe to call more than once. */
  release(): void
}

/**
 * Takes the lock of a directory (created when missing) for this process, or throws
 * DataDirLockedError naming the live holder. Released on process exit as well.
 */
export function acquireDataDirLock(dataDir: string, command: string, pid = process.pid): DataDirLock {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, LOCK_FILE)
  let info: LockInfo = { pid, command, startedAt: new Date().toISOString() }
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600)
      try {
        writeFileSync(fd, `${JSON.stringify(info)}\n`)
      } finally {
        closeSync(fd)
      }
      break
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let holder: LockInfo | null = null
      try {
        holder = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
      } catch {
        // Unreadable or half-written: a holder that died while writing it, or one writing right now.
        // Treated as stale only on the second look.
        if (attempt === 0) continue
      }
      if (holder && holder.pid !== pid && isAlive(holder.pid)) throw new DataDirLockedError(dataDir, holder)
      if (attempt >= 2) throw new Error(`cannot take the lock ${path}`)
      rmSync(path, { force: true })
    }
  }
  let released = false
  const release = (): void => {
    if (released) return
    released = true
    process.off('exit', release)
    try {
      const current = JSON.parse(readFileSync(path, 'utf8')) as LockInfo
      if (current.pid === pid) rmSync(path, { force: true })
    } catch {
      // Already gone.
    }
  }
  process.on('exit', release)
  return {
    path,
    get info() {
      return info
    },
    publishControl(url: string): string {
      const token = randomBytes(24).toString('base64url')
      info = { ...info, control: { url, token } }
      writeFileSync(path, `${JSON.stringify(info)}\n`, { mode: 0o600 })
      return token
    },
    release,
  }
}

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'

/** USER_HZ of Linux, the unit of /proc/<pid>/stat times (100 on every common configuration). */
const CLOCK_TICKS_PER_SECOND = 100

/**
 * dynalite in a child process, for benchmarks: DynamoDB is a remote service in AWS, so its CPU should
 * not be charged to the request path's event loop. Every variant of a benchmark uses the same one.
 */
export async function startDynamoProcess(): Promise<{
  endpoint: string
  /** CPU (user + system) the process has used so far, in ms (Linux /proc; 10 ms resolution). */
  cpuMs(): number
  close(): Promise<void>
}> {
  // emulateConditionFailureItem of local/dynalite.ts (this child runs plain JavaScript): a refused
  // conditional write answers the stored item when asked, as DynamoDB does.
  const script = `
    const db = require('dynalite/db')
    for (const a of ['putItem', 'updateItem', 'deleteItem']) {
      require('dynalite/validations/' + a).types.ReturnValuesOnConditionCheckFailure = { type: 'String', enum: ['ALL_OLD', 'NONE'] }
    }
    const check = db.checkConditional
    db.checkConditional = (data, existing) => {
      const err = check(data, existing)
      if (err && err.body && existing && data.ReturnValuesOnConditionCheckFailure === 'ALL_OLD') err.body.Item = existing
      return err
    }
    const server = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
    server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'))
  `
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((ok, fail) => {
    let out = ''
    child.once('exit', (code) => fail(new Error(`dynalite process exited (${code})`)))
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /port (\d+)/.exec(out)
      if (m) ok(Number(m[1]))
    })
  })
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cpuMs: () => {
      // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name): utime and stime in ticks.
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
    },
    close: () =>
      new Promise<void>((ok) => {
        child.removeAllListeners('exit')
        child.once('exit', () => ok())
        child.kill('SIGTERM')
      }),
  }
}

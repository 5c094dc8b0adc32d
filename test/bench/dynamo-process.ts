import { spawn } from 'node:child_process'

/**
 * dynalite in a child process, for benchmarks: DynamoDB is a remote service in AWS, so its CPU should
 * not be charged to the request path's event loop. Every variant of a benchmark uses the same one.
 */
export async function startDynamoProcess(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const script = `
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
    close: () =>
      new Promise<void>((ok) => {
        child.removeAllListeners('exit')
        child.once('exit', () => ok())
        child.kill('SIGTERM')
      }),
  }
}

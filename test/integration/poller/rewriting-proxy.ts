import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Rewrites a JSON body the Partner API answered (return it unchanged to pass it through). */
export type Rewrite = (path: string, query: URLSearchParams, body: unknown) => unknown

/**
 * A loopback proxy in front of the simulator that can rewrite its JSON answers: how the tests serve
 * a hand-made bad list page (a misspelled items key, a broken item, a wrong total) to the real
 * Partner API client, while the simulator keeps the state. Point the app's PARTNER_API_BASE_URL at
 * `baseUrl` and set `target` to the simulator's URL once it runs.
 */
export interface RewritingProxy {
  /** `${url}/api/v2` */
  baseUrl: string
  target: string | null
  rewrite: Rewrite | null
  close(): Promise<void>
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export async function startRewritingProxy(): Promise<RewritingProxy> {
  const proxy: RewritingProxy = { baseUrl: '', target: null, rewrite: null, close: async () => undefined }
  const server: Server = createServer((req, res) => {
    const run = async (): Promise<void> => {
      if (!proxy.target) throw new Error('proxy target not set')
      const url = new URL(req.url ?? '/', proxy.target)
      const headers = new Headers()
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers.set(k, v)
      }
      const body = await readAll(req)
      const upstream = await fetch(url, {
        method: req.method ?? 'GET',
        headers,
        ...(body.length > 0 ? { body } : {}),
      })
      let text = await upstream.text()
      const json = (upstream.headers.get('content-type') ?? '').includes('json')
      if (proxy.rewrite && json && upstream.status === 200) {
        text = JSON.stringify(proxy.rewrite(url.pathname, url.searchParams, JSON.parse(text)))
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' })
      res.end(text)
    }
    run().catch((err: unknown) => {
      res.writeHead(599, { 'content-type': 'text/plain' })
      res.end(err instanceof Error ? err.message : 'proxy failure')
    })
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  proxy.baseUrl = `http://127.0.0.1:${port}/api/v2`
  proxy.close = () =>
    new Promise<void>((ok) => {
      server.closeAllConnections()
      server.close(() => ok())
    })
  return proxy
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { expect } from 'vitest'
import { type App, LOCAL_DEFAULTS, startApp } from '../../local/app'
import { verifySigV4 } from '../../local/sigv4'
import { matchRoute } from '../../shared/http/routes'
import { openApiProblems } from '../../test/integration/api/openapi'

/** The local runner with the simulator's seed reconciled into the store, on ephemeral ports. */
export async function startLocalRunner(): Promise<App> {
  const app = await startApp({
    port: 0,
    dataDir: null,
    pollIntervalSeconds: null,
    simulator: { port: 0, deliverWebhooks: false, autoAdvanceMs: 0 },
  })
  await app.poll()
  return app
}

/** The seed's first client (local/simulator/seed.ts). */
export const SEED_CLIENT = 'Kd82nQ1zCL'

/** A live channel the simulator and the store both know (as after a reconciliation run). */
export async function liveChannel(app: App, clientId = SEED_CLIENT): Promise<string> {
  const up = app.simulator!.addChannel({ client_id: clientId, account_mode: 'live', status: 'live' })
  await app.poll()
  return up.id
}

/**
 * A fetch that records every answer of a documented route and checks it against
 * docs/openapi.yaml (status documented, content type, body schema). Call `check()` at the end.
 */
export function recordingFetch(): { fetch: typeof fetch; check: () => void; count: () => number } {
  const problems: string[] = []
  let checked = 0
  const wrapped: typeof fetch = async (input, init) => {
    const res = await fetch(input, init)
    const url = new URL(String(input))
    const method = init?.method ?? 'GET'
    const match = matchRoute(method, url.pathname)
    if (match && 'route' in match && !res.headers.get('content-type')?.startsWith('text/csv')) {
      const body = await res.clone().text()
      checked++
      for (const p of openApiProblems(match.route.path, method, {
        status: res.status,
        headers: res.headers,
        body,
      })) {
        problems.push(`${method} ${url.pathname} ${res.status}: ${p}`)
      }
    }
    return res
  }
  return {
    fetch: wrapped,
    check: () => expect(problems).toEqual([]),
    count: () => checked,
  }
}

export interface Seen {
  method: string
  path: string
  rawQuery: string
  headers: Record<string, string>
  body: string
  signature: 'valid' | string
}

/**
 * A loopback HTTP server that verifies SigV4 against the local pair (as the local runner does) and
 * answers with `respond`, which gets the attempt number per path; `seen` records every request.
 */
export async function loopback(
  respond: (req: Seen, attempt: number, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>,
): Promise<{ url: string; seen: Seen[]; close: () => Promise<void>; server: Server }> {
  const seen: Seen[] = []
  const attempts = new Map<string, number>()
  const server = createServer(async (raw, res) => {
    const chunks: Buffer[] = []
    for await (const c of raw) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    const url = new URL(raw.url ?? '/', 'http://127.0.0.1')
    const headers: Record<string, string> = {}
    for (let i = 0; i < raw.rawHeaders.length; i += 2)
      headers[raw.rawHeaders[i]!.toLowerCase()] = raw.rawHeaders[i + 1]!
    const query: Record<string, string[]> = {}
    for (const [k, v] of url.searchParams) query[k] = [...(query[k] ?? []), v]
    const verdict = await verifySigV4(
      { method: raw.method ?? 'GET', path: url.pathname, query, headers, body },
      {
        credentials: [
          {
            accessKeyId: LOCAL_DEFAULTS.accessKeyId,
            secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
            principalArn: 'arn:test',
          },
        ],
        region: LOCAL_DEFAULTS.region,
        service: LOCAL_DEFAULTS.service,
        now: new Date(),
      },
    )
    const req: Seen = {
      method: raw.method ?? 'GET',
      path: url.pathname,
      rawQuery: url.search.replace(/^\?/, ''),
      headers,
      body: body.toString('utf8'),
      signature: verdict.ok ? 'valid' : verdict.reason,
    }
    seen.push(req)
    const n = (attempts.get(req.path) ?? 0) + 1
    attempts.set(req.path, n)
    await respond(req, n, res, raw)
  })
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      }),
  }
}

/** Sends a JSON answer. */
export function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

import { timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { AppDeps } from '../shared/deps'
import { PartnerOpsError } from '../shared/domain/errors'
import { statusOf } from '../shared/http/answers'
import { type ReplaySummary, replayWebhooks } from '../shared/services/webhooks/replay-webhooks'

/**
 * The local-only control endpoint of a running `npm start`: tools that need the instance's data ask
 * it here instead of opening the embedded DynamoDB's files, which a second process cannot share. It
 * listens on 127.0.0.1 only, on a port of its own (never on the API that mirrors API Gateway, which
 * has no such route), and answers only requests carrying the random token the instance wrote into
 * DATA_DIR's lock file, so only someone who can read DATA_DIR can use it.
 *
 * `POST /replay` `{"since": ISO time, "limit"?: n}` → the replay summary (shared/services/webhooks).
 */

export const CONTROL_TOKEN_HEADER = 'x-partnerops-control-token'

export interface ControlServer {
  url: string
  /** The token requests must carry (set once the lock file holds it). */
  setToken(token: string): void
  close(): Promise<void>
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

const error = (res: ServerResponse, status: number, code: string, message: string): void =>
  json(res, status, { error: { code, message } })

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > 16 * 1024) throw new Error('body too large')
    chunks.push(chunk as Buffer)
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}')
}

function tokenMatches(expected: string | null, given: string | string[] | undefined): boolean {
  if (!expected || typeof given !== 'string') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** Starts the control endpoint on an ephemeral loopback port. */
export async function startControlServer(
  deps: Pick<AppDeps, 'store' | 'events' | 'clock' | 'logger'>,
): Promise<ControlServer> {
  let token: string | null = null
  const server = createServer((req, res) => {
    void (async () => {
      if (!tokenMatches(token, req.headers[CONTROL_TOKEN_HEADER])) {
        return error(res, 401, 'unauthorized', `missing or wrong ${CONTROL_TOKEN_HEADER}`)
      }
      if (req.method !== 'POST' || req.url !== '/replay')
        return error(res, 404, 'not_found', 'no such control')
      let body: { since?: unknown; limit?: unknown }
      try {
        body = (await readJson(req)) as typeof body
      } catch {
        return error(res, 400, 'invalid_body', 'expected a JSON object')
      }
      if (typeof body.since !== 'string')
        return error(res, 400, 'invalid_since', 'since must be an ISO date-time')
      const limit = body.limit
      if (limit !== undefined && (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1)) {
        return error(res, 400, 'invalid_limit', 'limit must be a positive integer')
      }
      try {
        const summary: ReplaySummary = await replayWebhooks(deps, {
          since: body.since,
          ...(typeof limit === 'number' ? { limit } : {}),
        })
        json(res, 200, summary)
      } catch (err: unknown) {
        if (err instanceof PartnerOpsError && statusOf(err.code) < 500)
          return error(res, statusOf(err.code), err.code, err.message)
        error(
          res,
          500,
          'replay_failed',
          err instanceof Error ? (err.message.split('\n')[0] ?? 'failed') : 'failed',
        )
      }
    })()
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => ok())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    setToken(t) {
      token = t
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections()
        server.close(() => ok())
      }),
  }
}

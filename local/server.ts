import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda'
import { errorResponse } from '../shared/http/responses'
import { type HttpFunctionName, isKeyRoute, matchRoute } from '../shared/http/routes'
import { type HttpHandler, localLambdaContext } from './handlers'
import { apiGatewayResponseStream, isStreamingHandler, type StreamingHandler } from './lambda-streaming'
import { type LocalCredential, verifySigV4 } from './sigv4'

/** API Gateway REST API's integration timeout: the longest a buffered handler can run behind it. */
const API_GATEWAY_TIMEOUT_MS = 29_000

/** Retry-After of the 503 answered while the functions are still being built. */
const STARTING_RETRY_AFTER_SECONDS = 1

/** API Gateway REST API's own payload limit; the webhook function enforces its smaller one itself. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024

export interface LocalServerOptions {
  host: string
  port: number
  /**
   * The HTTP functions, filled in once built; until then their routes answer 503 `starting`. A
   * streaming handler (`streamifyResponse`) is called with a response stream, as API Gateway's STREAM
   * transfer mode invokes it in AWS.
   */
  handlers: Partial<Record<HttpFunctionName, HttpHandler | StreamingHandler>>
  credentials: LocalCredential[]
  region: string
  service: string
  now: () => Date
  onRequest?: (line: { method: string; path: string; status: number; ms: number }) => void
}

export interface LocalServer {
  url: string
  close(): Promise<void>
}

function send(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | number | boolean | string[]> = { ...(result.headers ?? {}) }
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = v.map(String)
  const body = result.isBase64Encoded
    ? Buffer.from(result.body, 'base64')
    : Buffer.from(result.body ?? '', 'utf8')
  res.writeHead(result.statusCode, { ...headers, 'content-length': body.length })
  res.end(body)
}

async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > GATEWAY_MAX_BODY) return null
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** A body is passed as text when it is valid UTF-8, else base64 (as API Gateway does for binary types). */
function encodeBody(body: Buffer): { body: string | null; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: null, isBase64Encoded: false }
  const text = body.toString('utf8')
  return Buffer.from(text, 'utf8').equals(body)
    ? { body: text, isBase64Encoded: false }
    : { body: body.toString('base64'), isBase64Encoded: true }
}

/** False when the path holds a `%` sequence that is not valid percent-encoded UTF-8 (`%zz`, `%E0%A4`). */
function decodablePath(path: string): boolean {
  try {
    decodeURIComponent(path)
    return true
  } catch {
    return false
  }
}

/**
 * The local stand-in for API Gateway: routes by the shared route table, verifies SigV4 on `iam`
 * routes (401 locally where API Gateway answers 403), builds the same REST API proxy event and calls
 * the same handlers Lambda runs.
 */
export async function startLocalServer(opts: LocalServerOptions): Promise<LocalServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<number> => {
    const url = new URL(req.url ?? '/', 'http://local')
    const method = (req.method ?? 'GET').toUpperCase()
    if (!decodablePath(url.pathname)) {
      send(res, errorResponse(400, 'invalid_path', 'The path has malformed percent-encoding'))
      return 400
    }
    const match = matchRoute(method, url.pathname)
    if (match === null) {
      send(res, errorResponse(404, 'route_not_found', 'No such route'))
      return 404
    }
    if ('methodNotAllowed' in match) {
      send(res, errorResponse(405, 'method_not_allowed', 'Method not allowed on this route'))
      return 405
    }
    const raw = await readBody(req)
    if (raw === null) {
      send(res, errorResponse(413, 'payload_too_large', 'Request body too large'))
      return 413
    }
    const headers: Record<string, string> = {}
    const multiValueHeaders: Record<string, string[]> = {}
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = (req.rawHeaders[i] ?? '').toLowerCase()
      const value = req.rawHeaders[i + 1] ?? ''
      multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value]
      headers[name] = value
    }
    const query: Record<string, string> = {}
    const multiQuery: Record<string, string[]> = {}
    for (const [k, v] of url.searchParams) {
      query[k] = v
      multiQuery[k] = [...(multiQuery[k] ?? []), v]
    }
    let principal: { arn: string; accessKey: string } | null = null
    if (match.route.auth === 'iam') {
      const verdict = await verifySigV4(
        { method, path: url.pathname, query: multiQuery, headers, body: raw },
        { credentials: opts.credentials, region: opts.region, service: opts.service, now: opts.now() },
      )
      if (!verdict.ok) {
        send(res, errorResponse(401, 'unauthorized', 'Missing or invalid AWS SigV4 signature'))
        return 401
      }
      principal = { arn: verdict.principalArn, accessKey: verdict.accessKeyId }
      // Only the key-reader pair may read or rotate channel API keys, as only the key-reader policy
      // allows those routes in AWS (where API Gateway answers 403 before the function runs).
      const credential = opts.credentials.find((c) => c.accessKeyId === verdict.accessKeyId)
      if (isKeyRoute(match.route) && credential?.keyReader !== true) {
        send(
          res,
          errorResponse(
            403,
            'forbidden',
            'This caller may not read or rotate channel API keys (key-reader policy required)',
          ),
        )
        return 403
      }
    }
    const handler = opts.handlers[match.route.fn]
    if (!handler) {
      // The server listens before the functions are built (the simulator needs its URL first).
      send(
        res,
        errorResponse(503, 'starting', 'PartnerOps is starting; retry in a moment', {
          'retry-after': String(STARTING_RETRY_AFTER_SECONDS),
        }),
      )
      return 503
    }
    const now = opts.now()
    const event: APIGatewayProxyEvent = {
      resource: match.route.path,
      path: url.pathname,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: Object.keys(query).length > 0 ? query : null,
      multiValueQueryStringParameters: Object.keys(multiQuery).length > 0 ? multiQuery : null,
      pathParameters: Object.keys(match.pathParameters).length > 0 ? match.pathParameters : null,
      stageVariables: null,
      ...encodeBody(raw),
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        authorizer: null,
        protocol: `HTTP/${req.httpVersion}`,
        httpMethod: method,
        path: `/local${url.pathname}`,
        stage: 'local',
        requestId: randomUUID(),
        requestTimeEpoch: now.getTime(),
        resourceId: 'local',
        resourcePath: match.route.path,
        identity: {
          accessKey: principal?.accessKey ?? null,
          accountId: principal ? '000000000000' : null,
          apiKey: null,
          apiKeyId: null,
          caller: principal?.accessKey ?? null,
          clientCert: null,
          cognitoAuthenticationProvider: null,
          cognitoAuthenticationType: null,
          cognitoIdentityId: null,
          cognitoIdentityPoolId: null,
          principalOrgId: null,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          user: principal?.accessKey ?? null,
          userAgent: headers['user-agent'] ?? null,
          userArn: principal?.arn ?? null,
        },
      },
    }
    if (isStreamingHandler(handler)) {
      // STREAM transfer mode: the integration timeout is the function's own (up to 15 minutes).
      await handler(event, apiGatewayResponseStream(res), localLambdaContext(match.route.fn))
      return res.statusCode
    }
    const result = await handler(event, localLambdaContext(match.route.fn, API_GATEWAY_TIMEOUT_MS))
    send(res, result)
    return result.statusCode
  }

  const server: Server = createServer((req, res) => {
    const started = performance.now()
    handle(req, res)
      .then((status) =>
        opts.onRequest?.({
          method: req.method ?? '',
          path: req.url ?? '',
          status,
          ms: performance.now() - started,
        }),
      )
      .catch(() => {
        // A handler that throws past its own error middleware is a bug; answer like API Gateway would.
        if (!res.headersSent) send(res, errorResponse(502, 'bad_gateway', 'Internal server error'))
        else res.destroy()
      })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(opts.port, opts.host, () => {
      server.off('error', fail)
      ok()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${opts.host}:${port}`,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok())
        server.closeAllConnections()
      }),
  }
}

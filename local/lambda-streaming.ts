import type { ServerResponse } from 'node:http'
import { Writable } from 'node:stream'
import type { APIGatewayProxyEvent, Context } from 'aws-lambda'

/**
 * Lambda response streaming, locally. In Lambda the Node.js runtime provides a global `awslambda`:
 * `streamifyResponse(handler)` marks a handler as streaming (the runtime then calls it with a response
 * stream), and `HttpResponseStream.from(stream, {statusCode, headers})` makes the first bytes of the
 * stream a JSON prelude followed by 8 NUL bytes, which API Gateway (integration in STREAM transfer mode)
 * turns into the HTTP status and headers before passing the rest through as the body.
 *
 * The local runner has no such runtime, so this file stands in for both ends with the same wire format:
 * `installLambdaStreaming()` provides the global the export function's middy chain needs when it is
 * built (middy `streamifyResponse: true`), and `apiGatewayResponseStream()` is what API Gateway does
 * with the bytes. The handler code is the one Lambda runs; only the runtime around it is local.
 * (Mirrors aws-lambda-nodejs-runtime-interface-client's HttpResponseStream; the runtime is not a
 * package a function can depend on, so it is written here.)
 */

/** The symbol and value the Lambda Node.js runtime marks a streaming handler with. */
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming')
const STREAM_RESPONSE = 'response'
/** Content type of a response stream that starts with an HTTP prelude. */
export const HTTP_PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response'
const DELIMITER_LENGTH = 8

/** A streaming handler, as the runtime calls it. */
export type StreamingHandler = (
  event: APIGatewayProxyEvent,
  responseStream: Writable,
  context: Context,
) => Promise<void>

/** True when `handler` was wrapped by `awslambda.streamifyResponse` (Lambda's own test). */
export function isStreamingHandler(handler: unknown): handler is StreamingHandler {
  return (
    typeof handler === 'function' &&
    (handler as unknown as Record<symbol, unknown>)[HANDLER_STREAMING] === STREAM_RESPONSE
  )
}

/** What a local response stream hands on: bytes in order, with backpressure (`done` when taken). */
type Sink = {
  write(chunk: Buffer, done: (err?: Error | null) => void): void
  end(done: (err?: Error | null) => void): void
}

/**
 * The response stream the runtime gives a streaming handler: a Writable with `setContentType` and the
 * first-write hook `HttpResponseStream.from` installs.
 */
export class LocalResponseStream extends Writable {
  contentType = 'application/octet-stream'
  /** Set by HttpResponseStream.from: writes the prelude before the first body byte. */
  _onBeforeFirstWrite: ((write: (chunk: string | Uint8Array) => void) => void) | undefined
  private started = false
  private readonly sink: Sink

  constructor(sink: Sink) {
    super()
    this.sink = sink
  }

  setContentType(contentType: string): void {
    this.contentType = contentType
  }

  private start(): void {
    if (this.started) return
    this.started = true
    const hook = this._onBeforeFirstWrite
    if (!hook) return
    hook((chunk) => {
      this.sink.write(Buffer.from(chunk), () => undefined)
    })
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    this.start()
    this.sink.write(chunk, done)
  }

  override _final(done: (err?: Error | null) => void): void {
    this.start()
    this.sink.end(done)
  }
}

/** `awslambda.HttpResponseStream.from`, as the runtime implements it. */
function httpResponseStreamFrom(stream: Writable, prelude: Record<string, unknown>): Writable {
  const target = stream as LocalResponseStream
  target.setContentType(HTTP_PRELUDE_CONTENT_TYPE)
  const metadata = JSON.stringify(prelude)
  target._onBeforeFirstWrite = (write) => {
    write(metadata)
    write(new Uint8Array(DELIMITER_LENGTH))
  }
  return target
}

/**
 * Provides the `awslambda` global of the Lambda Node.js runtime where it is missing (locally, in tests
 * and benches); call before building a streaming handler. In Lambda the runtime's own members are
 * kept. (Other libraries may create the global first: @aws/lambda-invoke-store adds `InvokeStore`.)
 */
export function installLambdaStreaming(): void {
  const g = globalThis as unknown as { awslambda?: Record<string, unknown> }
  g.awslambda ??= {}
  const runtime = g.awslambda
  if (typeof runtime['streamifyResponse'] !== 'function') {
    runtime['streamifyResponse'] = <T extends object>(handler: T): T => {
      Object.defineProperty(handler, HANDLER_STREAMING, { value: STREAM_RESPONSE })
      return handler
    }
  }
  if (runtime['HttpResponseStream'] === undefined) {
    runtime['HttpResponseStream'] = { from: httpResponseStreamFrom }
  }
}

/** The status line and headers API Gateway sends for a streamed response. */
export interface StreamedHead {
  statusCode: number
  headers: Record<string, string | string[]>
}

/**
 * Splits a streamed Lambda response into head and body as API Gateway does: with the HTTP prelude
 * content type, the JSON before the 8 NUL bytes is the status and headers and the rest is the body;
 * without it, status 200 with the stream's content type. `onHead` is called once, before any body
 * byte; `onBody` may answer asynchronously (backpressure).
 */
export function preludeSink(
  contentType: () => string,
  handlers: {
    onHead(head: StreamedHead): void
    onBody(chunk: Buffer, done: (err?: Error | null) => void): void
    onEnd(done: (err?: Error | null) => void): void
  },
): Sink {
  let pending: Buffer | null = null
  let headSent = false
  const sendHead = (head: StreamedHead): void => {
    headSent = true
    handlers.onHead(head)
  }
  const parseHead = (json: string): StreamedHead => {
    const prelude = JSON.parse(json) as {
      statusCode?: number
      headers?: Record<string, string>
      multiValueHeaders?: Record<string, string[]>
      cookies?: string[]
    }
    const headers: Record<string, string | string[]> = { ...(prelude.headers ?? {}) }
    for (const [k, v] of Object.entries(prelude.multiValueHeaders ?? {})) headers[k] = v
    if (prelude.cookies && prelude.cookies.length > 0) headers['set-cookie'] = prelude.cookies
    return { statusCode: prelude.statusCode ?? 200, headers }
  }
  return {
    write(chunk, done) {
      if (headSent) {
        handlers.onBody(chunk, done)
        return
      }
      if (contentType() !== HTTP_PRELUDE_CONTENT_TYPE) {
        sendHead({ statusCode: 200, headers: { 'content-type': contentType() } })
        handlers.onBody(chunk, done)
        return
      }
      pending = pending ? Buffer.concat([pending, chunk]) : chunk
      const at = pending.indexOf(Buffer.alloc(DELIMITER_LENGTH))
      if (at < 0) {
        done()
        return
      }
      let head: StreamedHead
      try {
        head = parseHead(pending.subarray(0, at).toString('utf8'))
      } catch (err) {
        done(err as Error)
        return
      }
      const rest = pending.subarray(at + DELIMITER_LENGTH)
      pending = null
      sendHead(head)
      if (rest.length > 0) handlers.onBody(rest, done)
      else done()
    },
    end(done) {
      if (!headSent) {
        if (pending !== null) {
          done(new Error('streamed response ended inside its HTTP prelude'))
          return
        }
        sendHead({ statusCode: 200, headers: { 'content-type': contentType() } })
      }
      handlers.onEnd(done)
    },
  }
}

/**
 * The local stand-in for API Gateway's STREAM transfer mode: a response stream whose prelude becomes
 * the status and headers of `res` and whose body is written to `res` as it comes, waiting for the
 * socket to drain (memory stays flat whatever the size). A client that goes away destroys the stream,
 * so the handler stops reading the table.
 */
export function apiGatewayResponseStream(res: ServerResponse): LocalResponseStream {
  let stream: LocalResponseStream | null = null
  const sink = preludeSink(() => stream?.contentType ?? 'application/octet-stream', {
    onHead(head) {
      // API Gateway streams with chunked transfer encoding: no Content-Length.
      res.writeHead(head.statusCode, head.headers)
    },
    onBody(chunk, done) {
      if (res.write(chunk)) done()
      else res.once('drain', () => done())
    },
    onEnd(done) {
      res.end(() => done())
    },
  })
  stream = new LocalResponseStream(sink)
  const local = stream
  res.on('close', () => {
    if (!res.writableFinished && !local.destroyed) {
      local.destroy(new Error('the client closed the connection before the export finished'))
    }
  })
  return local
}

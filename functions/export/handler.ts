import { performance } from 'node:perf_hooks'
import { pipeline, Readable, Transform, type Writable } from 'node:stream'
import { createGzip, constants as zlib } from 'node:zlib'
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware'
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware'
import middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda'
import type { AppDeps } from '../../shared/deps'
import { ValidationError } from '../../shared/domain/errors'
import { httpErrorHandler } from '../../shared/http/middleware'
import { principalFromEvent } from '../../shared/http/principal'
import { exportChannels } from '../../shared/services/export/export-channels'

/**
 * The export function as the Lambda runtime calls it: a streaming handler (`awslambda.streamifyResponse`,
 * through middy's `streamifyResponse`), invoked by API Gateway with InvokeWithResponseStream.
 */
export type ExportHandler = (
  event: APIGatewayProxyEvent,
  responseStream: Writable,
  context: Context,
) => Promise<void>

/**
 * Lambda ends a streamed response at 200 MB. The handler stops itself just below, so that a cut is
 * its own (logged, and the transfer ends without its final chunk, which every HTTP client reports as
 * an error) rather than a silent truncation. With gzip (what the client library, the CLI and
 * `curl --compressed` ask for) 1,000,000 channels stay far below it (README, Performance).
 */
export const EXPORT_MAX_BYTES = 199_000_000

/** Channels per DynamoDB Scan page (the store's maximum): fewer round trips, memory still one page. */
export const EXPORT_PAGE_SIZE = 1000

/**
 * gzip level: 4 compresses this CSV about as well as the default 6 (rows repeat the same few values)
 * at a fraction of the CPU, which in Lambda grows with the memory size.
 */
const GZIP_LEVEL = 4

export interface ExportOptions {
  /** Largest body the handler streams (default EXPORT_MAX_BYTES); tests set a small one. */
  maxBytes?: number
  /** Store page size (default EXPORT_PAGE_SIZE). */
  pageSize?: number
}

const CSV_HEADERS = {
  'content-type': 'text/csv; charset=utf-8',
  'content-disposition': 'attachment; filename="channels.csv"',
  'cache-control': 'no-store',
  vary: 'accept-encoding',
}

/**
 * True when the request's Accept-Encoding accepts gzip (RFC 9110 §12.5.3: `gzip` or `*` with a
 * non-zero q-value, and gzip not refused with q=0). Written by hand: one header, a few lines, and no
 * negotiation package is among the dependencies.
 */
export function acceptsGzip(headers: Record<string, string | undefined> | null): boolean {
  let header: string | undefined
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'accept-encoding') header = value
  }
  if (!header) return false
  let gzip: number | null = null
  let any: number | null = null
  for (const part of header.split(',')) {
    const [token = '', ...params] = part.trim().toLowerCase().split(';')
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    const q = qParam === undefined ? 1 : Number(qParam.slice(2))
    const weight = Number.isFinite(q) ? q : 0
    if (token === 'gzip' || token === 'x-gzip') gzip = weight
    else if (token === '*') any = weight
  }
  return gzip !== null ? gzip > 0 : any !== null && any > 0
}

/** Counts the bytes that leave, and fails the stream before they pass `max`. */
function byteCap(max: number, onBytes: (n: number) => void): Transform {
  let sent = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      if (sent + chunk.length > max) {
        done(new ExportTooLargeError(sent, max))
        return
      }
      sent += chunk.length
      onBytes(sent)
      done(null, chunk)
    },
  })
}

class ExportTooLargeError extends Error {
  constructor(sent: number, max: number) {
    super(`The export passed ${max} bytes (Lambda's streamed response limit) after ${sent} bytes`)
    this.name = 'ExportTooLargeError'
  }
}

/**
 * Builds the export function: `GET /exports/channels.csv` (docs/openapi.yaml), every channel as RFC 4180
 * CSV, streamed from the table's Scan pages through csv-stringify (and gzip when the caller accepts it)
 * to the response, one page in memory at a time, pulled at the pace of the client.
 *
 * Why a function of its own: it is the only route that streams (API Gateway STREAM transfer mode,
 * Lambda InvokeWithResponseStream) and the only one that runs for minutes, so it gets its own timeout
 * and the narrowest grant of all (Scan of the channels table, nothing else).
 */
export function buildExportHandler(deps: AppDeps, opts: ExportOptions = {}): ExportHandler {
  const maxBytes = opts.maxBytes ?? EXPORT_MAX_BYTES
  const pageSize = opts.pageSize ?? EXPORT_PAGE_SIZE
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult | StreamedResult>({
    streamifyResponse: true,
  })
    .use(injectLambdaContext(deps.logger))
    .use(logMetrics(deps.metrics))
    .use(httpErrorHandler(deps.logger))
    .handler(async (event) => {
      // AWS_IAM route: nothing runs without a principal (401 otherwise).
      principalFromEvent(event)
      // The export takes no parameters: any is a 400 before anything is read.
      const [unknown] = Object.keys(
        event.multiValueQueryStringParameters ?? event.queryStringParameters ?? {},
      )
      if (unknown !== undefined) {
        throw new ValidationError(`Unknown query parameter ${unknown}: the export takes none`, {
          code: 'invalid_query',
        })
      }
      const gzip = acceptsGzip(event.headers)
      const started = performance.now()
      let bytes = 0
      const csv = Readable.from(exportChannels(deps, { pageSize }))
      const cap = byteCap(maxBytes, (n) => {
        bytes = n
      })
      const done = (err: Error | null | undefined): void => {
        const ms = Math.round(performance.now() - started)
        const encoding = gzip ? 'gzip' : 'identity'
        if (err) deps.logger.error('export stopped midway', { error: err, bytes, encoding, ms })
        else deps.logger.info('export streamed', { bytes, encoding, ms })
      }
      // stream.pipeline (callback form) returns its last stream and destroys every stage on an error,
      // so a failed page read or the byte cap fails the response stream middy pipes this into.
      const body = gzip
        ? pipeline(csv, createGzip({ level: GZIP_LEVEL, flush: zlib.Z_NO_FLUSH }), cap, done)
        : pipeline(csv, cap, done)
      return {
        statusCode: 200,
        headers: { ...CSV_HEADERS, ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        body,
      }
    })
  return handler as unknown as ExportHandler
}

/** A response whose body is a stream (middy pipes it into the Lambda response stream). */
type StreamedResult = Omit<APIGatewayProxyResult, 'body'> & { body: Readable }

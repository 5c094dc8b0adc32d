import { gunzipSync } from 'node:zlib'
import type { APIGatewayProxyEvent, Context } from 'aws-lambda'
import {
  LocalResponseStream,
  preludeSink,
  type StreamedHead,
  type StreamingHandler,
} from '../../local/lambda-streaming'

/** A streamed response as API Gateway would pass it on: head, raw body bytes, and the text. */
export interface StreamedResponse extends StreamedHead {
  body: Buffer
  /** The body as text, gunzipped when `content-encoding: gzip`. */
  text: string
  /** Set when the handler failed after the head was sent (the transfer would end without its last chunk). */
  error: unknown
}

/**
 * Invokes a streaming handler the way the Lambda runtime does (a response stream) and splits what it
 * writes the way API Gateway does (the prelude becomes status and headers).
 */
export async function invokeStreaming(
  handler: StreamingHandler,
  event: APIGatewayProxyEvent,
  context: Context,
): Promise<StreamedResponse> {
  let head: StreamedHead | null = null
  const chunks: Buffer[] = []
  let stream: LocalResponseStream | null = null
  stream = new LocalResponseStream(
    preludeSink(() => stream?.contentType ?? '', {
      onHead(h) {
        head = h
      },
      onBody(chunk, done) {
        chunks.push(chunk)
        done()
      },
      onEnd(done) {
        done()
      },
    }),
  )
  let error: unknown = null
  try {
    await handler(event, stream, context)
  } catch (err) {
    error = err
    if (head === null) throw err
  }
  const h = head as StreamedHead | null
  if (h === null) throw new Error('the handler wrote no response')
  const body = Buffer.concat(chunks)
  const gz = String(h.headers['content-encoding'] ?? '') === 'gzip'
  let text: string
  try {
    text = gz ? gunzipSync(body).toString('utf8') : body.toString('utf8')
  } catch {
    text = ''
  }
  return { ...h, body, text, error }
}

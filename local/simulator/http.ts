import type { IncomingMessage, ServerResponse } from 'node:http'
import { metaBody, wrongPayload } from './errors'

/** One answer of the simulator: JSON body (or none), or an HTML page. */
export interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** When set, sent as text/html instead of the JSON body. */
  html?: string
}

/** A 360dialog `meta` error reply. */
export function metaReply(status: number, message: string, details?: readonly string[]): Reply {
  return { status, body: metaBody(status, message, details) }
}

export const MAX_BODY = 1024 * 1024

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError'
}

/** Reads the whole request body; rejects with BodyTooLargeError past {@link MAX_BODY}. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        reject(new BodyTooLargeError('body too large'))
        req.resume()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** JSON, or a form body as a flat object; an empty body is undefined; bad JSON is a wrong payload. */
export function parseBody(raw: Buffer, contentType: string | undefined): unknown {
  if (raw.length === 0) return undefined
  const text = raw.toString('utf8')
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text))
  }
  try {
    return JSON.parse(text)
  } catch {
    throw wrongPayload('body: invalid JSON')
  }
}

/** Decoded path segments, or null when a segment's percent-encoding is malformed. */
export function segmentsOf(path: string): string[] | null {
  try {
    return path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s))
  } catch {
    return null
  }
}

/** Query parameters as an object; a repeated name becomes an array. */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [key, value] of params) {
    const prev = out[key]
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value]
  }
  return out
}

/** Writes a reply (nothing when the response is already sent or the socket is gone). */
export function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.headersSent || res.destroyed) return
  const headers: Record<string, string> = { ...reply.headers }
  if (reply.html !== undefined) {
    headers['content-type'] = 'text/html; charset=utf-8'
    headers['content-length'] = String(Buffer.byteLength(reply.html))
    res.writeHead(reply.status, headers)
    res.end(reply.html)
    return
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status, headers)
    res.end()
    return
  }
  const payload = JSON.stringify(reply.body)
  headers['content-type'] = 'application/json'
  headers['content-length'] = String(Buffer.byteLength(payload))
  res.writeHead(reply.status, headers)
  res.end(payload)
}

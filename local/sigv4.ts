import { createHash, timingSafeEqual } from 'node:crypto'
import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'

/**
 * SigV4 verification for the local server, standing in for API Gateway's AWS_IAM authorization.
 * Hand-written around @smithy/signature-v4 (which only signs): it parses the Authorization header,
 * checks scope and clock skew, recomputes the signature over exactly the signed headers, the raw
 * path, the query and the body, and compares in constant time.
 */

export interface LocalCredential {
  accessKeyId: string
  secretAccessKey: string
  /** The principal ARN reported to handlers for this key. */
  principalArn: string
  /** May call the key-reader routes (GET /channels/{channelId}/api-key), as that policy allows in AWS. */
  keyReader?: boolean
}

export interface SignedRequest {
  method: string
  /** Raw path as received (still percent-encoded). */
  path: string
  query: Record<string, string | string[]>
  /** Header names in lowercase. */
  headers: Record<string, string>
  body: Buffer
}

export type VerifyResult =
  | { ok: true; principalArn: string; accessKeyId: string }
  | { ok: false; reason: string }

const AUTH_RE =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;_.-]+),\s*Signature=([0-9a-f]{64})$/
const MAX_SKEW_MS = 5 * 60 * 1000

/** Parses an ISO8601 basic timestamp (`20260115T100000Z`). */
function parseAmzDate(value: string): number | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (!m) return null
  const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!)
  return Number.isNaN(ms) ? null : ms
}

/** Verifies one request against the accepted credentials, region and service. */
export async function verifySigV4(
  req: SignedRequest,
  opts: { credentials: LocalCredential[]; region: string; service: string; now: Date },
): Promise<VerifyResult> {
  const auth = req.headers.authorization
  if (!auth) return { ok: false, reason: 'missing Authorization header' }
  const m = AUTH_RE.exec(auth.trim())
  if (!m) return { ok: false, reason: 'malformed Authorization header' }
  const [, accessKeyId, scopeDate, region, service, signedHeadersRaw, signature] = m as unknown as string[]
  const credential = opts.credentials.find((c) => c.accessKeyId === accessKeyId)
  if (!credential) return { ok: false, reason: 'unknown access key' }
  if (region !== opts.region || service !== opts.service)
    return { ok: false, reason: 'wrong credential scope' }
  const amzDate = req.headers['x-amz-date']
  const signedAt = amzDate ? parseAmzDate(amzDate) : null
  if (signedAt === null || !amzDate) return { ok: false, reason: 'missing or malformed X-Amz-Date' }
  if (amzDate.slice(0, 8) !== scopeDate) return { ok: false, reason: 'credential scope date mismatch' }
  if (Math.abs(opts.now.getTime() - signedAt) > MAX_SKEW_MS)
    return { ok: false, reason: 'request time too skewed' }
  const signedHeaders = signedHeadersRaw!.split(';')
  if (!signedHeaders.includes('host')) return { ok: false, reason: 'host header not signed' }
  const headers: Record<string, string> = {}
  for (const name of signedHeaders) {
    const value = req.headers[name]
    if (value === undefined) return { ok: false, reason: 'a signed header is missing' }
    headers[name] = value
  }
  // A declared payload hash must match the body actually received (no UNSIGNED-PAYLOAD tricks).
  const bodyHash = createHash('sha256').update(req.body).digest('hex')
  const declared = req.headers['x-amz-content-sha256']
  if (declared !== undefined && declared !== bodyHash) return { ok: false, reason: 'payload hash mismatch' }

  const signer = new SignatureV4({
    credentials: { accessKeyId: credential.accessKeyId, secretAccessKey: credential.secretAccessKey },
    region: opts.region,
    service: opts.service,
    sha256: Sha256,
    // Recompute over exactly what the caller signed: never add a payload-hash header of our own.
    applyChecksum: false,
  })
  const [hostname, port] = (headers.host ?? '').split(':')
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: hostname ?? '',
      ...(port ? { port: Number(port) } : {}),
      path: req.path,
      query: req.query,
      headers,
      body: req.body.length > 0 ? req.body : undefined,
    },
    {
      signingDate: new Date(signedAt),
      unsignableHeaders: new Set(),
      signableHeaders: new Set(signedHeaders),
    },
  )
  const expected = /Signature=([0-9a-f]{64})/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? ''
  const expectedHeaders = /SignedHeaders=([^,]+)/.exec(String(signed.headers.authorization ?? ''))?.[1] ?? ''
  if (expectedHeaders !== signedHeadersRaw) return { ok: false, reason: 'signed headers mismatch' }
  const a = Buffer.from(expected, 'hex')
  const b = Buffer.from(signature!, 'hex')
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'signature mismatch' }
  return { ok: true, principalArn: credential.principalArn, accessKeyId: credential.accessKeyId }
}

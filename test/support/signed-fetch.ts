import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'

/** What signedFetch needs of the running app (local/app.ts `App`). */
export interface SigningTarget {
  url: string
  credentials: { accessKeyId: string; secretAccessKey: string; region: string; service: string }
}

export interface SignedFetchInit {
  method?: string
  body?: string
  headers?: Record<string, string>
  credentials?: { accessKeyId: string; secretAccessKey: string }
  region?: string
  service?: string
  /** Sign as if at this time (expired-timestamp tests). */
  signingDate?: Date
  signal?: AbortSignal
}

/** Signs a request with SigV4 the way an AWS SDK caller of execute-api would, then sends it. */
export async function signedFetch(
  app: SigningTarget,
  path: string,
  init: SignedFetchInit = {},
): Promise<Response> {
  const url = new URL(path, app.url)
  const method = init.method ?? 'GET'
  const query: Record<string, string | string[]> = {}
  for (const [k, v] of url.searchParams) {
    const prev = query[k]
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
  }
  const headers: Record<string, string> = { host: url.host, ...(init.headers ?? {}) }
  if (init.body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json'
  }
  const signer = new SignatureV4({
    credentials: init.credentials ?? app.credentials,
    region: init.region ?? app.credentials.region,
    service: init.service ?? app.credentials.service,
    sha256: Sha256,
  })
  const signed = await signer.sign(
    {
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query,
      headers,
      body: init.body,
    },
    init.signingDate ? { signingDate: init.signingDate } : {},
  )
  const sendHeaders = Object.fromEntries(Object.entries(signed.headers).filter(([k]) => k !== 'host'))
  return fetch(url, {
    method,
    headers: sendHeaders,
    ...(init.body !== undefined ? { body: init.body } : {}),
    ...(init.signal ? { signal: init.signal } : {}),
  })
}

import { Sha256 } from '@aws-crypto/sha256-js'
import { fromNodeProviderChain } from '@aws-sdk/credential-providers'
import { SignatureV4 } from '@smithy/signature-v4'

/** An AWS credential set (what every AWS SDK credential provider resolves to). */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expiration?: Date
}
/** A credential provider, e.g. `fromNodeProviderChain()` or `fromIni({ profile })`. */
export type AwsCredentialIdentityProvider = () => Promise<AwsCredentialIdentity>

/** The local runner's documented operator pair (README "Running locally"); not a secret. */
export const LOCAL_CREDENTIALS: AwsCredentialIdentity = Object.freeze({
  accessKeyId: 'AKIDLOCALPARTNEROPS',
  secretAccessKey: 'local-secret-access-key',
})
/** Region the local runner verifies signatures for. */
export const LOCAL_REGION = 'us-east-1'
/** The signing service of API Gateway (execute-api). */
export const SERVICE = 'execute-api'

/** True for an endpoint on this machine (the local runner of `npm start`). */
export function isLocalEndpoint(endpoint: URL): boolean {
  const h = endpoint.hostname.replace(/^\[|\]$/g, '')
  return h === 'localhost' || h === '::1' || /^127\./.test(h)
}

/**
 * The signing region: explicit, else the one in an `execute-api` host name
 * (`{id}.execute-api.{region}.amazonaws.com`), else `AWS_REGION` / `AWS_DEFAULT_REGION`, else us-east-1
 * (the local runner's).
 */
export function regionFor(endpoint: URL, explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit
  const m = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(endpoint.hostname)
  if (m?.[1]) return m[1]
  if (isLocalEndpoint(endpoint)) return LOCAL_REGION
  return env.AWS_REGION || env.AWS_DEFAULT_REGION || LOCAL_REGION
}

/**
 * Credentials when the caller gives none: the AWS default provider chain (environment, shared
 * config and SSO, process, web identity, container and instance metadata). Against the local
 * runner, when that chain finds nothing, the local runner's documented pair.
 */
export function defaultCredentials(
  endpoint: URL,
  chain: AwsCredentialIdentityProvider = fromNodeProviderChain(),
): AwsCredentialIdentityProvider {
  if (!isLocalEndpoint(endpoint)) return chain
  return async () => {
    try {
      return await chain()
    } catch (err) {
      // Only "nothing configured" falls back; a broken profile or SSO session is worth seeing.
      if ((err as { name?: string }).name === 'CredentialsProviderError') return LOCAL_CREDENTIALS
      throw err
    }
  }
}

/** A request about to be signed and sent. */
export interface OutgoingRequest {
  method: string
  url: URL
  headers: Record<string, string>
  body?: string
}

/**
 * Encodes a query the way SigV4 canonicalizes it (RFC 3986, sorted by name then value), so the URL
 * sent is byte for byte the canonical query: whatever order the caller gave, API Gateway, the local
 * runner and any proxy compute the same string.
 */
export function canonicalQuery(query: Record<string, string | string[] | undefined>): string {
  const enc = (s: string): string =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  const pairs: [string, string][] = []
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue
    for (const one of Array.isArray(v) ? v : [v]) pairs.push([enc(k), enc(one)])
  }
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([k, v]) => `${k}=${v}`).join('&')
}

/** Signs requests for one endpoint with SigV4 (service execute-api). */
export class Signer {
  private readonly signer: SignatureV4

  constructor(opts: { credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider; region: string }) {
    this.signer = new SignatureV4({
      credentials: opts.credentials,
      region: opts.region,
      service: SERVICE,
      sha256: Sha256,
    })
  }

  /** Returns the headers to send (Authorization, X-Amz-Date, X-Amz-Content-Sha256, a session token). */
  async sign(req: OutgoingRequest): Promise<Record<string, string>> {
    const query: Record<string, string | string[]> = {}
    for (const [k, v] of req.url.searchParams) {
      const prev = query[k]
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v]
    }
    const signed = await this.signer.sign({
      method: req.method,
      protocol: req.url.protocol,
      hostname: req.url.hostname,
      ...(req.url.port ? { port: Number(req.url.port) } : {}),
      path: req.url.pathname,
      query,
      headers: { ...req.headers, host: req.url.host },
      ...(req.body !== undefined ? { body: req.body } : {}),
    })
    // fetch sets Host itself (and refuses to be told); it is the same value that was signed.
    const out: Record<string, string> = {}
    for (const [k, v] of Object.entries(signed.headers)) if (k.toLowerCase() !== 'host') out[k] = String(v)
    return out
  }
}

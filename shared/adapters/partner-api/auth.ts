import * as z from 'zod/mini'
import '../../domain/zod-locale'
import { ConfigError, UpstreamError } from '../../domain/errors'
import type { SecretSource } from '../../ports'
import { type PartnerCredentials, parsePartnerCredentials } from '../secrets'

/** Authentication mode of the Partner API. */
export type PartnerAuthMode = 'api_key' | 'bearer'

/** Headers to send and the credential generation they belong to (to coalesce refreshes after a 401). */
export interface AuthHeaders {
  headers: Record<string, string>
  generation: number
}

/** Exchanges username and password for a token (`POST /token`). */
export type TokenFetcher = (
  username: string,
  password: string,
) => Promise<{ accessToken: string; expiresInSeconds: number }>

/** The token response (docs/partner-api-notes.md §1); only the access token is required. Built on first parse. */
export const tokenResponseSchema = z.lazy(() =>
  z.looseObject({
    access_token: z.string().check(z.minLength(1)),
    token_type: z.nullish(z.string()),
    expires_in: z.nullish(z.number()),
  }),
)

/** Tokens are renewed this long before they expire. */
const TOKEN_MARGIN_MS = 60_000
/** Lifetime assumed when the token response gives none (the docs do not state one). */
export const DEFAULT_TOKEN_SECONDS = 3_600

/**
 * Credentials of the Partner API client: the API key (`X-API-Key`) or a cached Bearer token. After a
 * 401 `refresh(generation)` re-reads the secret (forced) once per generation, so concurrent requests
 * that failed with the same credentials share one refresh.
 */
export class PartnerAuth {
  private creds: PartnerCredentials | null = null
  private token: { value: string; expiresAt: number } | null = null
  private generation = 0
  private pending: Promise<void> | null = null

  constructor(
    private readonly mode: PartnerAuthMode,
    private readonly secrets: SecretSource,
    private readonly fetchToken: TokenFetcher,
    private readonly now: () => number,
  ) {}

  /** Headers for the next request. */
  async current(): Promise<AuthHeaders> {
    if (this.pending) await this.pending
    if (!this.creds) await this.load(false)
    const generation = this.generation
    const creds = this.creds!
    if (creds.kind === 'api_key') return { headers: { 'X-API-Key': creds.apiKey }, generation }
    if (!this.token || this.now() >= this.token.expiresAt) {
      await this.single(async () => {
        if (this.token && this.now() < this.token.expiresAt) return
        const t = await this.fetchToken(creds.username, creds.password)
        const lifetimeMs = Math.max(0, t.expiresInSeconds * 1000 - TOKEN_MARGIN_MS)
        this.token = { value: t.accessToken, expiresAt: this.now() + lifetimeMs }
      })
    }
    return { headers: { Authorization: `Bearer ${this.token!.value}` }, generation: this.generation }
  }

  /**
   * Drops the cached token and re-reads the secret (forced), unless that already happened since the
   * credentials of `generation` were handed out (omit it to refresh unconditionally).
   */
  async refresh(generation?: number): Promise<void> {
    if (this.pending) await this.pending.catch(() => undefined)
    if (generation !== undefined && this.generation !== generation) return
    await this.single(async () => {
      this.token = null
      await this.load(true)
    })
  }

  private async single(work: () => Promise<void>): Promise<void> {
    if (this.pending) return this.pending
    const p = work().finally(() => {
      if (this.pending === p) this.pending = null
    })
    this.pending = p
    return p
  }

  private async load(forceRefresh: boolean): Promise<void> {
    const value = await this.secrets.get('partnerApi', { forceRefresh })
    if (value === null) throw new ConfigError('partner API secret is not configured')
    let creds: PartnerCredentials
    try {
      creds = parsePartnerCredentials(value)
    } catch (err: unknown) {
      throw new ConfigError(err instanceof Error ? err.message : 'partner API secret is invalid')
    }
    if (this.mode === 'bearer' && creds.kind !== 'password') {
      throw new ConfigError('bearer auth needs a partner API secret with username and password')
    }
    if (this.mode === 'api_key' && creds.kind !== 'api_key') {
      throw new ConfigError('api_key auth needs a partner API secret holding an API key')
    }
    this.creds = creds
    this.generation += 1
  }
}

/**
 * The one error for credentials the Partner API refuses. It is an upstream failure (502 to our caller,
 * not retryable): our caller's own credentials were fine, ours were not.
 */
export function credentialsRejected(cause?: unknown): UpstreamError {
  return new UpstreamError('The Partner API refused our credentials', {
    upstreamStatus: 401,
    retryable: false,
    upstreamMessage: 'credentials rejected',
    code: 'upstream_unauthorized',
    cause,
  })
}

/** True for the error credentialsRejected builds. */
export function isCredentialsRejected(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && err.code === 'upstream_unauthorized'
}

/** Turns a token endpoint rejection into the one credentials error of the client. */
export function tokenRejected(cause?: unknown): UpstreamError {
  return credentialsRejected(cause)
}

import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets'
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { DependencyUnavailableError } from '../domain/errors'
import type { SecretName, SecretSource } from '../ports'

/**
 * Secret value formats.
 *
 * - `partnerApi`: the plain Partner API key (`X-API-Key`), or JSON `{"apiKey":"…"}`, or JSON
 *   `{"username":"…","password":"…"}` for the deprecated Bearer flow (`POST /token`).
 * - `platformSecret`: the plain 360dialog Platform Secret, or a JSON array of strings when several
 *   secrets are active at once during a rotation (a webhook signature matching any of them is valid).
 * - `webhookToken`, `linkSigningKey`: plain strings.
 */
export type PartnerCredentials =
  | { kind: 'api_key'; apiKey: string }
  | { kind: 'password'; username: string; password: string }

/** Options of the Secrets Manager source. */
export interface AwsSecretSourceOptions {
  /** Secret ids (name or ARN) per secret; a name without an id is "not configured" (null). */
  ids: Partial<Record<SecretName, string>>
  /** Cache age in seconds (0 = always fetch). */
  maxAgeSeconds: number
  /** SDK client override (tests, local endpoints). */
  client?: SecretsManagerClient
}

function decode(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array) return new TextDecoder().decode(value)
  return null
}

/**
 * SecretSource backed by AWS Secrets Manager through the Powertools parameters cache. The provider and
 * its SDK client are loaded and built on the first read, not at init (a dynamic import: the bundler
 * keeps the module in the bundle but evaluates it only then); the cost moves to the first request that
 * reads a secret, and stays off the cold start of every invocation that does not.
 */
export function createAwsSecretSource(opts: AwsSecretSourceOptions): SecretSource {
  let provider: Promise<SecretsProvider> | null = null
  const loadProvider = async (): Promise<SecretsProvider> => {
    const { SecretsProvider } = await import('./sdk/secrets-manager')
    return new SecretsProvider(opts.client ? { awsSdkV3Client: opts.client } : {})
  }
  return {
    async get(name, getOpts) {
      const id = opts.ids[name]
      if (!id) return null
      let value: unknown
      try {
        provider ??= loadProvider().catch((err: unknown) => {
          provider = null
          throw err
        })
        value = await (await provider).get(id, {
          maxAge: opts.maxAgeSeconds,
          forceFetch: getOpts?.forceRefresh === true,
        })
      } catch (err: unknown) {
        // The SDK error names the secret id and the failure, never the value; keep it only as cause.
        throw new DependencyUnavailableError(`secret ${name} could not be read`, { cause: err })
      }
      const text = decode(value)
      if (text === null) throw new DependencyUnavailableError(`secret ${name} has no value`)
      return text
    },
  }
}

/** SecretSource over fixed values (the local runner and tests); missing or empty names are null. */
export function createEnvSecretSource(values: Partial<Record<SecretName, string>>): SecretSource {
  return {
    async get(name) {
      const v = values[name]
      return v === undefined || v === '' ? null : v
    },
  }
}

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.trim() !== ''
}

/**
 * Parses the `partnerApi` secret: a plain key, `{"apiKey":"…"}` or `{"username":"…","password":"…"}`.
 * Throws DependencyUnavailableError `invalid_secret` (never quoting the value) when none of these fits.
 */
export function parsePartnerCredentials(value: string): PartnerCredentials {
  const trimmed = value.trim()
  if (trimmed === '')
    throw new DependencyUnavailableError('partner API secret is empty', { code: 'invalid_secret' })
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return { kind: 'api_key', apiKey: trimmed }
  let parsed: unknown
  try {
    parsed = JSON.parse(trimmed)
  } catch {
    throw new DependencyUnavailableError('partner API secret is not valid JSON', { code: 'invalid_secret' })
  }
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const o = parsed as Record<string, unknown>
    if (nonEmpty(o['apiKey'])) return { kind: 'api_key', apiKey: o['apiKey'] }
    if (nonEmpty(o['username']) && nonEmpty(o['password'])) {
      return { kind: 'password', username: o['username'], password: o['password'] }
    }
  }
  throw new DependencyUnavailableError('partner API secret needs apiKey, or username and password', {
    code: 'invalid_secret',
  })
}

/**
 * Parses a secret that may hold several active values (rotation): a plain string, or a JSON array of
 * strings. Empty entries are dropped; the result may be empty.
 */
export function parseSecretList(value: string): string[] {
  const trimmed = value.trim()
  if (trimmed.startsWith('[')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(trimmed)
    } catch {
      throw new DependencyUnavailableError('secret list is not valid JSON', { code: 'invalid_secret' })
    }
    if (!Array.isArray(parsed) || !parsed.every((s) => typeof s === 'string')) {
      throw new DependencyUnavailableError('secret list must be an array of strings', {
        code: 'invalid_secret',
      })
    }
    return parsed.filter((s: string) => s !== '')
  }
  return trimmed === '' ? [] : [trimmed]
}

import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  createAwsSecretSource,
  createEnvSecretSource,
  parsePartnerCredentials,
  parseSecretList,
} from '../../../shared/adapters/secrets'
import { DependencyUnavailableError } from '../../../shared/domain/errors'

const client = new SecretsManagerClient({
  region: 'eu-central-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
})
const sm = mockClient(client)

describe('createAwsSecretSource', () => {
  beforeEach(() => {
    sm.reset()
    vi.useFakeTimers({ toFake: ['Date'] })
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'))
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('reads the configured secret id with GetSecretValue', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'key-1' })
    const src = createAwsSecretSource({
      ids: { partnerApi: 'partnerops/partner-api' },
      maxAgeSeconds: 300,
      client,
    })
    await expect(src.get('partnerApi')).resolves.toBe('key-1')
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1)
    expect(sm).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: 'partnerops/partner-api' })
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({
      SecretId: 'partnerops/partner-api',
    })
  })

  it('returns null for a name without a configured id and calls nothing', async () => {
    const src = createAwsSecretSource({ ids: { partnerApi: 'a' }, maxAgeSeconds: 300, client })
    await expect(src.get('webhookToken')).resolves.toBeNull()
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 0)
  })

  it('serves from the cache within maxAge and fetches again after it', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'v1' }).resolves({ SecretString: 'v2' })
    const src = createAwsSecretSource({ ids: { platformSecret: 'ps' }, maxAgeSeconds: 60, client })
    await expect(src.get('platformSecret')).resolves.toBe('v1')
    vi.setSystemTime(new Date('2025-01-01T00:00:59Z'))
    await expect(src.get('platformSecret')).resolves.toBe('v1')
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 1)
    vi.setSystemTime(new Date('2025-01-01T00:01:01Z'))
    await expect(src.get('platformSecret')).resolves.toBe('v2')
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2)
  })

  it('refetches on forceRefresh even within maxAge', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'old' }).resolves({ SecretString: 'new' })
    const src = createAwsSecretSource({ ids: { partnerApi: 'pa' }, maxAgeSeconds: 300, client })
    await expect(src.get('partnerApi')).resolves.toBe('old')
    await expect(src.get('partnerApi', { forceRefresh: true })).resolves.toBe('new')
    await expect(src.get('partnerApi')).resolves.toBe('new')
    expect(sm).toHaveReceivedCommandTimes(GetSecretValueCommand, 2)
  })

  it('decodes a binary secret as UTF-8', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretBinary: new TextEncoder().encode('bin-key') })
    const src = createAwsSecretSource({ ids: { linkSigningKey: 'lk' }, maxAgeSeconds: 300, client })
    await expect(src.get('linkSigningKey')).resolves.toBe('bin-key')
  })

  it('turns an SDK failure into DependencyUnavailableError without the secret value', async () => {
    sm.on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'super-secret-value' })
      .rejects(new Error('throttled'))
    const src = createAwsSecretSource({ ids: { partnerApi: 'pa' }, maxAgeSeconds: 300, client })
    await src.get('partnerApi')
    const err = await src.get('partnerApi', { forceRefresh: true }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(DependencyUnavailableError)
    expect((err as Error).message).toContain('partnerApi')
    expect((err as Error).message).not.toContain('super-secret-value')
  })
})

describe('createEnvSecretSource', () => {
  it('returns configured values and null for missing or empty ones', async () => {
    const src = createEnvSecretSource({ partnerApi: 'k', webhookToken: '' })
    await expect(src.get('partnerApi')).resolves.toBe('k')
    await expect(src.get('partnerApi', { forceRefresh: true })).resolves.toBe('k')
    await expect(src.get('webhookToken')).resolves.toBeNull()
    await expect(src.get('platformSecret')).resolves.toBeNull()
  })
})

describe('parsePartnerCredentials', () => {
  it('reads a plain key, an apiKey object and a username/password object', () => {
    expect(parsePartnerCredentials(' abc123 \n')).toEqual({ kind: 'api_key', apiKey: 'abc123' })
    expect(parsePartnerCredentials('{"apiKey":"k2"}')).toEqual({ kind: 'api_key', apiKey: 'k2' })
    expect(parsePartnerCredentials('{"username":"u@x","password":"p w"}')).toEqual({
      kind: 'password',
      username: 'u@x',
      password: 'p w',
    })
  })

  it.each(['', '{"username":"only"}', '{not json', '{"apiKey":""}', '["a"]'])(
    'rejects %j without echoing it',
    (v) => {
      let caught: unknown
      try {
        parsePartnerCredentials(v)
      } catch (e: unknown) {
        caught = e
      }
      expect(caught).toBeInstanceOf(DependencyUnavailableError)
      expect(caught).toMatchObject({ code: 'invalid_secret' })
      if (v.length > 2) expect((caught as Error).message).not.toContain(v)
    },
  )
})

describe('parseSecretList', () => {
  it('reads one plain secret or a JSON array of active secrets', () => {
    expect(parseSecretList('s1')).toEqual(['s1'])
    expect(parseSecretList('["s1","s2",""]')).toEqual(['s1', 's2'])
    expect(parseSecretList('   ')).toEqual([])
  })

  it("rejects an array holding something other than strings, as our fault (never the caller's)", () => {
    expect(() => parseSecretList('[1,2]')).toThrow(DependencyUnavailableError)
    expect(() => parseSecretList('[oops')).toThrow(DependencyUnavailableError)
  })
})

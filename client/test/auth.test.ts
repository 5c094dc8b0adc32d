import { afterEach, describe, expect, it } from 'vitest'
import { defaultCredentials } from '../src/auth'
import { canonicalQuery, isLocalEndpoint, LOCAL_CREDENTIALS, PartnerOpsClient, regionFor } from '../src/index'
import { loopback, reply } from './support'

// What changes between the local runner and AWS: the signing region, the stage path, temporary
// credentials, and where credentials come from.

const servers: { close: () => Promise<void> }[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close()
})

describe('signing for AWS', () => {
  it('takes the region from an execute-api host, else the option, else AWS_REGION', () => {
    expect(regionFor(new URL('https://abc123.execute-api.eu-west-1.amazonaws.com/v1/'))).toBe('eu-west-1')
    expect(regionFor(new URL('https://api.example.com/'), 'ap-south-1')).toBe('ap-south-1')
    expect(regionFor(new URL('https://api.example.com/'), undefined, { AWS_REGION: 'sa-east-1' })).toBe(
      'sa-east-1',
    )
    expect(regionFor(new URL('http://127.0.0.1:3000'), undefined, { AWS_REGION: 'sa-east-1' })).toBe(
      'us-east-1',
    )
  })

  it('knows the local runner by its loopback host', () => {
    expect(isLocalEndpoint(new URL('http://127.0.0.1:3000'))).toBe(true)
    expect(isLocalEndpoint(new URL('http://localhost:3000'))).toBe(true)
    expect(isLocalEndpoint(new URL('http://[::1]:3000'))).toBe(true)
    expect(isLocalEndpoint(new URL('https://abc123.execute-api.eu-west-1.amazonaws.com/v1/'))).toBe(false)
  })

  it('canonicalizes the query: sorted by name then value, RFC 3986 encoded', () => {
    expect(canonicalQuery({ z: '1', a: ['b', 'a'], m: "x y!'()*~" })).toBe(
      'a=a&a=b&m=x%20y%21%27%28%29%2A~&z=1',
    )
  })

  it('signs temporary credentials with their session token, in the scope of the given region', async () => {
    const server = await loopback((_req, _n, res) => reply(res, 200, { items: [], nextCursor: null }))
    servers.push(server)
    const client = new PartnerOpsClient({
      endpoint: `${server.url}/v1/`,
      region: 'eu-west-1',
      credentials: async () => ({
        accessKeyId: 'ASIATEMPORARY',
        secretAccessKey: 's',
        sessionToken: 'token-123',
      }),
    })
    await client.channels.list({ limit: 1 }).page()
    const seen = server.seen[0]!
    expect(seen.path).toBe('/v1/channels')
    expect(seen.headers['x-amz-security-token']).toBe('token-123')
    expect(seen.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIATEMPORARY\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[^,]*x-amz-security-token/,
    )
  })
})

describe('default credentials', () => {
  const none = async (): Promise<never> => {
    throw Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    })
  }

  it('falls back to the local pair only for the local runner', async () => {
    expect(await defaultCredentials(new URL('http://127.0.0.1:3000'), none)()).toEqual(LOCAL_CREDENTIALS)
    await expect(
      defaultCredentials(new URL('https://abc.execute-api.eu-west-1.amazonaws.com/v1/'), none)(),
    ).rejects.toThrow(/Could not load credentials/)
  })

  it('prefers what the AWS chain finds, and surfaces a broken configuration', async () => {
    const found = { accessKeyId: 'AKIDFROMCHAIN', secretAccessKey: 'x' }
    expect(await defaultCredentials(new URL('http://127.0.0.1:3000'), async () => found)()).toEqual(found)
    const broken = async (): Promise<never> => {
      throw Object.assign(new Error('The SSO session has expired'), { name: 'TokenProviderError' })
    }
    await expect(defaultCredentials(new URL('http://127.0.0.1:3000'), broken)()).rejects.toThrow(
      /SSO session/,
    )
  })
})

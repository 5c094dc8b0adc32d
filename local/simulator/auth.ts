import { createHmac, randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { metaReply, type Reply } from './http'
import { isPlainObject } from './util'

/** A Hub user that may log in through `POST /api/v2/token`. */
export interface SimUser {
  username: string
  password: string
}

/**
 * Partner API authentication (README "What it models"): `X-API-Key`, or a Bearer token from
 * `POST /token` (OAuth-style error body on bad credentials; `meta` 401 on a bad or expired token).
 */
export class SimAuth {
  private readonly tokens = new Map<string, number>()
  private readonly tokenSecret = randomBytes(32)

  constructor(
    private readonly apiKeys: ReadonlySet<string>,
    private readonly users: readonly SimUser[],
    private readonly tokenTtlSeconds: number,
    private readonly clock: () => Date,
  ) {}

  /** `POST /api/v2/token` with `{username, password}`. */
  issueToken(body: unknown): Reply {
    const creds = isPlainObject(body) ? body : {}
    const user = this.users.find((u) => u.username === creds['username'] && u.password === creds['password'])
    if (!user) {
      return { status: 401, body: { error: 'invalid_grant', error_description: 'Wrong email or password.' } }
    }
    const ttl = this.tokenTtlSeconds
    const nowMs = this.clock().getTime()
    const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url')
    const header = b64({ alg: 'HS256', typ: 'JWT' })
    const payload = b64({
      sub: user.username,
      iat: Math.floor(nowMs / 1000),
      exp: Math.floor(nowMs / 1000) + ttl,
      jti: randomBytes(8).toString('hex'),
    })
    const signature = createHmac('sha256', this.tokenSecret)
      .update(`${header}.${payload}`)
      .digest('base64url')
    const token = `${header}.${payload}.${signature}`
    this.tokens.set(token, nowMs + ttl * 1000)
    return {
      status: 200,
      body: {
        access_token: token,
        token_type: 'bearer',
        expires_in: ttl,
        refresh_token: `rt_${randomBytes(16).toString('hex')}`,
      },
    }
  }

  /** The 401 reply for a request without valid credentials, or null when it may pass. */
  deny(req: IncomingMessage): Reply | null {
    const key = req.headers['x-api-key']
    const auth = req.headers.authorization
    if (typeof key === 'string' && key !== '') {
      return this.apiKeys.has(key) ? null : metaReply(401, 'Invalid API key')
    }
    if (typeof auth === 'string' && /^bearer\s+/i.test(auth)) {
      const token = auth.replace(/^bearer\s+/i, '').trim()
      const expiresAt = this.tokens.get(token)
      if (expiresAt === undefined) return metaReply(401, 'Invalid token')
      if (expiresAt <= this.clock().getTime()) {
        this.tokens.delete(token)
        return metaReply(401, 'Token expired')
      }
      return null
    }
    return metaReply(401, 'Missing authentication: send X-API-Key or Authorization: Bearer')
  }
}

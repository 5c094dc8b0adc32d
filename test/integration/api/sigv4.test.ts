import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { ROUTES } from '../../../shared/http/routes'
import { signedFetch } from '../../support/signed-fetch'
import {
  CLIENT,
  captureOutput,
  expectNoCanary,
  newChannel,
  seen,
  startCanaryApp,
  tamperedFetch,
} from './support'

let app: App
let restore: () => void
let channelId: string
const IAM_ROUTES = ROUTES.filter((r) => r.auth === 'iam')

function pathOf(template: string): string {
  return template.replace('{clientId}', CLIENT).replace('{channelId}', channelId)
}

const BODY: Record<string, string> = {
  POST: '{"reason":"signed"}',
  PATCH: '{"maxChannels":2}',
  DELETE: '{"reason":"signed"}',
}

type Attempt = (method: string, path: string) => Promise<Response>

const attempts: Record<string, Attempt> = {
  unsigned: (method, path) =>
    fetch(new URL(path, app.url), {
      method,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-unsigned' },
      ...(BODY[method] ? { body: BODY[method] } : {}),
    }),
  'wrong secret': (method, path) =>
    signedFetch(app, path, {
      method,
      headers: { 'idempotency-key': 'k-secret' },
      credentials: { accessKeyId: app.credentials.accessKeyId, secretAccessKey: 'not-the-secret' },
      ...(BODY[method] ? { body: BODY[method] } : {}),
    }),
  'unknown access key': (method, path) =>
    signedFetch(app, path, {
      method,
      credentials: { accessKeyId: 'AKIDSOMEONEELSE', secretAccessKey: app.credentials.secretAccessKey },
      ...(BODY[method] ? { body: BODY[method] } : {}),
    }),
  'wrong region': (method, path) =>
    signedFetch(app, path, { method, region: 'eu-west-1', ...(BODY[method] ? { body: BODY[method] } : {}) }),
  'wrong service': (method, path) =>
    signedFetch(app, path, { method, service: 'lambda', ...(BODY[method] ? { body: BODY[method] } : {}) }),
  'expired timestamp': (method, path) =>
    signedFetch(app, path, {
      method,
      signingDate: new Date(Date.now() - 16 * 60_000),
      ...(BODY[method] ? { body: BODY[method] } : {}),
    }),
  'tampered body or query': (method, path) =>
    BODY[method]
      ? tamperedFetch(app, path, { method, signedBody: BODY[method], sentBody: '{"reason":"tampered"}' })
      : tamperedFetch(app, path, { method, appendQuery: 'limit=1' }),
}

beforeAll(async () => {
  restore = captureOutput()
  app = await startCanaryApp()
  channelId = newChannel(app)
})

afterAll(async () => {
  await app?.close()
  restore?.()
})

describe('SigV4 on every management route', () => {
  const cases = IAM_ROUTES.flatMap((r) => Object.keys(attempts).map((a) => [r.method, r.path, a] as const))
  it.each(cases)('%s %s: %s → 401 with the error body', async (method, template, attempt) => {
    const before = app.simulator?.requests().length ?? 0
    const res = await attempts[attempt]!(method, pathOf(template))
    const text = await res.text()
    seen.push(text)
    expect(res.status).toBe(401)
    expect(JSON.parse(text)).toEqual({
      error: { code: 'unauthorized', message: 'Missing or invalid AWS SigV4 signature' },
    })
    expect(app.simulator?.requests().length ?? 0).toBe(before)
  })

  it('lets a correctly signed request through on every read route (the matrix is not vacuous)', async () => {
    for (const r of IAM_ROUTES.filter((x) => x.method === 'GET' && x.fn === 'api')) {
      const res = await signedFetch(app, pathOf(r.path))
      seen.push(await res.text())
      expect(res.status).not.toBe(401)
    }
  })

  it('wrote nothing for any refused request', async () => {
    expect(await app.deps.store.cancellations.get(channelId)).toBeNull()
    expect((await app.deps.store.audit.list(`channel#${channelId}`, 10)).items).toEqual([])
  })

  it('never printed or answered a canary secret', () => {
    expectNoCanary()
  })
})

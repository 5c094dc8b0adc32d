import type { APIGatewayProxyEvent } from 'aws-lambda'
import { afterEach, describe, expect, it } from 'vitest'
import type { HttpHandler } from '../../../local/handlers'
import { type LocalServer, startLocalServer } from '../../../local/server'
import type { HttpFunctionName } from '../../../shared/http/routes'

describe('local server', () => {
  let server: LocalServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  const start = async (handlers: Partial<Record<HttpFunctionName, HttpHandler>>): Promise<LocalServer> => {
    server = await startLocalServer({
      host: '127.0.0.1',
      port: 0,
      handlers,
      credentials: [],
      region: 'us-east-1',
      service: 'execute-api',
      now: () => new Date(),
    })
    return server
  }

  it('answers 503 starting with Retry-After until the function is built, then the function answers', async () => {
    const handlers: Partial<Record<HttpFunctionName, HttpHandler>> = {}
    const { url } = await start(handlers)
    const before = await fetch(`${url}/webhooks/360dialog`, { method: 'POST', body: '{}' })
    expect(before.status).toBe(503)
    expect(before.headers.get('retry-after')).toBe('1')
    expect(await before.json()).toEqual({ error: { code: 'starting', message: expect.any(String) } })

    let seen: APIGatewayProxyEvent | undefined
    handlers.webhook = async (event) => {
      seen = event
      return { statusCode: 200, body: '{"ok":true}' }
    }
    const after = await fetch(`${url}/webhooks/360dialog`, { method: 'POST', body: '{"a":1}' })
    expect(after.status).toBe(200)
    expect(seen?.body).toBe('{"a":1}')
    expect(seen?.resource).toBe('/webhooks/360dialog')
  })

  it('answers 404 for an unknown route and 405 for a known path with another method', async () => {
    const { url } = await start({})
    expect((await fetch(`${url}/nowhere`)).status).toBe(404)
    expect((await fetch(`${url}/webhooks/360dialog`)).status).toBe(405)
  })
})

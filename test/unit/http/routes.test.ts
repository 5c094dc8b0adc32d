import { describe, expect, it } from 'vitest'
import { matchRoute, ROUTES } from '../../../shared/http/routes'

describe('matchRoute', () => {
  it('matches a templated path and decodes its parameters', () => {
    const m = matchRoute('POST', '/clients/Kd82nQ1zCL/channels/Pq7Wx2CH/cancellation')
    expect(m && 'route' in m ? m.pathParameters : null).toEqual({
      clientId: 'Kd82nQ1zCL',
      channelId: 'Pq7Wx2CH',
    })
  })

  it('tells an unknown path from a known path with another method', () => {
    expect(matchRoute('GET', '/nope')).toBeNull()
    expect(matchRoute('PUT', '/clients')).toEqual({ methodNotAllowed: true })
  })

  it('keeps every management route behind IAM except the public onboarding callback and the webhook', () => {
    const open = ROUTES.filter((r) => r.auth === 'none').map((r) => `${r.method} ${r.path}`)
    expect(open.sort()).toEqual(['GET /onboarding/callback', 'POST /webhooks/360dialog'])
  })
})

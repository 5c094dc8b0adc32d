import { createHmac } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { type App, LOCAL_DEFAULTS, startApp } from '../../../local/app'

/**
 * Every real webhook body of the corpus (test/fixtures/real/) over the local server's HTTP path,
 * the embedded DynamoDB and the stream stand-in: each is answered 200 (stored) and ends applied,
 * stale, of an unknown type, or rejected with a stated reason; none stays pending or disappears.
 * What each body must do to state is pinned by test/unit/conformance/real-bodies.test.ts.
 */

const DIR = join(__dirname, '..', '..', 'fixtures', 'real')
const bodies = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({
    file,
    ...(JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { kind: string; body: unknown }),
  }))
  .filter((d) => d.kind === 'webhook')

let app: App | null = null
afterAll(async () => {
  await app?.close()
})

describe('real webhook bodies over HTTP', () => {
  it('stores every one and completes it with an outcome, a rejection always with its reason', async () => {
    expect(bodies.length).toBeGreaterThan(0)
    app = await startApp({ pollIntervalSeconds: null, simulator: { seed: 'empty', deliverWebhooks: false } })
    const keys = new Map<string, string>()
    for (const { file, body } of bodies) {
      const raw = JSON.stringify(body)
      const res = await fetch(new URL('/webhooks/360dialog', app.url), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-360dialog-signature': createHmac('sha256', LOCAL_DEFAULTS.platformSecret)
            .update(raw)
            .digest('hex'),
        },
        body: raw,
      })
      expect(res.status, file).toBe(200)
      keys.set(file, ((await res.json()) as { eventKey: string }).eventKey)
    }
    await app.settle()
    const outcomes: Record<string, string> = {}
    for (const [file, key] of keys) {
      const event = await app.deps.store.events.get(key)
      expect(event, file).not.toBeNull()
      expect(['applied', 'stale', 'unknown_type', 'rejected'], file).toContain(event?.status)
      if (event?.status === 'rejected') expect(event.reason ?? '', file).toMatch(/^\w+: \S/)
      outcomes[file] = event?.status ?? 'missing'
    }
    // The bodies named in the issue are applied, not merely stored.
    expect(outcomes['webhook-timeglobe-client-created.json']).toBe('applied')
    expect(outcomes['webhook-timeglobe-channel-permission-granted.json']).toMatch(/^(applied|stale)$/)
    expect(outcomes['webhook-nextjs-channel-live-minimal.json']).toMatch(/^(applied|stale)$/)
  })
})

import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, startApp } from '../../../local/app'
import { signedFetch } from '../../support/signed-fetch'

// The Debian package's browser (.ci/run installs it). playwright-core drives it; it downloads nothing.
const CHROMIUM = '/usr/bin/chromium'
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium) {
  console.warn(
    `${CHROMIUM} is absent: the browser test of the onboarding flow is skipped (apt-get install -y chromium)`,
  )
}

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** The partner's own page the flow ends on. */
async function startPartnerSite(): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end('<!doctype html><title>Partner</title><h1 id="done">Welcome back</h1>')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

describe.skipIf(!haveChromium)(
  'onboarding in a real browser (link → Hub page → grant → callback → state)',
  () => {
    let app: App
    let site: Awaited<ReturnType<typeof startPartnerSite>>
    let context: BrowserContext
    let profile: string

    beforeAll(async () => {
      site = await startPartnerSite()
      app = await startApp({
        port: 0,
        dataDir: null,
        pollIntervalSeconds: null,
        simulator: { seed: 'empty' },
        env: { ONBOARDING_CALLBACK_RATE_PER_MINUTE: '10000' },
      })
      profile = mkdtempSync(join(tmpdir(), 'partnerops-chromium-'))
      context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        timeout: 30_000,
      })
    })

    afterAll(async () => {
      await context?.close()
      await app?.close()
      await site?.close()
      if (profile) rmSync(profile, { recursive: true, force: true })
    })

    it('creates the client and its channels with the link payload and lands on the partner page', async () => {
      const res = await signedFetch(app, '/onboarding-links', {
        method: 'POST',
        body: JSON.stringify({ partnerPayload: 'browser-001', redirectUrl: `${site.url}/done?src=browser` }),
      })
      expect(res.status).toBe(200)
      const { url } = (await res.json()) as { url: string }
      expect(url.startsWith(`${app.simulator?.url}/dashboard/app/`)).toBe(true)

      const page = await context.newPage()
      await page.goto(url)
      expect(await page.textContent('h1')).toContain('Grant')
      await page.fill('#name', 'Browser Bistro')
      await page.fill('#channels', '2')
      await Promise.all([page.waitForURL(`${site.url}/done**`), page.click('#grant')])
      expect(await page.textContent('#done')).toBe('Welcome back')

      const landed = new URL(page.url())
      expect(landed.searchParams.get('src')).toBe('browser')
      const clientId = landed.searchParams.get('client') ?? ''
      const channelIds = /^\[(.+)\]$/.exec(landed.searchParams.get('channels') ?? '')?.[1]?.split(',') ?? []
      expect(channelIds).toHaveLength(2)

      const client = await app.deps.store.clients.get(clientId)
      expect(client).toMatchObject({ clientId, name: 'Browser Bistro', partnerPayload: 'browser-001' })
      for (const id of channelIds) {
        expect(await app.deps.store.channels.get(id)).toMatchObject({
          channelId: id,
          clientId,
          lifecycle: 'draft',
        })
      }
      await page.close()
    })
  },
)

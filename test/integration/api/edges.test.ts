import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import { signedFetch } from '../../support/signed-fetch'
import { call, captureOutput, expectNoCanary, startCanaryApp } from './support'

let app: App
let restore: () => void

beforeAll(async () => {
  restore = captureOutput()
  app = await startCanaryApp()
})

afterAll(async () => {
  await app?.close()
  restore?.()
  expectNoCanary()
})

describe('edges of the local API (issue 11, item 8)', () => {
  it.each([
    ['/channels/%E0%A4%A', 'a truncated UTF-8 sequence'],
    ['/channels/%zz', 'a non-hex escape'],
    ['/clients/abc%', 'a lone percent sign'],
  ])('answers 400 invalid_path for %s (%s), signed or not', async (path) => {
    for (const res of [await signedFetch(app, path), await fetch(`${app.url}${path}`)]) {
      expect(res.status).toBe(400)
      expect(await res.json()).toEqual({
        error: { code: 'invalid_path', message: 'The path has malformed percent-encoding' },
      })
    }
  })

  it('still decodes well-formed percent-encoding in a path', async () => {
    const res = await call(app, '/channels/%41bc')
    expect(res.status).toBe(404)
  })

  it('neutralises CSV cells that start with TAB or CR like = + - @', async () => {
    const sim = app.simulator
    if (!sim) throw new Error('no simulator')
    // company_name is the legal name (organisation), so that is where the formula goes.
    const client = sim.addClient({ name: 'Tab Co', organisation: '\t=1+2', partner_payload: '\r@SUM(A1)' })
    sim.addChannel({ client_id: client.id })
    await app.poll()
    const res = await call(app, '/exports/channels.csv')
    expect(res.status).toBe(200)
    const row = res.body.split('\r\n').find((line) => line.startsWith(`${client.id},`))
    expect(row).toBeDefined()
    // csv-stringify quotes a field holding CR (RFC 4180); a TAB needs no quotes.
    expect(row).toContain(`,'\t=1+2,`)
    expect(res.body).toContain(`,"'\r@SUM(A1)",`)
  })
})

import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXPORT_PAGE_SIZE } from '../../../functions/export/handler'
import { LOCAL_DEFAULTS } from '../../../local/app'
import { LOCAL_BUILDERS } from '../../../local/handlers'
import { type LocalServer, startLocalServer } from '../../../local/server'
import { loadConfig } from '../../../shared/env'
import { CSV_COLUMNS } from '../../../shared/services/export/export-channels'
import { createAppDeps } from '../../../shared/wiring'
import { fleetChannel, fleetStore } from '../../support/fleet'
import { type SigningTarget, signedFetch } from '../../support/signed-fetch'

/**
 * The export function behind the local server, as API Gateway's STREAM transfer mode runs it in AWS:
 * the same streaming handler, a generated fleet far larger than the old 5,000,000-byte cap (so no
 * DynamoDB is needed to hold it), real HTTP with SigV4. Row counts and content only; time and memory
 * are in `npm run bench -- export`.
 */

const FLEET = 60_000
const HUGE = 1_000_000

let server: LocalServer
let target: SigningTarget
let huge: ReturnType<typeof fleetStore>

async function serve(store: ReturnType<typeof fleetStore>['store']): Promise<void> {
  const deps = createAppDeps(
    loadConfig({ PARTNER_ID: 'testPA', SECRETS_SOURCE: 'env', PARTNER_API_KEY: 'unused' }),
    'export',
    { store },
  )
  handlers.export = await LOCAL_BUILDERS.export(deps)
}
const handlers: Parameters<typeof startLocalServer>[0]['handlers'] = {}

beforeAll(async () => {
  server = await startLocalServer({
    host: '127.0.0.1',
    port: 0,
    handlers,
    credentials: [
      {
        accessKeyId: LOCAL_DEFAULTS.accessKeyId,
        secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
        principalArn: LOCAL_DEFAULTS.principalArn,
      },
    ],
    region: LOCAL_DEFAULTS.region,
    service: LOCAL_DEFAULTS.service,
    now: () => new Date(),
  })
  target = {
    url: server.url,
    credentials: {
      accessKeyId: LOCAL_DEFAULTS.accessKeyId,
      secretAccessKey: LOCAL_DEFAULTS.secretAccessKey,
      region: LOCAL_DEFAULTS.region,
      service: LOCAL_DEFAULTS.service,
    },
  }
})

afterAll(async () => {
  await server?.close()
})

/** Reads a CSV body as it arrives, keeping only counts and the first and last lines. */
async function readCsv(
  res: Response,
): Promise<{ lines: number; first: string; last: string; bytes: number }> {
  const reader = res.body?.getReader()
  if (!reader) throw new Error('no body')
  const decoder = new TextDecoder()
  let lines = 0
  let bytes = 0
  let tail = ''
  let first = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    bytes += value.length
    const text = tail + decoder.decode(value, { stream: true })
    const parts = text.split('\r\n')
    tail = parts.pop() ?? ''
    if (first === '' && parts.length > 0) first = parts[0] ?? ''
    lines += parts.length
    if (parts.length > 0) lastSeen = parts[parts.length - 1] ?? ''
  }
  expect(tail).toBe('')
  return { lines, first, last: lastSeen, bytes }
}
let lastSeen = ''

describe('GET /exports/channels.csv streamed through the local server (STREAM transfer mode)', () => {
  it(`streams ${FLEET.toLocaleString('en-US')} channels gzipped to a caller that accepts gzip (fetch does)`, async () => {
    await serve(fleetStore(FLEET).store)
    const res = await signedFetch(target, '/exports/channels.csv')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-encoding')).toBe('gzip')
    expect(res.headers.get('transfer-encoding')).toBe('chunked')
    expect(res.headers.get('content-length')).toBeNull()
    const csv = await readCsv(res)
    expect(csv.first).toBe(CSV_COLUMNS.join(','))
    expect(csv.lines).toBe(FLEET + 1)
    // The last generated channel is the last row: nothing lost or repeated at page boundaries.
    expect(csv.last.split(',')[2]).toBe(fleetChannel(FLEET - 1).phoneNumber)
  })

  it('streams the same rows uncompressed to a caller that asks for identity, far past the old 5 MB cap', async () => {
    await serve(fleetStore(FLEET).store)
    const res = await signedFetch(target, '/exports/channels.csv', {
      headers: { 'accept-encoding': 'identity' },
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-encoding')).toBeNull()
    const csv = await readCsv(res)
    expect(csv.lines).toBe(FLEET + 1)
    expect(csv.bytes).toBeGreaterThan(5_000_000)
    expect(csv.last.split(',')[2]).toBe(fleetChannel(FLEET - 1).phoneNumber)
  })

  it('reads the table no faster than the client takes the bytes, and stops when the client goes away', async () => {
    huge = fleetStore(HUGE)
    await serve(huge.store)
    const controller = new AbortController()
    const res = await signedFetch(target, '/exports/channels.csv', {
      headers: { 'accept-encoding': 'identity' },
      signal: controller.signal,
    })
    expect(res.status).toBe(200)
    const reader = res.body?.getReader()
    await reader?.read()
    // The client stops reading: socket and stream buffers fill, then the handler waits.
    await sleep(300)
    const stalledAt = huge.pagesRead()
    await sleep(300)
    expect(huge.pagesRead()).toBe(stalledAt)
    const totalPages = HUGE / EXPORT_PAGE_SIZE
    expect(stalledAt).toBeLessThan(totalPages / 10)
    controller.abort()
    await sleep(300)
    const afterAbort = huge.pagesRead()
    await sleep(300)
    expect(huge.pagesRead()).toBe(afterAbort)
    expect(afterAbort).toBeLessThan(totalPages / 10)
  })

  it('ends a transfer that fails midway without its final chunk, so the client gets an error, not a short file', async () => {
    const fleet = fleetStore(FLEET)
    const scan = fleet.store.channels.scan.bind(fleet.store.channels)
    fleet.store.channels.scan = (size?: number) =>
      (async function* () {
        let pages = 0
        for await (const page of scan(size)) {
          if (++pages === 5) throw new Error('ProvisionedThroughputExceededException')
          yield page
        }
      })()
    await serve(fleet.store)
    for (const encoding of ['gzip', 'identity']) {
      const res = await signedFetch(target, '/exports/channels.csv', {
        headers: { 'accept-encoding': encoding },
      })
      expect(res.status).toBe(200)
      await expect(res.text()).rejects.toThrow()
    }
  })

  it('answers an unsigned request 401 and a query parameter 400, as JSON, before reading anything', async () => {
    const fleet = fleetStore(10)
    await serve(fleet.store)
    const unsigned = await fetch(`${server.url}/exports/channels.csv`)
    expect(unsigned.status).toBe(401)
    expect(await unsigned.json()).toMatchObject({ error: { code: 'unauthorized' } })
    const withQuery = await signedFetch(target, '/exports/channels.csv?limit=5')
    expect(withQuery.status).toBe(400)
    expect(withQuery.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await withQuery.json()).toMatchObject({ error: { code: 'invalid_query' } })
    expect(fleet.pagesRead()).toBe(0)
  })
})

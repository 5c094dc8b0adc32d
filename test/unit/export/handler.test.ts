import { gunzipSync } from 'node:zlib'
import { beforeAll, describe, expect, it } from 'vitest'
import { acceptsGzip, buildExportHandler, type ExportOptions } from '../../../functions/export/handler'
import { installLambdaStreaming, isStreamingHandler } from '../../../local/lambda-streaming'
import type { Channel } from '../../../shared/domain/types'
import { CSV_COLUMNS } from '../../../shared/services/export/export-channels'
import { apiEvent, lambdaContext } from '../../support/lambda'
import { invokeStreaming } from '../../support/streaming'
import { CLIENT_A, CLIENT_B, createApiHarness, PRINCIPAL } from '../api/support'

beforeAll(() => {
  installLambdaStreaming()
})

type Harness = ReturnType<typeof createApiHarness>

function exportCall(
  h: Harness,
  init: {
    headers?: Record<string, string>
    query?: Record<string, string>
    principal?: string | null
    opts?: ExportOptions
  } = {},
) {
  const handler = buildExportHandler(h.deps, init.opts)
  const event = apiEvent({
    method: 'GET',
    resource: '/exports/channels.csv',
    path: '/exports/channels.csv',
    headers: init.headers ?? {},
    query: init.query ?? {},
    principal: init.principal === undefined ? PRINCIPAL : init.principal,
  })
  return invokeStreaming(handler, event, lambdaContext('export', 10_000))
}

describe('export handler: a Lambda response-streaming handler', () => {
  it('is marked as streaming the way the Lambda runtime checks it', () => {
    const h = createApiHarness()
    expect(isStreamingHandler(buildExportHandler(h.deps))).toBe(true)
  })

  it('exports one RFC 4180 row per channel with the contract columns and neutralised formulas', async () => {
    const h = createApiHarness()
    const ch = await h.addChannel({
      client: { id: CLIENT_A.id, name: '=HYPERLINK("http://evil")', partner_payload: '@SUM(1,2)' },
    })
    await h.addChannel({
      client: { id: CLIENT_A.id, name: 'Line\nbreak, "quoted"', partner_payload: '-2+3' },
    })
    const res = await exportCall(h)
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8')
    expect(res.headers['content-encoding']).toBeUndefined()
    expect(res.headers.vary).toBe('accept-encoding')
    const lines = res.text.split('\r\n')
    expect(lines[0]).toBe(CSV_COLUMNS.join(','))
    // The contract's columns come first in this order (more may follow them).
    expect(
      lines[1]?.startsWith(
        [
          CLIENT_A.id,
          `"'=HYPERLINK(""http://evil"")"`,
          '4930111222',
          '',
          'live',
          'live',
          'ready',
          'live',
          'verified',
          'approved',
          '',
          `"'@SUM(1,2)"`,
          ch.modified_at,
        ].join(','),
      ),
    ).toBe(true)
    expect(res.text).toContain(`"Line\nbreak, ""quoted"""`)
    expect(res.text).toContain(`,'-2+3,`)
    expect(res.text.endsWith('\r\n')).toBe(true)
    expect(lines).toHaveLength(4)
  })

  it('gzips the body when the caller accepts gzip, and the bytes decode to the same CSV', async () => {
    const h = createApiHarness()
    for (let i = 0; i < 50; i++) await h.addChannel()
    const plain = await exportCall(h)
    const zipped = await exportCall(h, { headers: { 'Accept-Encoding': 'gzip, deflate' } })
    expect(zipped.statusCode).toBe(200)
    expect(zipped.headers['content-encoding']).toBe('gzip')
    expect(zipped.headers['content-type']).toBe('text/csv; charset=utf-8')
    expect(gunzipSync(zipped.body).toString('utf8')).toBe(plain.body.toString('utf8'))
    expect(zipped.body.length).toBeLessThan(plain.body.length / 3)
    expect(plain.text.split('\r\n')).toHaveLength(52)
  })

  it('streams page by page: a fleet larger than one page arrives whole, in many chunks', async () => {
    const h = createApiHarness()
    for (let i = 0; i < 25; i++) await h.addChannel()
    const res = await exportCall(h, { opts: { pageSize: 4 } })
    expect(res.text.split('\r\n')).toHaveLength(27)
    const ids = res.text
      .split('\r\n')
      .slice(1, -1)
      .map((l) => l.split(',')[0])
    expect(ids).toHaveLength(25)
  })

  it('refuses a request without a principal (401) and reads nothing', async () => {
    const h = createApiHarness()
    await h.addChannel()
    const reads = h.store.stats.reads
    const res = await exportCall(h, { principal: null })
    expect(res.statusCode).toBe(401)
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8')
    expect(JSON.parse(res.text)).toEqual({
      error: { code: 'unauthorized', message: 'The request carries no authenticated principal' },
    })
    expect(h.store.stats.reads).toBe(reads)
  })

  it('refuses any query parameter (400, naming it) before anything is read', async () => {
    const h = createApiHarness()
    await h.addChannel()
    const reads = h.store.stats.reads
    const res = await exportCall(h, { query: { lifecycle: 'live' } })
    expect(res.statusCode).toBe(400)
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'invalid_query' } })
    expect(JSON.parse(res.text).error.message).toContain('lifecycle')
    expect(h.store.stats.reads).toBe(reads)
  })

  it('stops the stream (an error after the head, never a complete-looking file) past the byte cap', async () => {
    const h = createApiHarness()
    for (let i = 0; i < 20; i++) await h.addChannel()
    const res = await exportCall(h, { opts: { maxBytes: 1_000, pageSize: 2 } })
    expect(res.statusCode).toBe(200)
    expect(res.error).toBeInstanceOf(Error)
    expect(String((res.error as Error).message)).toContain('1000 bytes')
    expect(res.body.length).toBeLessThanOrEqual(1_000)
    expect(res.text.split('\r\n').length).toBeLessThan(22)
  })

  it('fails the stream when a page cannot be read midway (the transfer ends in error)', async () => {
    const h = createApiHarness()
    for (let i = 0; i < 6; i++) await h.addChannel()
    const scan = h.store.channels.scan.bind(h.store.channels)
    h.store.channels.scan = (size?: number) =>
      (async function* () {
        let n = 0
        for await (const page of scan(size)) {
          if (n++ === 1) throw new Error('ProvisionedThroughputExceededException')
          yield page as Channel[]
        }
      })()
    const res = await exportCall(h, { opts: { pageSize: 2 } })
    expect(res.statusCode).toBe(200)
    expect(res.error).toBeInstanceOf(Error)
    expect(res.text.split('\r\n').length).toBeLessThan(8)
  })

  it("takes company_name from the client's organisation, else its name, and appends the signal columns", async () => {
    const h = createApiHarness()
    await h.addClient({ ...CLIENT_A, organisation: 'Acme Holdings Ltd' })
    await h.addClient({ ...CLIENT_B, organisation: null, name: 'Bravo Shop' })
    await h.addChannel({ client_id: CLIENT_A.id })
    await h.addChannel({ client_id: CLIENT_B.id, client: { id: CLIENT_B.id, name: 'Stale Short Name' } })
    const res = await exportCall(h)
    const [header, ...rows] = res.text.split('\r\n').slice(0, -1)
    expect(header?.split(',').slice(13)).toEqual(['quality_rating', 'messaging_limit', 'billing_started_at'])
    expect(rows.map((r) => r.split(',').slice(0, 2)).sort()).toEqual(
      [
        [CLIENT_A.id, 'Acme Holdings Ltd'],
        [CLIENT_B.id, 'Bravo Shop'],
      ].sort(),
    )
    expect(rows[0]?.split(',').slice(13)).toEqual(['GREEN', 'TIER_1K', '2025-01-15T08:00:00Z'])
  })
})

describe('acceptsGzip (Accept-Encoding, RFC 9110)', () => {
  it.each([
    ['gzip', true],
    ['gzip, deflate, br', true],
    ['deflate, gzip;q=0.5', true],
    ['x-gzip', true],
    ['*', true],
    ['br;q=1, *;q=0.1', true],
    ['gzip;q=0', false],
    ['gzip;q=0, *', false],
    ['*;q=0', false],
    ['identity', false],
    ['deflate, br', false],
    ['', false],
  ])('%j → %s', (header, expected) => {
    expect(acceptsGzip({ 'accept-encoding': header })).toBe(expected)
  })

  it('reads the header case-insensitively and treats a missing one as identity', () => {
    expect(acceptsGzip({ 'Accept-Encoding': 'GZIP' })).toBe(true)
    expect(acceptsGzip({})).toBe(false)
    expect(acceptsGzip(null)).toBe(false)
  })
})

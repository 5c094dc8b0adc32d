import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * Keeps the corpus of real 360dialog Partner API bodies (test/fixtures/real/) from rotting: every
 * file names where its body comes from, says what kind of body it is and what is unusual about it,
 * and carries the body itself. What the product does with these bodies is tested elsewhere.
 */

const DIR = join(__dirname, '..', '..', 'fixtures', 'real')

const KINDS = new Set([
  'webhook',
  'channels_page',
  'clients_page',
  'channel',
  'client',
  'partner',
  'api_key',
  'balance',
  'error',
  'token',
  'webhook_url',
  'onboarding_redirect',
  // The Messaging API's health reads (per-channel key): Cloud /health_status, on-premise /v1/health,
  // and /v1/configs/phone_number.
  'health_status',
  'health',
  'phone_number',
])

/** Kinds whose real bodies include a bare JSON array (a list endpoint without its envelope). */
const ARRAY_KINDS = new Set(['channels_page', 'balance'])

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.trim() !== ''

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()

describe('real-body corpus', () => {
  it('holds a corpus of bodies and a README row for each', () => {
    expect(files.length).toBeGreaterThanOrEqual(15)
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8')
    for (const file of files) expect(readme, `README.md lists ${file}`).toContain(`\`${file}\``)
  })

  it.each(files)('%s names its source, kind, note and body', (file) => {
    const doc: unknown = JSON.parse(readFileSync(join(DIR, file), 'utf8'))
    if (!isObject(doc)) throw new Error(`${file} is not a JSON object`)

    const source = doc['source']
    if (!isObject(source)) throw new Error(`${file} has no source object`)
    const traceable = (nonEmpty(source['repo']) && nonEmpty(source['path'])) || nonEmpty(source['url'])
    expect(traceable, `${file}: source needs repo and path, or url`).toBe(true)
    expect(nonEmpty(source['what']), `${file}: source.what`).toBe(true)
    if (source['commit'] !== undefined) expect(source['commit']).toMatch(/^[0-9a-f]{40}$/)

    const kind = doc['kind']
    expect(KINDS.has(String(kind)), `${file}: kind ${String(kind)} is known`).toBe(true)
    expect(file.startsWith(`${String(kind)}-`), `${file}: file name starts with its kind`).toBe(true)
    expect(nonEmpty(doc['note']), `${file}: note`).toBe(true)

    const body = doc['body']
    if (Array.isArray(body)) {
      expect(ARRAY_KINDS.has(String(kind)), `${file}: a bare array body only for ${[...ARRAY_KINDS]}`).toBe(
        true,
      )
      expect(body.length).toBeGreaterThan(0)
      for (const item of body) expect(isObject(item)).toBe(true)
    } else {
      expect(isObject(body), `${file}: body is an object`).toBe(true)
      expect(Object.keys(body as object).length).toBeGreaterThan(0)
    }
    if (kind === 'webhook') {
      const b = body as Record<string, unknown>
      expect(nonEmpty(b['event']), `${file}: a webhook body names its event`).toBe(true)
      expect(isObject(b['data']), `${file}: a webhook body carries a data object`).toBe(true)
    }
  })
})

import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createMessagingApiClient } from '../../../shared/adapters/messaging-api/client'
import type { HealthReading } from '../../../shared/domain/health'
import type { MessagingTarget } from '../../../shared/ports'

/**
 * Every real Messaging API body of the corpus (test/fixtures/real/: health_status, health,
 * phone_number) through the real client (schemas, reading, number digits), each pinned to what it
 * must become. A corpus file of these kinds without an expectation here fails, so a new body is
 * always decided on.
 */

const DIR = join(__dirname, '..', '..', 'fixtures', 'real')
const KINDS = new Set(['health_status', 'health', 'phone_number'])
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({
    file: f,
    doc: JSON.parse(readFileSync(join(DIR, f), 'utf8')) as { kind: string; body: unknown },
  }))
  .filter((c) => KINDS.has(c.doc.kind))

const EXPECTED: Record<string, HealthReading | string> = {
  'health_status-docs-available.json': { status: 'AVAILABLE', errors: [] },
  'health_status-openapi-blocked.json': {
    status: 'BLOCKED',
    errors: [
      {
        code: 'meta_141006',
        message:
          'PHONE_NUMBER: There is an error with the payment method. Update the payment method of the WhatsApp Business Account.',
      },
      { code: 'limited', message: 'WABA: The WhatsApp Business Account has not been verified.' },
    ],
  },
  'health-dotnet-healthcheck.json': { status: 'connected', errors: [] },
  'health-meta-high-availability.json': {
    status: 'disconnected',
    errors: [{ code: 'gateway_disconnected', message: 'wa-core-3:4c6e8a0b2d4f (coreapp): disconnected' }],
  },
  'phone_number-dotnet-check.json': '15550101234',
  'phone_number-pyclient-cloud.json': '39000111222',
}

const answering = (body: unknown) =>
  createMessagingApiClient({
    fetch: (async () => new Response(JSON.stringify(body), { status: 200 })) as typeof fetch,
  })

describe('real Messaging API bodies', () => {
  it('has an expectation for every health body of the corpus, and a body for every expectation', () => {
    expect(files.map((f) => f.file).sort()).toEqual(Object.keys(EXPECTED).sort())
  })

  it.each(files)('$file reads as pinned', async ({ file, doc }) => {
    const target: MessagingTarget = {
      apiKey: 'k',
      address: 'https://messaging.example.test',
      kind: doc.kind === 'health' ? 'onpremise' : 'cloud',
    }
    const api = answering(doc.body)
    const got = doc.kind === 'phone_number' ? await api.phoneNumber(target) : await api.health(target)
    expect(got).toEqual(EXPECTED[file])
  })
})

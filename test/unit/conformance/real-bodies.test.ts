import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { Lifecycle, WebhookEventRecord } from '../../../shared/domain/types'
import {
  type UpstreamChannel,
  type UpstreamClient,
  upstreamChannelSchema,
  upstreamClientSchema,
} from '../../../shared/domain/upstream'
import { applyChannel, applyClient } from '../../../shared/services/state/apply-upstream'
import { bodyOf, createHarness, type Harness } from '../webhooks/support'

/**
 * Every real body of the corpus (test/fixtures/real/, README there) through the real webhook handler
 * (signature, envelope, storage), the stream applier, the upstream schemas, the mapping and the
 * guarded state write: each is accepted and applied to the state its meaning implies, or kept with a
 * stated reason (unknown type, unmatched, refused item), never silently dropped. Files that land
 * later without a row in EXPECTED still get the generic check.
 */

const DIR = join(__dirname, '..', '..', 'fixtures', 'real')

interface CorpusFile {
  file: string
  kind: string
  body: unknown
}

const corpus: CorpusFile[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => {
    const doc = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { kind: string; body: unknown }
    return { file, kind: doc.kind, body: doc.body }
  })

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** What a webhook body must do, delivered to an empty store, and (`whenStored`) once a poll stored its channel. */
interface WebhookExpectation {
  /** The clock when it is received: the bodies' own dates are relative to it. */
  at?: string
  status: WebhookEventRecord['status']
  reason?: RegExp
  lifecycle?: Lifecycle
  client?: Record<string, unknown>
  whenStored?: { status: WebhookEventRecord['status']; lifecycle?: Lifecycle }
}

/** The dotnet bodies date their cancellation at the end of May 2023: received in that month. */
const MAY_2023 = '2023-05-10T09:00:00.000Z'

const EXPECTED: Record<string, WebhookExpectation> = {
  // Undated: each also applies after a poll stored the channel (it was stale before the ordering rule).
  'webhook-dotnet-channel-submitted.json': {
    at: MAY_2023,
    status: 'applied',
    lifecycle: 'draft',
    whenStored: { status: 'applied', lifecycle: 'draft' },
  },
  'webhook-dotnet-channel-live.json': {
    at: MAY_2023,
    status: 'applied',
    lifecycle: 'live',
    whenStored: { status: 'applied', lifecycle: 'live' },
  },
  'webhook-dotnet-cancellation-request.json': {
    at: MAY_2023,
    status: 'applied',
    lifecycle: 'pending_deletion',
    whenStored: { status: 'applied', lifecycle: 'pending_deletion' },
  },
  'webhook-dotnet-cancellation-revoke.json': {
    at: MAY_2023,
    status: 'applied',
    lifecycle: 'live',
    whenStored: { status: 'applied', lifecycle: 'live' },
  },
  'webhook-dotnet-cancellation-processed.json': {
    at: MAY_2023,
    status: 'applied',
    lifecycle: 'terminated',
    whenStored: { status: 'applied', lifecycle: 'terminated' },
  },
  // No client_id and no client: unmatched until a poll stored the channel, applied after.
  'webhook-mecom-channel-created.json': {
    status: 'rejected',
    reason: /^channel_not_found: /,
    whenStored: { status: 'applied', lifecycle: 'draft' },
  },
  'webhook-mecom-channel-running.json': {
    status: 'rejected',
    reason: /^channel_not_found: /,
    whenStored: { status: 'applied', lifecycle: 'draft' },
  },
  // Event names seen in one integration only, with no documented meaning: stored and counted.
  'webhook-mecom-channel-status-changed.json': { status: 'unknown_type' },
  'webhook-mecom-phone-number-quality-changed.json': { status: 'unknown_type' },
  // No account_mode: the event name says live.
  'webhook-nextjs-channel-live-minimal.json': { status: 'applied', lifecycle: 'live' },
  // No account_mode and no app_id: nothing says more than draft (the event name carries no lifecycle).
  'webhook-nextjs-channel-permission-granted-minimal.json': { status: 'applied', lifecycle: 'draft' },
  'webhook-timeglobe-channel-permission-granted.json': { status: 'applied', lifecycle: 'live' },
  'webhook-timeglobe-client-created.json': {
    status: 'applied',
    client: { clientId: 'x1Y2z3CL', name: 'Example Salon', contactEmail: 'owner@example.com' },
  },
}

/** List-page items the item schemas must refuse, with the field the reason names. */
const REFUSED_ITEMS: Record<string, string[]> = {
  'channels_page-kairon-waba-only-item.json': ['id'],
  'channels_page-pyclient-bare-array.json': ['client_id'],
  'channels_page-pyclient-no-total.json': ['client_id', 'client_id'],
  'channels_page-vozko-hub-status.json': ['client_id'],
}

const webhooks = corpus.filter((c) => c.kind === 'webhook')

/** The channel id a webhook body is about, wherever it sits. */
function channelIdOf(body: Record<string, unknown>): string | null {
  const data = body['data']
  if (!isObject(data)) return null
  const entity = isObject(data['channel']) ? data['channel'] : data
  return entity['id'] === undefined || entity['id'] === null ? null : String(entity['id'])
}

async function deliver(h: Harness, body: unknown): Promise<WebhookEventRecord | null> {
  const res = await h.deliver(JSON.stringify(body))
  // A real body is a JSON object with event and data: stored (200), never refused at the door.
  expect(res.statusCode, res.body).toBe(200)
  return h.store.events.get(bodyOf(res).eventKey as string)
}

/** The generic rule: stored, completed, and a rejection always says why. */
function expectNotDropped(event: WebhookEventRecord | null): void {
  expect(event).not.toBeNull()
  expect(event?.status).not.toBe('pending')
  if (event?.status === 'rejected') expect(event.reason ?? '').toMatch(/^\w+: \S/)
}

describe('real bodies: webhooks through the handler, the applier and state', () => {
  it('holds webhook bodies, and an expectation for every one known when this test was written', () => {
    expect(webhooks.length).toBeGreaterThanOrEqual(10)
    for (const name of Object.keys(EXPECTED)) expect(corpus.map((c) => c.file)).toContain(name)
  })

  it.each(webhooks.map((w) => [w.file, w] as const))('%s', async (file, w) => {
    const h = createHarness()
    const expected = EXPECTED[file]
    if (expected?.at) h.clock.set(expected.at)
    const body = w.body as Record<string, unknown>
    const event = await deliver(h, body)
    expectNotDropped(event)
    // Unknown fields are never a reason to reject, and the raw body is kept as received.
    expect(JSON.parse(event?.body ?? 'null')).toEqual(body)
    if (!expected) return
    expect(event?.status).toBe(expected.status)
    if (expected.reason) expect(event?.reason).toMatch(expected.reason)
    const channelId = channelIdOf(body)
    if (expected.lifecycle) {
      expect(channelId).not.toBeNull()
      expect((await h.store.channels.get(channelId as string))?.lifecycle).toBe(expected.lifecycle)
    }
    if (expected.client) {
      expect(await h.store.clients.get(expected.client.clientId as string)).toMatchObject(expected.client)
    }
    if (expected.whenStored) {
      // A poll stored the channel (modified an hour before the body is received) with its client.
      const stored = createHarness()
      if (expected.at) stored.clock.set(expected.at)
      const clientId = (body['data'] as Record<string, unknown>)['client_id'] ?? 'Poll3dCL'
      await applyChannel(
        stored.deps,
        {
          id: channelId,
          client_id: clientId,
          account_mode: 'sandbox',
          modified_at: new Date(stored.clock.now().getTime() - 3_600_000).toISOString(),
        } as UpstreamChannel,
        { source: 'poll', kind: 'snapshot' },
      )
      stored.clock.advance(1_000)
      const again = await deliver(stored, body)
      expectNotDropped(again)
      expect(again?.status).toBe(expected.whenStored.status)
      const channel = await stored.store.channels.get(channelId as string)
      expect(channel?.clientId).toBe(clientId)
      if (expected.whenStored.lifecycle) expect(channel?.lifecycle).toBe(expected.whenStored.lifecycle)
    }
  })

  it('applies the .NET client story (undated bodies) in delivery order to the right state after each', async () => {
    const h = createHarness()
    h.clock.set(MAY_2023)
    const body = (name: string) => webhooks.find((w) => w.file === name)?.body as Record<string, unknown>
    const story: [string, Lifecycle][] = [
      ['webhook-dotnet-channel-submitted.json', 'draft'],
      ['webhook-dotnet-channel-live.json', 'live'],
      ['webhook-dotnet-cancellation-request.json', 'pending_deletion'],
      ['webhook-dotnet-cancellation-revoke.json', 'live'],
    ]
    for (const [name, lifecycle] of story) {
      h.clock.advance(60_000)
      expect((await deliver(h, body(name)))?.status).toBe('applied')
      expect((await h.store.channels.get('Qw3rTyCH'))?.lifecycle).toBe(lifecycle)
    }
    // The month ends; the processed event arrives.
    h.clock.set('2023-06-01T00:05:00.000Z')
    expect((await deliver(h, body('webhook-dotnet-cancellation-processed.json')))?.status).toBe('applied')
    expect((await h.store.channels.get('Qw3rTyCH'))?.lifecycle).toBe('terminated')
    expect(h.changes().map((c) => `${c.detail.from ?? '-'}>${c.detail.to}`)).toEqual([
      '->draft',
      'draft>live',
      'live>pending_deletion',
      'pending_deletion>live',
      'live>terminated',
    ])
  })
})

/** The items of a list body, wherever a real body keeps them. */
function itemsOf(body: unknown, key: string): unknown[] {
  if (Array.isArray(body)) return body
  const items = isObject(body) ? body[key] : undefined
  return Array.isArray(items) ? items : []
}

const itemFiles = corpus.filter((c) =>
  ['channels_page', 'clients_page', 'channel', 'client'].includes(c.kind),
)

describe('real bodies: list items and single objects through the item schemas, mapping and state', () => {
  it.each(itemFiles.map((c) => [c.file, c] as const))('%s', async (file, c) => {
    const isChannel = c.kind === 'channels_page' || c.kind === 'channel'
    const items =
      c.kind === 'channel' || c.kind === 'client'
        ? [c.body]
        : itemsOf(c.body, c.kind === 'channels_page' ? 'partner_channels' : 'clients')
    expect(items.length).toBeGreaterThan(0)
    const h = createHarness()
    h.clock.set(MAY_2023)
    const refusedFields: string[] = []
    for (const item of items) {
      const parsed = (isChannel ? upstreamChannelSchema : upstreamClientSchema).safeParse(item)
      if (!parsed.success) {
        // Kept aside with the reason (reconciliation quarantines it): the reason names the field.
        const issue = parsed.error.issues[0]
        expect(issue?.message).toBeTruthy()
        refusedFields.push(String(issue?.path[0] ?? '(root)'))
        continue
      }
      if (isChannel) {
        const up = parsed.data as UpstreamChannel
        const r = await applyChannel(h.deps, up, { source: 'poll', kind: 'snapshot' })
        expect(r.outcome).toBe('written')
        expect(await h.store.channels.get(up.id)).toMatchObject({ channelId: up.id, clientId: up.client_id })
      } else {
        const up = parsed.data as UpstreamClient
        expect((await applyClient(h.deps, up, { source: 'poll', kind: 'snapshot' })).outcome).toBe('written')
        expect(await h.store.clients.get(up.id)).toMatchObject({ clientId: up.id })
      }
    }
    expect(refusedFields).toEqual(REFUSED_ITEMS[file] ?? [])
  })

  it('maps the real channel shapes to the lifecycle their fields say', async () => {
    const h = createHarness()
    h.clock.set(MAY_2023)
    const page = corpus.find((c) => c.file === 'channels_page-dotnet-envelope.json')
    const cancelled = corpus.find((c) => c.file === 'channel-dotnet-cancellation-response.json')
    const live = upstreamChannelSchema.parse(itemsOf(page?.body, 'partner_channels')[0])
    expect((await applyChannel(h.deps, live, { source: 'poll', kind: 'snapshot' })).record).toMatchObject({
      lifecycle: 'live',
      billingStartedAt: '2023-03-01T10:15:00Z',
      integrationState: 'running',
      // The .NET model has neither rating nor tier: not sent is null, never invented.
      qualityRating: null,
      messagingLimit: null,
      fbBusinessId: null,
    })
    const pending = upstreamChannelSchema.parse(cancelled?.body)
    expect((await applyChannel(h.deps, pending, { source: 'api', kind: 'snapshot' })).record).toMatchObject({
      lifecycle: 'pending_deletion',
      terminatedAt: '2023-05-31T23:59:59Z',
    })
    // The hub_status item names no client; given one, its hub_status and cancelled_at decide.
    const vozko = corpus.find((c) => c.file === 'channels_page-vozko-hub-status.json')
    const item = itemsOf(vozko?.body, 'partner_channels')[0] as Record<string, unknown>
    const withClient = upstreamChannelSchema.parse({ ...item, client_id: 'x1Y2z3CL' })
    expect(
      (await applyChannel(h.deps, withClient, { source: 'poll', kind: 'snapshot' })).record,
    ).toMatchObject({
      lifecycle: 'pending_deletion',
      hubStatus: 'pending_deletion',
      cancelledAt: '2024-05-10T08:00:00Z',
      qualityRating: 'GREEN',
      messagingLimit: 'TIER_1K',
    })
  })

  it('keeps the quality rating, tier and business id of a real webhook body', async () => {
    const h = createHarness()
    const granted = corpus.find((c) => c.file === 'webhook-timeglobe-channel-permission-granted.json')
    await deliver(h, granted?.body)
    expect(await h.store.channels.get('Qw3rTyCH')).toMatchObject({
      qualityRating: 'GREEN',
      messagingLimit: 'TIER_1K',
      fbBusinessId: '100000000000001',
      billingStartedAt: null,
    })
  })

  it('stores a numeric tier as its decimal string and a client contact phone', async () => {
    const h = createHarness()
    const page = corpus.find((c) => c.file === 'channels_page-dotnet-envelope.json')
    const item = itemsOf(page?.body, 'partner_channels')[0] as Record<string, unknown>
    const numeric = upstreamChannelSchema.parse({ ...item, current_limit: 1000 })
    expect(
      (await applyChannel(h.deps, numeric, { source: 'poll', kind: 'snapshot' })).record.messagingLimit,
    ).toBe('1000')
    const clients = corpus.find((c) => c.file === 'clients_page-docs-example.json')
    const client = upstreamClientSchema.parse(itemsOf(clients?.body, 'clients')[0])
    const stored = (await applyClient(h.deps, client, { source: 'poll', kind: 'snapshot' })).record
    expect(stored).toMatchObject({ contactPhone: '+15550100009', organisation: 'Example Trading Ltd' })
  })
})

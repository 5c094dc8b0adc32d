import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CHANNEL_FACT_SPEC,
  channelFromUpstream,
  clientFromUpstream,
  rehash,
} from '../../../shared/domain/mapping'
import type { Channel } from '../../../shared/domain/types'
import { upstreamChannelSchema, upstreamClientSchema } from '../../../shared/domain/upstream'
import { applyChannel, applyClient } from '../../../shared/services/state/apply-upstream'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import fixtures from '../../fixtures/partner-api.json'

const now = new Date('2025-04-01T00:00:00Z')
const live = upstreamChannelSchema.parse(fixtures.channels.live)
const map = (previous: Channel | null, up = live, kind = 'channel_live'): Channel =>
  channelFromUpstream(up, { now, source: 'webhook', kind, previous })

/** What writeFact leaves from a stored record and a fact mapped without it (the rule of FactSpec). */
function merged(previous: Channel, fact: Channel): Record<string, unknown> {
  const out: Record<string, unknown> = { ...previous, ...fact }
  for (const f of CHANNEL_FACT_SPEC.carried) {
    if ((fact as unknown as Record<string, unknown>)[f] === null) {
      out[f] = (previous as unknown as Record<string, unknown>)[f]
    }
  }
  return out
}

const withoutHash = ({ contentHash: _h, ...rest }: Record<string, unknown>) => rest

describe('FactSpec: the fields a stored record changes in a mapped fact', () => {
  it('are exactly the carried ones while no sticky flag is set: a write without a read stores what a read would', () => {
    const text = fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: null })
    fc.assert(
      fc.property(
        text,
        text,
        text,
        fc.option(
          fc.record({ type: text, restricted: fc.boolean(), at: fc.constant('2025-01-01T00:00:00.000Z') }),
          {
            nil: null,
          },
        ),
        fc.option(fc.constantFrom('enabled' as const, 'disabled' as const), { nil: null }),
        fc.boolean(),
        (partnerPayload, companyName, contactEmail, violation, templateMessaging, withClient) => {
          const up = withClient ? live : { ...live, client: undefined }
          const previous: Channel = {
            ...map(null, up),
            partnerPayload,
            companyName,
            contactEmail,
            violation,
            templateMessaging,
            noticeKeys: { violation: '2025-01-01T00:00:00.000Z#56' },
            // Written by the client's writes only (legal-name.ts): a fact leaves it as stored.
            clientOrganisation: { value: companyName, clientOrderKey: '2025-01-01T00:00:00.000Z#90' },
            cancellationProcessed: false,
          }
          const read = map(previous, up)
          const blind = map(null, up)
          expect(withoutHash(merged(previous, blind))).toEqual(
            withoutHash(read as unknown as Record<string, unknown>),
          )
        },
      ),
    )
  })

  it('sticky: a processed cancellation changes the derived record, so the write is refused and merged', () => {
    const previous: Channel = { ...map(null), cancellationProcessed: true, lifecycle: 'terminated' }
    expect(map(previous).lifecycle).toBe('terminated')
    expect(map(null).lifecycle).not.toBe('terminated')
    expect(CHANNEL_FACT_SPEC.sticky).toEqual(['cancellationProcessed'])
  })

  it('a client record depends on nothing stored', () => {
    const up = upstreamClientSchema.parse(fixtures.clients[0])
    const a = clientFromUpstream(up, { now, source: 'webhook', kind: 'client_created', previous: null })
    const b = clientFromUpstream(up, {
      now,
      source: 'webhook',
      kind: 'client_created',
      previous: { ...a, name: 'other', contactEmail: 'x@example.com' },
    })
    expect(b).toEqual(a)
  })
})

describe('applyChannel withoutRead (one conditional write per fact)', () => {
  const setup = () => {
    const store = new MemoryStore()
    const clock = new FakeClock('2025-04-01T00:00:00Z')
    return { store, deps: { store, clock } }
  }
  const at = (modified: string) => ({ ...live, modified_at: modified })

  it('writes a new fact with one write and no read, keeps notice marks, and refuses an older one without a read', async () => {
    const { store, deps } = setup()
    // The channel's client is stored: a new channel reads it once for its legal name (legal-name.ts).
    const client = upstreamClientSchema.parse({ ...fixtures.clients[0], id: live.client_id })
    await applyClient(deps, client, { source: 'poll', kind: 'snapshot' })
    const reads0 = store.stats.reads
    const writes0 = store.stats.writes
    const r = await applyChannel(deps, at('2025-03-01T00:00:00Z'), {
      source: 'webhook',
      kind: 'channel_live',
      withoutRead: true,
    })
    expect(r.outcome).toBe('written')
    // One conditional write; then the client's legal name: one read, one write.
    expect([store.stats.reads - reads0, store.stats.writes - writes0]).toEqual([1, 2])
    const stored = (await store.channels.get(live.id)) as Channel
    await store.channels.putIfNewer(
      rehash({ ...stored, violation: { type: 'spam', restricted: false, at: '2025-03-01T00:00:00.000Z' } }),
      stored.contentHash,
    )
    const reads = store.stats.reads
    const writes = store.stats.writes
    const newer = await applyChannel(deps, at('2025-03-02T00:00:00Z'), {
      source: 'webhook',
      kind: 'channel_live',
      withoutRead: true,
    })
    expect(newer.outcome).toBe('written')
    expect(newer.record.violation).toEqual({
      type: 'spam',
      restricted: false,
      at: '2025-03-01T00:00:00.000Z',
    })
    const older = await applyChannel(deps, at('2025-02-01T00:00:00Z'), {
      source: 'webhook',
      kind: 'channel_ready',
      withoutRead: true,
    })
    expect(older.outcome).toBe('stale')
    expect(store.stats.reads - reads).toBe(0)
    expect(store.stats.writes - writes).toBe(2)
    expect(await store.channels.get(live.id)).toMatchObject({
      upstreamModifiedAt: '2025-03-02T00:00:00Z',
      violation: { type: 'spam' },
      clientOrganisation: { value: client.organisation },
    })
  })

  it('keeps a processed cancellation terminated: the refused fact is merged with the stored record', async () => {
    const { store, deps } = setup()
    await applyChannel(deps, at('2025-03-01T00:00:00Z'), {
      source: 'webhook',
      kind: 'cancellation_processed',
      withoutRead: true,
    })
    expect((await store.channels.get(live.id))?.lifecycle).toBe('terminated')
    const r = await applyChannel(deps, at('2025-03-02T00:00:00Z'), {
      source: 'webhook',
      kind: 'channel_live',
      withoutRead: true,
    })
    expect(r.outcome).toBe('written')
    expect(await store.channels.get(live.id)).toMatchObject({
      lifecycle: 'terminated',
      cancellationProcessed: true,
      upstreamModifiedAt: '2025-03-02T00:00:00Z',
    })
  })

  it('applies a client fact without reading the client', async () => {
    const { store, deps } = setup()
    const up = upstreamClientSchema.parse(fixtures.clients[0])
    const r = await applyClient(deps, up, { source: 'webhook', kind: 'client_created', withoutRead: true })
    expect(r.outcome).toBe('written')
    // The only read: a new client lists its stored channels once, for their legal name (legal-name.ts).
    expect(store.stats.reads).toBe(1)
    expect(
      (await applyClient(deps, up, { source: 'webhook', kind: 'client_created', withoutRead: true })).outcome,
    ).toBe('unchanged')
    expect(store.stats.reads).toBe(1)
  })
})

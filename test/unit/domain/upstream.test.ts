import { describe, expect, it } from 'vitest'
import { channelFromUpstream, clientFromUpstream } from '../../../shared/domain/mapping'
import {
  channelOfWebhookData,
  clientOfWebhookData,
  upstreamChannelSchema,
  upstreamClientSchema,
} from '../../../shared/domain/upstream'

const NOW = new Date('2026-03-15T12:00:00Z')

describe('upstream item schemas (shared by list pages and webhooks)', () => {
  it('accepts numeric ids and stores them as strings', () => {
    const ch = upstreamChannelSchema.parse({
      id: 1234,
      client_id: 77,
      waba_account: { id: 99 },
      integration: { app_id: 104148 },
    })
    expect(ch).toMatchObject({
      id: '1234',
      client_id: '77',
      waba_account: { id: '99' },
      integration: { app_id: '104148' },
    })
    expect(upstreamClientSchema.parse({ id: 5 }).id).toBe('5')
  })

  it('accepts an item with only its ids and maps every missing field to null', () => {
    const ch = channelFromUpstream(upstreamChannelSchema.parse({ id: 'A1CH', client_id: 'B2CL' }), {
      now: NOW,
      source: 'poll',
      kind: 'snapshot',
    })
    expect(ch).toMatchObject({
      channelId: 'A1CH',
      clientId: 'B2CL',
      phoneNumber: null,
      displayName: null,
      accountMode: null,
      terminatedAt: null,
      hubStatus: null,
      cancelledAt: null,
      upstreamModifiedAt: null,
      lifecycle: 'draft',
    })
    const cl = clientFromUpstream(upstreamClientSchema.parse({ id: 'B2CL' }), {
      now: NOW,
      source: 'poll',
      kind: 'snapshot',
    })
    expect(cl).toMatchObject({ clientId: 'B2CL', name: null, status: null, maxChannels: null })
  })

  it('takes the client id from the embedded client when client_id is left out', () => {
    expect(upstreamChannelSchema.parse({ id: 'A1CH', client: { id: 'B2CL' } }).client_id).toBe('B2CL')
  })

  it('refuses a channel that names no client, and wrong types, with the field in the reason', () => {
    const none = upstreamChannelSchema.safeParse({ id: 'A1CH' })
    expect(none.success).toBe(false)
    expect(none.error?.issues[0]?.path).toEqual(['client_id'])
    expect(upstreamChannelSchema.safeParse({ id: true, client_id: 'B2CL' }).success).toBe(false)
    expect(upstreamChannelSchema.safeParse({ id: 'A1CH', client_id: 'B2CL', status: 5 }).success).toBe(false)
    expect(upstreamChannelSchema.safeParse({ id: '', client_id: 'B2CL' }).success).toBe(false)
    expect(upstreamChannelSchema.safeParse({ id: 'x'.repeat(300), client_id: 'B2CL' }).success).toBe(false)
  })

  it('keeps unknown fields and stores hub_status and cancelled_at', () => {
    const ch = upstreamChannelSchema.parse({
      id: 'A1CH',
      client_id: 'B2CL',
      is_on_biz_app: true,
      hub_status: 'pending_deletion',
      cancelled_at: '2026-03-01T00:00:00Z',
    })
    expect(ch).toMatchObject({ is_on_biz_app: true })
    expect(channelFromUpstream(ch, { now: NOW, source: 'poll', kind: 'snapshot' })).toMatchObject({
      hubStatus: 'pending_deletion',
      cancelledAt: '2026-03-01T00:00:00Z',
      lifecycle: 'pending_deletion',
    })
  })
})

describe('where the entity sits in webhook data', () => {
  it('finds a channel under data or data.channel, with the client beside it', () => {
    const flat = { id: 'A1CH', client_id: 'B2CL' }
    expect(channelOfWebhookData(flat)).toBe(flat)
    expect(channelOfWebhookData({ channel: { id: 'A1CH' }, client: { id: 'B2CL', name: 'Bakery' } })).toEqual(
      {
        id: 'A1CH',
        client: { id: 'B2CL', name: 'Bakery' },
      },
    )
    expect(channelOfWebhookData({ channel: { id: 'A1CH' }, client_id: 'B2CL' })).toEqual({
      id: 'A1CH',
      client_id: 'B2CL',
    })
    // A non-object `channel` field is just a field.
    expect(channelOfWebhookData({ id: 'A1CH', channel: 'whatsapp' })).toEqual({
      id: 'A1CH',
      channel: 'whatsapp',
    })
  })

  it('finds a client under data or data.client, its id falling back to data.client_id', () => {
    const flat = { id: 'B2CL', name: 'Bakery' }
    expect(clientOfWebhookData(flat)).toBe(flat)
    expect(clientOfWebhookData({ client: { id: 'B2CL', name: 'Bakery' } })).toEqual({
      id: 'B2CL',
      name: 'Bakery',
    })
    expect(clientOfWebhookData({ id: 'A1CH', client_id: 'B2CL', client: { name: 'Bakery' } })).toEqual({
      id: 'B2CL',
      name: 'Bakery',
    })
    expect(clientOfWebhookData({ id: 'B2CL', client: { name: 'x' } })).toEqual({
      id: 'B2CL',
      client: { name: 'x' },
    })
  })
})

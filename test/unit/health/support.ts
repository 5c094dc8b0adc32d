import { channelFromUpstream } from '../../../shared/domain/mapping'
import type { Channel } from '../../../shared/domain/types'
import type { MessagingTarget } from '../../../shared/ports'
import type { HealthCheckDeps, HealthKeys } from '../../../shared/services/health/check-channel'
import { changeFeed } from '../../fakes/change-feed'
import { FakeClock } from '../../fakes/clock'
import { MemoryStore } from '../../fakes/memory-store'
import { FakeMessagingApi } from '../../fakes/messaging-api'

/** A stored live (or other) channel with a number. */
export function liveChannel(n: number, patch: { account_mode?: string; phone?: string } = {}): Channel {
  const id = `H${String(n).padStart(5, '0')}CH`
  return channelFromUpstream(
    {
      id,
      client_id: 'H00001CL',
      status: 'ready',
      account_mode: patch.account_mode ?? 'live',
      created_at: '2026-01-01T00:00:00Z',
      modified_at: '2026-01-01T00:00:00Z',
      setup_info: { phone_number: patch.phone ?? `+4915100${String(n).padStart(5, '0')}` },
    },
    { now: new Date('2026-01-02T00:00:00Z'), source: 'poll', kind: 'snapshot' },
  )
}

/** Keys held in memory: channel id → key, with every refusal recorded. */
export class MemoryKeys implements HealthKeys {
  readonly keys = new Map<string, string>()
  readonly rejections: string[] = []
  readonly lookups: string[] = []
  address = 'https://waba-v2.example.test'
  kind: MessagingTarget['kind'] = 'cloud'
  async target(channel: { channelId: string }): Promise<MessagingTarget | null> {
    this.lookups.push(channel.channelId)
    const apiKey = this.keys.get(channel.channelId)
    return apiKey ? { apiKey, keyRef: `ref-${apiKey}`, address: this.address, kind: this.kind } : null
  }
  async rejected(channel: { channelId: string }): Promise<void> {
    this.rejections.push(channel.channelId)
  }
}

/** A store with `count` live channels, each with a key on the fake Messaging API. */
export async function healthWorld(count: number) {
  const store = new MemoryStore()
  const changes = changeFeed(store)
  const clock = new FakeClock('2026-01-15T10:00:00.000Z')
  const messaging = new FakeMessagingApi()
  const keys = new MemoryKeys()
  const channels: Channel[] = []
  for (let i = 1; i <= count; i++) {
    const ch = liveChannel(i)
    await store.channels.putIfNewer(ch)
    const key = `key-${ch.channelId}`
    keys.keys.set(ch.channelId, key)
    messaging.addKey(key, { phoneNumber: (ch.phoneNumber ?? '').replace(/\D/g, '') })
    channels.push(ch)
  }
  const logger = { info: () => undefined, warn: () => undefined } as unknown as HealthCheckDeps['logger']
  return { store, changes, clock, messaging, keys, channels, deps: { store, clock, messaging, keys, logger } }
}

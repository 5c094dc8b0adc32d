import { describe } from 'vitest'
import { startSimulator } from '../../../local/simulator/server'
import { createMessagingApiClient } from '../../../shared/adapters/messaging-api/client'
import { apiKindOf } from '../../../shared/domain/health'
import type { MessagingTarget } from '../../../shared/ports'
import { messagingContract } from './messaging-contract'

describe('Messaging API contract: the simulator through the real client over HTTP', () => {
  messagingContract(async () => {
    const sim = await startSimulator({ seed: 'empty', deliverWebhooks: false, variance: 'off' })
    const client = sim.addClient({})
    const api = createMessagingApiClient({ baseDelayMs: 5, maxDelayMs: 20 })
    const channelOf = new Map<string, string>()
    return {
      api,
      issue: async ({ kind, phone }) => {
        const channel = sim.addChannel({
          client_id: client.id,
          account_mode: 'live',
          status: 'ready',
          setup_info: { phone_number: phone },
          ...(kind === 'onpremise' ? { version: 1 } : {}),
        } as Parameters<typeof sim.addChannel>[0])
        const key = sim.keys.create(channel)
        channelOf.set(key.api_key, channel.id)
        const target: MessagingTarget = {
          apiKey: key.api_key,
          address: key.address,
          kind: apiKindOf(key.address),
        }
        return target
      },
      setHealth: async (t, status) => {
        sim.messaging.setHealth(channelOf.get(t.apiKey) ?? '', status)
      },
      revoke: async (t) => {
        sim.keys.revoke(channelOf.get(t.apiKey) ?? '')
      },
      close: () => sim.close(),
    }
  })
})

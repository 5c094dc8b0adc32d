import { describe } from 'vitest'
import type { MessagingTarget } from '../../../shared/ports'
import { FakeMessagingApi } from '../../fakes/messaging-api'
import { messagingContract } from './messaging-contract'

describe('Messaging API contract: the in-memory fake of the unit tests', () => {
  messagingContract(async () => {
    const fake = new FakeMessagingApi()
    let n = 0
    return {
      api: fake,
      issue: async ({ kind, phone }) => {
        n += 1
        const target: MessagingTarget = {
          apiKey: `fake-key-${n}`,
          address: 'https://fake.example.test',
          kind,
        }
        fake.addKey(target.apiKey, { kind, phoneNumber: phone.replace(/\D/g, '') })
        return target
      },
      setHealth: async (t, status) => fake.setHealth(t.apiKey, status),
      revoke: async (t) => fake.revoke(t.apiKey),
      close: async () => undefined,
    }
  })
})

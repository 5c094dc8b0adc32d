import { describe } from 'vitest'
import { FakePartnerApi } from '../../fakes/partner-api'
import { partnerApiContract } from './partner-api-contract'

describe('Partner API contract: the in-memory fake of the unit tests', () => {
  partnerApiContract(async () => {
    const fake = new FakePartnerApi({ now: () => new Date() })
    return {
      api: fake,
      addClient: async (partial) => {
        fake.addClient(partial)
      },
      addChannel: async (partial) => {
        fake.addChannel(partial)
      },
      renameChannel: async (id, name) => {
        fake.mutateChannel(id, { setup_info: { phone_name: name } })
      },
      now: () => new Date(),
      withholdKeyPermission: async (channel) => {
        fake.keyPermissionMissing.add(channel.id)
      },
      close: async () => undefined,
    }
  })
})

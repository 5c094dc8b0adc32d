import { describe } from 'vitest'
import { startSimulator } from '../../../local/simulator/server'
import { createPartnerApiClient } from '../../../shared/adapters/partner-api/client'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'
import { partnerApiContract } from './partner-api-contract'

describe.each([
  ['without variance', 'off' as const],
  ['with every real-world variant on every object', 'on' as const],
])('Partner API contract: the simulator through the real client over HTTP, %s', (_name, variance) => {
  partnerApiContract(async () => {
    const sim = await startSimulator({ seed: 'empty', deliverWebhooks: false, variance, varianceRate: 1 })
    const api = createPartnerApiClient({
      baseUrl: sim.baseUrl,
      partnerId: sim.partnerId,
      auth: 'api_key',
      secrets: createEnvSecretSource({ partnerApi: 'local-partner-api-key' }),
      baseDelayMs: 5,
      maxDelayMs: 20,
    })
    return {
      api,
      addClient: async (partial) => {
        sim.addClient(partial)
      },
      addChannel: async (partial) => {
        sim.addChannel(partial)
      },
      renameChannel: async (id, name) => {
        sim.mutateChannel(id, { setup_info: { phone_name: name } })
      },
      now: () => new Date(),
      withholdKeyPermission: async (channel) => {
        sim.setPaymentMode(channel.client_id, 'direct')
      },
      close: () => sim.close(),
    }
  })
})

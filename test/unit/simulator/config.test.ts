import { describe, expect, it } from 'vitest'
import { loadSimulatorConfig, SimulatorConfigError, simulatorOptions } from '../../../local/simulator/config'
import { DEFAULT_VARIANTS } from '../../../local/simulator/variance'

describe('simulator config', () => {
  it('has the documented local defaults, empty values counting as unset', () => {
    const config = loadSimulatorConfig({ SIMULATOR_PORT: '', PARTNER_ID: '' })
    expect(config).toEqual({
      port: 4010,
      host: '127.0.0.1',
      partnerId: 'demoPA',
      apiKey: 'local-partner-api-key',
      platformSecret: 'local-platform-secret',
      webhookToken: null,
      webhookUrl: null,
      deliverWebhooks: true,
      autoAdvanceMs: 20_000,
      variance: DEFAULT_VARIANTS,
    })
  })

  it('reads every setting and turns them into simulator options', () => {
    const config = loadSimulatorConfig({
      SIMULATOR_PORT: '0',
      PARTNER_ID: 'otherPA',
      PARTNER_API_KEY: 'k',
      PLATFORM_SECRET: 's',
      WEBHOOK_TOKEN: 't',
      SIMULATOR_WEBHOOK_URL: 'http://127.0.0.1:9/hook',
      SIMULATOR_WEBHOOKS: 'off',
      SIMULATOR_AUTO_ADVANCE_MS: '0',
      SIMULATOR_VARIANCE: 'off',
    })
    expect(simulatorOptions(config)).toMatchObject({
      port: 0,
      partnerId: 'otherPA',
      apiKeys: ['k'],
      platformSecret: 's',
      webhookUrl: 'http://127.0.0.1:9/hook',
      webhookHeaders: { 'x-webhook-token': 't' },
      deliverWebhooks: false,
      autoAdvanceMs: null,
      variance: 'off',
    })
  })

  it('reads SIMULATOR_VARIANCE as on, off or a list of variant names', () => {
    expect(loadSimulatorConfig({ SIMULATOR_VARIANCE: 'on' }).variance).toBe('on')
    expect(loadSimulatorConfig({ SIMULATOR_VARIANCE: 'numeric_ids, v1_channels' }).variance).toEqual(
      new Set(['numeric_ids', 'v1_channels']),
    )
  })

  it.each([
    ['SIMULATOR_PORT', '70000'],
    ['SIMULATOR_WEBHOOKS', 'yes'],
    ['SIMULATOR_AUTO_ADVANCE_MS', '-1'],
    ['SIMULATOR_WEBHOOK_URL', 'not a url'],
    ['SIMULATOR_VARIANCE', 'numeric_ids,bogus'],
  ])('refuses %s=%s with a message naming it', (name, value) => {
    expect(() => loadSimulatorConfig({ [name]: value })).toThrow(SimulatorConfigError)
    expect(() => loadSimulatorConfig({ [name]: value })).toThrow(name)
  })
})

import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../shared/domain/errors'
import { loadConfig, localSettings, SETTINGS, type SettingInfo, startEnvSettings } from '../../shared/env'

describe('loadConfig', () => {
  it('applies documented defaults around the one required setting', () => {
    const c = loadConfig({ PARTNER_ID: 'examplePA' })
    expect(c.PARTNER_API_BASE_URL).toBe('https://hub.360dialog.io/api/v2')
    expect(c.WEBHOOK_RETENTION_DAYS).toBe(30)
    expect(c.CANCELLATION_BUDGET_PER_HOUR).toBe(20)
    expect(c.POLL_CONCURRENCY).toBe(4)
  })

  it('names every bad variable in one message, without a stack in the message', () => {
    let err: unknown
    try {
      loadConfig({ PARTNER_ID: 'bad id!', POLL_PAGE_SIZE: '0', PARTNER_API_BASE_URL: 'nope' })
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ConfigError)
    const message = (err as Error).message
    expect(message).toContain('PARTNER_ID')
    expect(message).toContain('POLL_PAGE_SIZE')
    expect(message).toContain('PARTNER_API_BASE_URL')
    expect(message).not.toContain('    at ')
  })

  it('reports a missing required variable', () => {
    expect(() => loadConfig({})).toThrow(/PARTNER_ID/)
  })

  it('refuses to turn signature checking off without a webhook token', () => {
    expect(() => loadConfig({ PARTNER_ID: 'aPA', WEBHOOK_SIGNATURE: 'off', SECRETS_SOURCE: 'env' })).toThrow(
      /WEBHOOK_SIGNATURE/,
    )
    expect(() => loadConfig({ PARTNER_ID: 'aPA', WEBHOOK_SIGNATURE: 'off' })).toThrow(
      /WEBHOOK_TOKEN_SECRET_ID/,
    )
    expect(
      loadConfig({ PARTNER_ID: 'aPA', WEBHOOK_SIGNATURE: 'off', SECRETS_SOURCE: 'env', WEBHOOK_TOKEN: 't' })
        .WEBHOOK_SIGNATURE,
    ).toBe('off')
  })

  it('requires username and password for bearer auth from the environment', () => {
    expect(() =>
      loadConfig({ PARTNER_ID: 'aPA', SECRETS_SOURCE: 'env', PARTNER_API_AUTH: 'bearer' }),
    ).toThrow(/PARTNER_API_USERNAME/)
  })

  it('never deploys a setting that holds a secret value, and names each secret id once', () => {
    const specs = Object.entries(SETTINGS) as [string, SettingInfo][]
    for (const [name, spec] of specs) {
      if (spec.secretValue || spec.secret) expect(spec.usedBy, name).toEqual([])
    }
    const ids = specs.flatMap(([, spec]) => (spec.secretId ? [spec.secretId] : []))
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('gives npm start a configuration that parses with env secrets and the file sink', () => {
    const c = loadConfig(localSettings())
    expect(c).toMatchObject({ PARTNER_ID: 'demoPA', SECRETS_SOURCE: 'env', EVENT_SINK: 'file' })
    expect(c.PLATFORM_SECRET).toBe('local-platform-secret')
  })

  it('takes from npm start only the settings marked startEnv, blank ones as unset', () => {
    expect(
      startEnvSettings({ PARTNER_ID: 'aPA', PLATFORM_SECRET: ' ', TABLE_OPS: 'x', HOME: '/root' }),
    ).toEqual({ PARTNER_ID: 'aPA' })
  })
})

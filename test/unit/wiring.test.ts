import { describe, expect, it, vi } from 'vitest'
import { ADAPTER_NAMES } from '../../shared/deps'
import { loadConfig } from '../../shared/env'
import { FUNCTION_KEYS, FUNCTIONS } from '../../shared/functions'
import type { StateStore } from '../../shared/ports'
import { ADAPTER_BUILDERS, createAppDeps } from '../../shared/wiring'
import { wireFunction } from '../../shared/wiring/core'
import { MemoryStore } from '../fakes/memory-store'

const config = loadConfig({ PARTNER_ID: 'testPA', SECRETS_SOURCE: 'env', EVENT_SINK: 'none' })
const store = (): StateStore => new MemoryStore()

describe('per-function wiring', () => {
  it('builds a listed adapter on its first use, once, and no other', () => {
    const secrets = vi.fn(ADAPTER_BUILDERS.secrets)
    const deps = wireFunction('webhook', config, { secrets }, { store: store() })
    expect(secrets).not.toHaveBeenCalled()
    const first = deps.secrets
    expect(deps.secrets).toBe(first)
    expect(secrets).toHaveBeenCalledTimes(1)
  })

  it('refuses, naming the fix, any use of an adapter the function does not list', () => {
    const deps = wireFunction('webhook', config, ADAPTER_BUILDERS, { store: store() })
    expect(() => deps.events.publish([])).toThrow(
      /webhook does not wire the events adapter.*FUNCTIONS\.webhook\.adapters/,
    )
    expect(() => deps.partnerApi.stats()).toThrow(/partnerApi/)
    expect(() => deps.failureQueue.depth()).toThrow(/failureQueue/)
    // Passing the deps around (spreading them) touches nothing.
    expect(() => ({ ...deps })).not.toThrow()
  })

  it('ignores overrides of adapters the function does not list (as in Lambda, they do not exist)', () => {
    const events = { publish: vi.fn(async () => ({ published: 0 })) }
    const deps = wireFunction('api', config, ADAPTER_BUILDERS, { store: store(), events })
    expect(() => deps.events.publish([])).toThrow(/api does not wire the events adapter/)
    expect(events.publish).not.toHaveBeenCalled()
  })

  it('gives every function exactly its listed adapters', () => {
    for (const fn of FUNCTION_KEYS) {
      const deps = wireFunction(fn, config, ADAPTER_BUILDERS, { store: store() })
      for (const name of ADAPTER_NAMES) {
        const listed = (FUNCTIONS[fn].adapters as readonly string[]).includes(name)
        const read = (): unknown => (deps[name] as unknown as Record<string, unknown>)['anyMember']
        if (listed) expect(read, `${fn}.${name}`).not.toThrow()
        else expect(read, `${fn}.${name}`).toThrow(/does not wire/)
      }
    }
  })

  it('createAppDeps (local runner, tests, tools) has every adapter', () => {
    const deps = createAppDeps(config, 'test', { store: store() })
    for (const name of ADAPTER_NAMES)
      expect(() => (deps[name] as unknown as Record<string, unknown>)['anyMember'], name).not.toThrow()
  })
})

describe('FUNCTIONS adapters agree with the grants', () => {
  it('a function reads secrets exactly when it lists the secrets adapter', () => {
    for (const fn of FUNCTION_KEYS) {
      const { access, adapters } = FUNCTIONS[fn]
      expect((adapters as readonly string[]).includes('secrets'), fn).toBe(access.secrets.length > 0)
    }
  })

  it('a function publishes change events exactly when it lists the events adapter', () => {
    for (const fn of FUNCTION_KEYS) {
      const { access, adapters } = FUNCTIONS[fn]
      expect((adapters as readonly string[]).includes('events'), fn).toBe(access.publishesEvents)
    }
  })

  it('the Partner API client is wired only where its secret is granted', () => {
    for (const fn of FUNCTION_KEYS) {
      const { access, adapters } = FUNCTIONS[fn]
      if ((adapters as readonly string[]).includes('partnerApi')) {
        expect(access.secrets as readonly string[], fn).toContain('partnerApi')
        expect(adapters as readonly string[], fn).toContain('secrets')
      }
    }
  })
})

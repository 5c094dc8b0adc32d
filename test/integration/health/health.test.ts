import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../../local/app'
import type { ChangeEvent } from '../../../shared/domain/types'
import { FakeClock } from '../../fakes/clock'
import { call, captureOutput, expectNoCanary, seen, startCanaryApp } from '../api/support'

/**
 * Channel health through the real path: the simulator's channels and their keys (the api_keys registry),
 * created by key provisioning in the poll and kept in the local runner's encrypted key store, the health job as the schedule invokes it, the Messaging API endpoints
 * of the simulator over HTTP, and the management API (SigV4, OpenAPI-checked answers).
 */
describe('channel health, end to end', () => {
  let app: App
  const clock = new FakeClock('2026-11-26T10:00:00.000Z')
  const events: ChangeEvent[] = []
  let release: () => void
  const CLIENT = 'HlthA1CL'

  /** A live channel upstream; the poll below stores it and key provisioning creates its key. */
  function liveChannel(id: string, phone: string, version?: 1): void {
    app.simulator!.addChannel({
      id,
      client_id: CLIENT,
      account_mode: 'live',
      status: 'ready',
      setup_info: { phone_number: phone },
      ...(version ? { version } : {}),
    } as Parameters<NonNullable<App['simulator']>['addChannel']>[0])
  }

  const channel = async (id: string) => (await call(app, `/channels/${id}`)).json

  beforeAll(async () => {
    release = captureOutput()
    app = await startCanaryApp(
      { HEALTH_SPREAD: 'off' },
      {
        healthClock: clock,
        simulator: { seed: 'empty', deliverWebhooks: false, variance: 'off' },
        onChange: (e) => events.push(e),
      },
    )
    app.simulator!.addClient({ id: CLIENT })
    liveChannel('HlthC01CH', '+4915100000101')
    liveChannel('HlthC02CH', '+4915100000102', 1)
    liveChannel('HlthC03CH', '+4915100000103')
    // The client has not granted the key permission for the third channel: it stays without a key.
    app.simulator!.keys.setPermission('HlthC03CH', false)
    // The poll stores the channels; its key step creates the keys of the two it may.
    await app.poll()
    await app.settle()
    expect((await channel('HlthC01CH')).keyStatus).toBe('active')
    expect((await channel('HlthC03CH')).keyStatus).toBe('permission_missing')
    await remember()
  })

  /** Every key value the store held during the suite (for the leak check after it). */
  const issued = new Set<string>()
  const remember = async (): Promise<void> => {
    for (const id of ['HlthC01CH', 'HlthC02CH', 'HlthC03CH']) {
      const value = await app.deps.channelKeys.get(id)
      if (value) issued.add(value)
    }
  }

  afterAll(async () => {
    await remember()
    await app?.close()
    release?.()
    expectNoCanary()
    // No key value in any log line or answer of the suite (the health job sends it as a header only).
    expect(issued.size).toBeGreaterThanOrEqual(3)
    const output = seen.join('\n')
    for (const value of issued) expect(output).not.toContain(value)
  })

  it('checks every live channel with a key, Cloud and on-premise, and serves the health', async () => {
    const s = await app.checkHealth()
    expect(s).toMatchObject({ outcome: 'succeeded', live: 3, checked: 2, withoutKey: 1, numberChecks: 2 })
    expect((await channel('HlthC01CH')).health).toEqual({
      status: 'AVAILABLE',
      checkedAt: clock.now().toISOString(),
      errors: [],
    })
    expect((await channel('HlthC02CH')).health).toMatchObject({ status: 'connected', errors: [] })
    expect((await channel('HlthC03CH')).health).toBeNull()
    const requests = app.simulator!.messaging.requests()
    expect(requests.filter((r) => r.channelId === 'HlthC03CH')).toEqual([])
    expect(requests.map((r) => r.path).sort()).toEqual([
      '/messaging/health_status',
      '/messaging/v1/configs/phone_number',
      '/waba/v1/configs/phone_number',
      '/waba/v1/health',
    ])
    const status = (await call(app, '/status')).json as { health: { byStatus: Record<string, number> } }
    expect(status.health.byStatus).toMatchObject({ AVAILABLE: 1, connected: 1, unchecked: 1 })
  })

  it('follows a change at the next sweep: the health, the ?health= filter, the event and the status', async () => {
    app.simulator!.messaging.setHealth('HlthC01CH', 'BLOCKED')
    app.simulator!.messaging.setHealth('HlthC02CH', 'disconnected')
    // Too soon: the pacing skips the sweep and nothing is called.
    clock.advance(60_000)
    const calls = app.simulator!.messaging.requests().length
    expect((await app.checkHealth()).outcome).toBe('skipped')
    expect(app.simulator!.messaging.requests().length).toBe(calls)
    clock.advance(7 * 60_000)
    const s = await app.checkHealth()
    expect(s).toMatchObject({ checked: 2, changed: 2, becameUnhealthy: 2, numberChecks: 0 })
    const blocked = (await channel('HlthC01CH')).health as { status: string; errors: { code: string }[] }
    expect(blocked.status).toBe('BLOCKED')
    expect(blocked.errors.map((e) => e.code)).toEqual(['meta_141006'])
    const listed = (await call(app, '/channels?health=BLOCKED')).json as { items: { channelId: string }[] }
    expect(listed.items.map((c) => c.channelId)).toEqual(['HlthC01CH'])
    const down = (await call(app, '/channels?health=disconnected')).json as { items: { channelId: string }[] }
    expect(down.items.map((c) => c.channelId)).toEqual(['HlthC02CH'])
    await app.settle()
    const health = events.filter((e) => e.detailType === 'Channel Health Changed')
    // Per channel in order; the two channels' checks run concurrently.
    expect(health.map((e) => `${e.detail.channelId} ${e.detail.from}->${e.detail.to}`).sort()).toEqual([
      'HlthC01CH AVAILABLE->BLOCKED',
      'HlthC01CH null->AVAILABLE',
      'HlthC02CH connected->disconnected',
      'HlthC02CH null->connected',
    ])
    const status = (await call(app, '/status')).json as { health: { byStatus: Record<string, number> } }
    expect(status.health.byStatus).toMatchObject({ BLOCKED: 1, disconnected: 1, unchecked: 1 })
  })

  it('a refused key is marked invalid and replaced once by the next poll; a refused replacement stays invalid', async () => {
    const sim = app.simulator!
    const id = 'HlthC01CH'
    const callsOf = () => sim.messaging.requests().filter((r) => r.channelId === id).length
    const stored = async () => (await app.deps.channelKeys.read(id))?.keyId
    const firstKey = await stored()
    expect(sim.keys.createdCount(id)).toBe(1)

    await remember()
    // The client's key is revoked upstream: the Messaging API answers 401 (the simulator's fault mode).
    sim.keys.revoke(id)
    clock.advance(15 * 60_000)
    expect(await app.checkHealth()).toMatchObject({ keysRejected: 1 })
    expect((await channel(id)).keyStatus).toBe('invalid')
    // Not re-checked with the refused key, nor replaced by the health job itself.
    clock.advance(15 * 60_000)
    let before = callsOf()
    expect(await app.checkHealth()).toMatchObject({ keysRejected: 0 })
    expect(callsOf()).toBe(before)
    expect(sim.keys.createdCount(id)).toBe(1)

    // The next reconciliation run creates exactly one replacement; checks resume with it.
    await app.poll()
    expect(sim.keys.createdCount(id)).toBe(2)
    expect((await channel(id)).keyStatus).toBe('active')
    expect(await stored()).not.toBe(firstKey)
    await app.poll()
    expect(sim.keys.createdCount(id)).toBe(2)
    clock.advance(15 * 60_000)
    before = callsOf()
    expect(await app.checkHealth()).toMatchObject({ keysRejected: 0 })
    expect(callsOf()).toBeGreaterThan(before)

    // The replacement is refused too: invalid until a new permission, never a second replacement.
    await remember()
    sim.keys.revoke(id)
    clock.advance(15 * 60_000)
    expect(await app.checkHealth()).toMatchObject({ keysRejected: 1 })
    expect((await channel(id)).keyStatus).toBe('invalid')
    await app.poll()
    await app.poll()
    expect(sim.keys.createdCount(id)).toBe(2)
    clock.advance(15 * 60_000)
    before = callsOf()
    await app.checkHealth()
    expect(callsOf()).toBe(before)
    const audit = (await app.deps.store.audit.list(`channel#${id}`, 50)).items
    expect(audit.filter((a) => a.action === 'channel_key.invalid').map((a) => a.principal)).toEqual([
      'system:health',
      'system:health',
    ])
  })
})

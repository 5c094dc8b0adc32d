import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, LOCAL_DEFAULTS } from '../../../local/app'
import { createMemoryEventSink } from '../../../shared/adapters/event-sink'
import { provisionChannelKey } from '../../../shared/services/channel-keys/provision-key'
import {
  type ApiResponse,
  CLIENT,
  call,
  captureOutput,
  eventually,
  expectNoCanary,
  seen,
  startCanaryApp,
  storedChannel,
} from './support'

/**
 * Channel API keys over the local server (SigV4, dynalite, the simulator): a client's permission
 * webhook provisions the key, only the key-reader pair reads or rotates it (every read audited with
 * the caller's principal), a rotation happens once per Idempotency-Key, and a key value is never
 * printed, published, stored in clear or answered anywhere but the key-reader's own read.
 */

let app: App
let restore: () => void
const sink = createMemoryEventSink()
/** Every key value the simulator issued during the suite. */
const issued = new Set<string>()
/** The bodies of the key reads that were allowed to carry a key. */
const keyBodies = new Set<string>()

const keyPath = (channelId: string): string => `/channels/${channelId}/api-key`
const rotatePath = (channelId: string): string => `/channels/${channelId}/api-key/rotate`
/** Signs as the key-reader pair (local/app.ts LOCAL_DEFAULTS), as a partner system would. */
const asKeyReader = {
  credentials: {
    accessKeyId: LOCAL_DEFAULTS.keyReaderAccessKeyId,
    secretAccessKey: LOCAL_DEFAULTS.keyReaderSecretAccessKey,
  },
}

async function readKey(channelId: string): Promise<ApiResponse> {
  const res = await call(app, keyPath(channelId), asKeyReader)
  if (res.status === 200) keyBodies.add(res.body)
  return res
}

/** The simulator's issued keys of a channel (active ones only), remembered for the leak check. */
function upstreamKeys(channelId: string): string[] {
  const keys = (app.simulator?.keys.list(channelId) ?? []).map((k) => k.api_key)
  for (const k of keys) issued.add(k)
  return keys
}

const keyCreations = (channelId: string): number =>
  (app.simulator?.requests() ?? []).filter(
    (r) => r.method === 'POST' && r.path.endsWith(`/channels/${channelId}/api_keys`),
  ).length

/** A live channel the store knows whose client then grants the key permission (the webhook path). */
async function channelWithKey(): Promise<string> {
  const channelId = await storedChannel(app)
  await app.simulator?.setPermission(channelId, true)
  await eventually(async () => (await app.deps.store.channels.get(channelId))?.keyStatus === 'active')
  await app.settle()
  return channelId
}

beforeAll(async () => {
  restore = captureOutput()
  app = await startCanaryApp({}, { sink })
})

afterAll(async () => {
  await app?.close()
  restore()
  expectNoCanary()
  // Apart from the key-reader's own reads, no answer and no output ever carried a key value.
  expect(issued.size).toBeGreaterThan(0)
  const elsewhere = seen.filter((s) => !keyBodies.has(s)).join('\n')
  for (const key of issued) expect(elsewhere).not.toContain(key)
})

describe('channel API keys over the local server', () => {
  it('a channel_permission_granted webhook provisions the key: keyStatus active, one key upstream', async () => {
    const channelId = await storedChannel(app)
    const before = await call(app, `/channels/${channelId}`)
    expect(before.status).toBe(200)
    expect(before.json['keyStatus'] ?? 'none').toBe('none')
    expect(keyCreations(channelId)).toBe(0)

    await app.simulator?.setPermission(channelId, true)
    await eventually(async () => (await app.deps.store.channels.get(channelId))?.keyStatus === 'active')
    await app.settle()

    const after = await call(app, `/channels/${channelId}`)
    expect(after.json['keyStatus']).toBe('active')
    expect(keyCreations(channelId)).toBe(1)
    expect(upstreamKeys(channelId)).toHaveLength(1)
    const audit = (await app.deps.store.audit.list(`channel#${channelId}`, 50)).items
    expect(audit.some((a) => a.principal === 'system:webhook')).toBe(true)
  })

  it('the key-reader pair reads the key (no-store), and the read is audited with its principal', async () => {
    const channelId = await channelWithKey()
    const [upstream] = upstreamKeys(channelId)
    const res = await readKey(channelId)
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(res.json).toMatchObject({ channelId, apiKey: upstream })
    expect(app.simulator?.keys.lookup(res.json['apiKey'] as string)).toMatchObject({
      channelId,
      active: true,
    })

    const audit = (await app.deps.store.audit.list(`channel#${channelId}`, 50)).items
    const reads = audit.filter((a) => a.action === 'channel_key.read')
    expect(reads).toHaveLength(1)
    expect(reads[0]).toMatchObject({ principal: LOCAL_DEFAULTS.keyReaderPrincipalArn, outcome: 'read' })
    // The trail names the key, never its value.
    expect(JSON.stringify(audit)).not.toContain(upstream)
  })

  it('refuses the read/operator pair with 403 on both key routes: nothing read, audited or sent upstream', async () => {
    const channelId = await channelWithKey()
    const creations = keyCreations(channelId)
    const auditBefore = (await app.deps.store.audit.list(`channel#${channelId}`, 50)).items.length

    const get = await call(app, keyPath(channelId))
    expect(get.status).toBe(403)
    expect(get.json).toMatchObject({ error: { code: 'forbidden' } })
    const rotate = await call(app, rotatePath(channelId), {
      method: 'POST',
      headers: { 'Idempotency-Key': 'operator-rotate-1' },
    })
    expect(rotate.status).toBe(403)

    expect(keyCreations(channelId)).toBe(creations)
    expect((await app.deps.store.audit.list(`channel#${channelId}`, 50)).items).toHaveLength(auditBefore)
  })

  it('an unknown channel or one without a key is a 404, and the read is still audited', async () => {
    const missing = await readKey('Zz99Zz99CH')
    expect(missing.status).toBe(404)
    expect(missing.json).toMatchObject({ error: { code: 'channel_not_found' } })
    const channelId = await storedChannel(app)
    const none = await readKey(channelId)
    expect(none.status).toBe(404)
    expect(none.json).toMatchObject({ error: { code: 'channel_key_not_found' } })
    const audit = (await app.deps.store.audit.list(`channel#${channelId}`, 50)).items
    expect(audit.filter((a) => a.action === 'channel_key.read')).toMatchObject([
      { principal: LOCAL_DEFAULTS.keyReaderPrincipalArn, outcome: 'channel_key_not_found' },
    ])
  })

  it('rotates once per Idempotency-Key: a replay answers the first answer, upstream sees one creation', async () => {
    const channelId = await channelWithKey()
    const [old] = upstreamKeys(channelId)
    const creations = keyCreations(channelId)
    const rotate = (key: string) =>
      call(app, rotatePath(channelId), {
        method: 'POST',
        headers: { 'Idempotency-Key': key },
        ...asKeyReader,
      })

    const first = await rotate('rotate-once-1')
    expect(first.status).toBe(200)
    expect(first.json).toMatchObject({ channelId, keyStatus: 'active' })
    expect(first.json).not.toHaveProperty('apiKey')
    const again = await rotate('rotate-once-1')
    expect(again.status).toBe(200)
    expect(again.body).toBe(first.body)
    expect(again.headers.get('idempotent-replayed')).toBe('true')
    expect(keyCreations(channelId)).toBe(creations + 1)

    const [current] = upstreamKeys(channelId)
    expect(current).not.toBe(old)
    expect(app.simulator?.keys.lookup(old as string)?.active).toBe(false)
    const read = await readKey(channelId)
    expect(read.json).toMatchObject({ apiKey: current, keyId: first.json['keyId'] })
  })

  it('a rotation without an Idempotency-Key or with a body is a 400 with nothing sent upstream', async () => {
    const channelId = await channelWithKey()
    const creations = keyCreations(channelId)
    const noKey = await call(app, rotatePath(channelId), { method: 'POST', ...asKeyReader })
    expect(noKey.status).toBe(400)
    expect(noKey.json).toMatchObject({ error: { code: 'missing_idempotency_key' } })
    const withBody = await call(app, rotatePath(channelId), {
      method: 'POST',
      body: '{"apiKey":"mine"}',
      headers: { 'Idempotency-Key': 'rotate-body-1' },
      ...asKeyReader,
    })
    expect(withBody.status).toBe(400)
    expect(keyCreations(channelId)).toBe(creations)
  })

  it('publishes no key value in change events, on the channel item or in the audit trail', async () => {
    const channelId = await channelWithKey()
    const [value] = upstreamKeys(channelId)
    await app.settle()
    expect(JSON.stringify(sink.events)).not.toContain(value)
    expect(JSON.stringify(await app.deps.store.channels.get(channelId))).not.toContain(value)
    expect(JSON.stringify(await app.deps.store.audit.list(`channel#${channelId}`, 50))).not.toContain(value)
  })

  it('a channel_permission_revoked webhook deletes the stored key; a new grant creates one key again', async () => {
    const channelId = await channelWithKey()
    upstreamKeys(channelId)
    const creations = keyCreations(channelId)
    await app.simulator?.setPermission(channelId, false)
    await eventually(
      async () => (await app.deps.store.channels.get(channelId))?.keyStatus === 'permission_missing',
    )
    await app.settle()
    expect(await app.deps.channelKeys.has(channelId)).toBe(false)
    expect((await readKey(channelId)).status).toBe(404)
    const audit = (await app.deps.store.audit.list(`channel#${channelId}`, 50)).items
    expect(audit.find((a) => a.action === 'channel_key.delete')).toMatchObject({
      principal: 'system:webhook',
      outcome: 'deleted',
    })
    // Nothing is sent upstream for a withdrawal (360dialog revoked the keys itself).
    expect(keyCreations(channelId)).toBe(creations)

    await app.simulator?.setPermission(channelId, true)
    await eventually(async () => (await app.deps.store.channels.get(channelId))?.keyStatus === 'active')
    await app.settle()
    expect(keyCreations(channelId)).toBe(creations + 1)
    expect(upstreamKeys(channelId)).toHaveLength(1)
  })

  it('the onboarding callback creates the keys of the ready channels it names and deletes revokedChannels', async () => {
    const sim = app.simulator!
    const channelId = sim.addChannel({ client_id: CLIENT, account_mode: 'live', status: 'live' }).id
    /** A fresh onboarding link's callback URL, as the browser arrives at it with 360dialog's parameters. */
    const arrive = async (params: string): Promise<number> => {
      const link = await call(app, '/onboarding-links', {
        method: 'POST',
        body: JSON.stringify({
          partnerPayload: 'keys-callback',
          redirectUrl: 'https://partner.example.com/done',
        }),
      })
      expect(link.status).toBe(200)
      const url = new URL(link.json['url'] as string)
      const callback = new URL(url.searchParams.get('redirect_url') ?? '')
      const res = await fetch(`${callback.href}&${params}`, { redirect: 'manual' })
      return res.status
    }

    expect(await arrive(`client=${CLIENT}&channels=[${channelId}]`)).toBe(302)
    expect((await app.deps.store.channels.get(channelId))?.keyStatus).toBe('active')
    expect(keyCreations(channelId)).toBe(1)
    expect(upstreamKeys(channelId)).toHaveLength(1)
    const created = (await app.deps.store.audit.list(`channel#${channelId}`, 50)).items
    expect(created.find((a) => a.action === 'channel_key.create')?.principal).toBe(
      `system:onboarding-callback:${CLIENT}`,
    )

    expect(await arrive(`client=${CLIENT}&revokedChannels=[${channelId}]`)).toBe(302)
    expect(await app.deps.channelKeys.has(channelId)).toBe(false)
    expect((await app.deps.store.channels.get(channelId))?.keyStatus).toBe('permission_missing')
    expect(keyCreations(channelId)).toBe(1)
  })

  it('creates exactly one key upstream under 50 concurrent triggers for one channel (webhooks, polls, direct triggers)', async () => {
    const channelId = await storedChannel(app)
    const deps = app.deps
    // Every way a key creation starts, at once: permission webhooks through the local server and the
    // applier, polls whose key step lists the channel, and the provisioning call itself with the
    // triggers the callback (permission) and reconciliation (reconciliation) pass, on the real stores.
    const triggers: Promise<unknown>[] = []
    for (let i = 0; i < 50; i++) {
      if (i % 10 === 0) triggers.push(app.simulator!.setPermission(channelId, true))
      else if (i % 10 === 5) triggers.push(app.poll())
      else
        triggers.push(
          provisionChannelKey(deps, channelId, {
            trigger: i % 2 === 0 ? 'permission' : 'reconciliation',
            principal: 'system:test',
          }),
        )
    }
    await Promise.all(triggers)
    await app.settle()
    await eventually(async () => (await app.deps.store.channels.get(channelId))?.keyStatus === 'active')
    expect(keyCreations(channelId)).toBe(1)
    expect(upstreamKeys(channelId)).toHaveLength(1)
    const [value] = upstreamKeys(channelId)
    expect(await app.deps.channelKeys.get(channelId)).toBe(value)
  })
})

import { performance } from 'node:perf_hooks'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { startSimulator } from '../../local/simulator/server'
import {
  createCachingCipher,
  createLocalCipher,
  type KeyCipher,
} from '../../shared/adapters/channel-keys/cipher'
import { createDynamoChannelKeyStore } from '../../shared/adapters/channel-keys/dynamo-key-store'
import {
  createDynamoStore,
  ensureTables,
  tableNamesFromConfig,
} from '../../shared/adapters/dynamo/dynamo-store'
import { createMessagingApiClient } from '../../shared/adapters/messaging-api/client'
import { channelFromUpstream } from '../../shared/domain/mapping'
import { loadConfig } from '../../shared/env'
import { createLogger } from '../../shared/observability'
import type { Clock } from '../../shared/ports'
import { healthKeys } from '../../shared/services/health/keys'
import { sweepHealth } from '../../shared/services/health/sweep-health'
import { HEALTH_KEY_CACHE } from '../../shared/wiring/channel-keys'
import { startDynamoProcess } from './dynamo-process'
import { type Bench, type BenchTable, round, withPeakRss } from './harness'

const CHANNELS = 10_000
const LATENCY_MS = 100
const INTERVAL_MS = 15 * 60_000

/** The local AES cipher standing in for KMS, counting what KMS would be asked (and bill). */
function countingCipher(): KeyCipher & { decrypts: number; encrypts: number } {
  const inner = createLocalCipher('bench-channel-keys')
  const c = {
    decrypts: 0,
    encrypts: 0,
    encrypt: (plaintext: string, context: Record<string, string>) => {
      c.encrypts += 1
      return inner.encrypt(plaintext, context)
    },
    decrypt: (ciphertext: string, context: Record<string, string>) => {
      c.decrypts += 1
      return inner.decrypt(ciphertext, context)
    },
  }
  return c
}

/**
 * A health sweep of 10,000 live channels with keys, against the simulator's Messaging API answering
 * after 100 ms, state in dynalite (its own process). Keys are read as deployed: the encrypted
 * channelKeys table (one GetItem per check) through the health job's decrypt cache, with a counting
 * stand-in for KMS. Three sweeps one interval apart: the first also verifies every number, writes
 * every channel's first health and decrypts every key; the others are the steady state.
 */
export const bench: Bench = {
  name: 'health',
  async run(): Promise<BenchTable[]> {
    const dynamo = await startDynamoProcess()
    const sim = await startSimulator({ seed: 'empty', deliverWebhooks: false, variance: 'off' })
    try {
      const config = loadConfig({
        PARTNER_ID: 'benchPA',
        SECRETS_SOURCE: 'env',
        DYNAMODB_ENDPOINT: dynamo.endpoint,
      })
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      })
      await ensureTables(client, tableNamesFromConfig(config))
      const store = createDynamoStore({ client, tables: tableNamesFromConfig(config), cursorSecret: 'bench' })
      // As the health function is wired (shared/wiring/channel-keys.ts cachedChannelKeys).
      const kms = countingCipher()
      const channelKeys = createDynamoChannelKeyStore({
        doc: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
        tableName: config.TABLE_CHANNEL_KEYS,
        cipher: createCachingCipher(kms, HEALTH_KEY_CACHE),
      })
      const clientJson = sim.addClient({ id: 'BenchCL' })
      const now = new Date()
      const writes: Promise<unknown>[] = []
      for (let i = 0; i < CHANNELS; i++) {
        const phone = `+4915100${String(i).padStart(6, '0')}`
        const up = sim.addChannel({
          client_id: clientJson.id,
          account_mode: 'live',
          status: 'ready',
          setup_info: { phone_number: phone },
        } as Parameters<typeof sim.addChannel>[0])
        const key = sim.keys.create(up)
        writes.push(
          channelKeys.put(up.id, {
            apiKey: key.api_key,
            keyId: key.id,
            address: key.address,
            appId: key.app_id,
            createdAt: now.toISOString(),
            origin: 'permission',
          }),
        )
        // Stored with the status key provisioning gives it (keyStatus is outside the content hash).
        writes.push(
          store.channels.putIfNewer({
            ...channelFromUpstream(up as never, { now, source: 'poll', kind: 'snapshot' }),
            keyStatus: 'active',
          }),
        )
        if (writes.length >= 50) await Promise.all(writes.splice(0))
      }
      await Promise.all(writes)
      sim.messaging.latencyMs = LATENCY_MS

      let offset = 0
      const clock: Clock = { now: () => new Date(Date.now() + offset) }
      const logger = createLogger('health-bench')
      const rows: (string | number)[][] = []
      for (const [label, concurrency] of [
        ['first sweep (numbers verified, every health written)', 50],
        ['steady sweep, one interval later', 50],
        ['steady sweep, one interval later', 20],
      ] as const) {
        const messaging = createMessagingApiClient({ concurrency })
        const deps = { store, clock, logger, messaging, keys: healthKeys({ config, logger }, channelKeys) }
        sim.messaging.clearRequests()
        const decryptsBefore = kms.decrypts
        const started = performance.now()
        const { result: s, peakRssMb } = await withPeakRss(() =>
          sweepHealth(deps, { intervalMs: INTERVAL_MS, spread: false, concurrency, budgetMs: 14 * 60_000 }),
        )
        const ms = performance.now() - started
        if (s.outcome !== 'succeeded' || s.checked !== CHANNELS)
          throw new Error(`sweep: ${JSON.stringify(s)}`)
        const perChannel = new Map<string, number>()
        for (const r of sim.messaging.requests()) {
          if (!r.path.endsWith('/health_status') && !r.path.endsWith('/v1/health')) continue
          perChannel.set(r.channelId ?? '?', (perChannel.get(r.channelId ?? '?') ?? 0) + 1)
        }
        const maxHealthCalls = Math.max(...perChannel.values())
        const ideal = (s.calls * LATENCY_MS) / concurrency
        rows.push([
          label,
          concurrency,
          s.calls,
          round(s.calls / CHANNELS, 2),
          maxHealthCalls,
          s.written,
          kms.decrypts - decryptsBefore,
          round(ms / 1000, 1),
          round(ideal / 1000, 1),
          round(ms / ideal, 2),
          peakRssMb,
        ])
        offset += INTERVAL_MS
      }
      return [
        {
          title: `Health sweep — ${CHANNELS.toLocaleString('en')} live channels, ${LATENCY_MS} ms messaging latency`,
          note: 'Checks at once (spread off) to time the client and job; ideal = calls × latency ÷ concurrency. Keys from the encrypted channelKeys table (one GetItem per check) through the decrypt cache, KMS counted by a local stand-in. Simulator and job share one process; dynalite in its own. Command: npm run bench -- health.',
          columns: [
            'sweep',
            'concurrency',
            'messaging calls',
            'calls per channel',
            'max health calls per channel',
            'health writes',
            'KMS decrypts',
            'wall s',
            'ideal s',
            '× ideal',
            'peak RSS MB',
          ],
          rows,
        },
      ]
    } finally {
      await sim.close()
      await dynamo.close()
    }
  },
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLocalDynamoClient, type LocalDynamo, startDynalite } from '../../../local/dynalite'
import { createCachingCipher, createLocalCipher } from '../../../shared/adapters/channel-keys/cipher'
import { createDynamoChannelKeyStore } from '../../../shared/adapters/channel-keys/dynamo-key-store'
import { createMemoryChannelKeyStore } from '../../../shared/adapters/channel-keys/memory'
import { ensureTables, TABLES, type TableNames } from '../../../shared/adapters/dynamo/tables'
import type { ChannelKey } from '../../../shared/domain/channel-key'
import type { ChannelKeyStore } from '../../../shared/ports'

const key = (apiKey: string, origin = 'permission'): ChannelKey => ({
  apiKey,
  keyId: 'key000001',
  address: 'https://waba-v2.360dialog.io',
  appId: 'app1',
  createdAt: '2026-11-26T10:00:00.000Z',
  origin,
})

/** What every ChannelKeyStore promises: the in-memory one of the unit tests and the encrypted table. */
function keyStoreContract(name: string, factory: () => Promise<ChannelKeyStore>): void {
  describe(`ChannelKeyStore contract: ${name}`, () => {
    it('stores, replaces, reads with metadata and deletes one key per channel', async () => {
      const store = await factory()
      expect(await store.read('A')).toBeNull()
      expect(await store.get('A')).toBeNull()
      expect(await store.has('A')).toBe(false)
      await store.put('A', key('value-a1'))
      await store.put('B', key('value-b1'))
      expect(await store.read('A')).toEqual(key('value-a1'))
      expect(await store.get('A')).toBe('value-a1')
      expect(await store.has('A')).toBe(true)
      await store.put('A', { ...key('value-a2', 'invalid_key'), keyId: 'key000002' })
      expect(await store.read('A')).toEqual({ ...key('value-a2', 'invalid_key'), keyId: 'key000002' })
      await store.delete('A')
      await store.delete('A')
      expect(await store.read('A')).toBeNull()
      expect(await store.has('A')).toBe(false)
      expect(await store.get('B')).toBe('value-b1')
    })
  })
}

keyStoreContract('in memory', async () => createMemoryChannelKeyStore())

describe('the encrypted channelKeys table on dynalite', () => {
  let dynamo: LocalDynamo
  let client: DynamoDBClient
  let generation = 0

  const fresh = async () => {
    generation++
    const names = Object.fromEntries(TABLES.map((t) => [t.key, `ck-${generation}-${t.key}`])) as TableNames
    await ensureTables(client, names)
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })
    return { doc, table: names.channelKeys }
  }

  beforeAll(async () => {
    dynamo = await startDynalite()
    client = createLocalDynamoClient(dynamo.endpoint)
  })

  afterAll(async () => {
    client?.destroy()
    await dynamo?.close()
  })

  keyStoreContract('DynamoDB + local cipher', async () => {
    const { doc, table } = await fresh()
    return createDynamoChannelKeyStore({ doc, tableName: table, cipher: createLocalCipher('contract') })
  })

  keyStoreContract('DynamoDB + the health job decrypt cache', async () => {
    const { doc, table } = await fresh()
    const cipher = createCachingCipher(createLocalCipher('contract'), { maxEntries: 10, ttlMs: 60_000 })
    return createDynamoChannelKeyStore({ doc, tableName: table, cipher })
  })

  it('keeps only ciphertext at rest, bound to its channel: an item copied onto another channel does not decrypt', async () => {
    const { doc, table } = await fresh()
    const store = createDynamoChannelKeyStore({
      doc,
      tableName: table,
      cipher: createLocalCipher('contract'),
    })
    await store.put('A', key('secret-value-a'))
    const raw = (await doc.send(new GetCommand({ TableName: table, Key: { channelId: 'A' } }))).Item
    expect(JSON.stringify(raw)).not.toContain('secret-value-a')
    await doc.send(new PutCommand({ TableName: table, Item: { ...raw, channelId: 'B' } }))
    await expect(store.read('B')).rejects.toThrow('local channel key decryption failed')
    expect(await store.get('A')).toBe('secret-value-a')
  })
})

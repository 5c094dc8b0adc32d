import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CreateTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb'
import { afterAll, describe, expect, it } from 'vitest'
import { createLocalDynamoClient, startDynalite } from '../../../local/dynalite'
import { createDynamoStore } from '../../../shared/adapters/dynamo/dynamo-store'
import {
  createTableInput,
  ensureTables,
  TABLES,
  type TableNames,
} from '../../../shared/adapters/dynamo/tables'
import { makeChannel, makeClient } from './fixtures'

const dir = mkdtempSync(join(tmpdir(), 'partnerops-dynalite-'))
const names = Object.fromEntries(TABLES.map((t) => [t.key, `persist-${t.key}`])) as TableNames

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

describe('startDynalite', () => {
  it('listens on loopback and persists tables and items under a path across restarts', async () => {
    const client = makeClient()
    const first = await startDynalite({ path: join(dir, 'db') })
    expect(first.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const ddb1 = createLocalDynamoClient(first.endpoint)
    await ensureTables(ddb1, names)
    await ensureTables(ddb1, names)
    await createDynamoStore({
      client: ddb1,
      tables: names,
      cursorSecret: 's3cret-s3cret',
    }).clients.putIfNewer(client)
    ddb1.destroy()
    await first.close()

    const second = await startDynalite({ path: join(dir, 'db') })
    const ddb2 = createLocalDynamoClient(second.endpoint)
    try {
      const { TableNames } = await ddb2.send(new ListTablesCommand({}))
      expect(TableNames?.sort()).toEqual(Object.values(names).sort())
      const store = createDynamoStore({ client: ddb2, tables: names, cursorSecret: 's3cret-s3cret' })
      expect(await store.clients.get(client.clientId)).toEqual(client)
    } finally {
      ddb2.destroy()
      await second.close()
    }
  })

  it('adds the indexes a table of an older version lacks, keeping its items', async () => {
    const db = await startDynalite({ path: join(dir, 'old') })
    const ddb = createLocalDynamoClient(db.endpoint)
    try {
      const spec = TABLES.find((t) => t.key === 'channels') as (typeof TABLES)[number]
      const old = createTableInput(
        {
          ...spec,
          indexes: spec.indexes.filter((i) => !['byQuality', 'byLimit', 'byHealth'].includes(i.indexName)),
        },
        names.channels,
      )
      await ddb.send(new CreateTableCommand(old))
      // dynalite creates a table asynchronously: a write before it is ACTIVE is refused (ResourceNotFound).
      await waitUntilTableExists({ client: ddb, maxWaitTime: 30 }, { TableName: names.channels })
      const channel = makeChannel({ qualityRating: 'RED' })
      const store = createDynamoStore({ client: ddb, tables: names, cursorSecret: 's3cret-s3cret' })
      await store.channels.putIfNewer(channel)
      await ensureTables(ddb, names)
      const { Table } = await ddb.send(new DescribeTableCommand({ TableName: names.channels }))
      expect((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort()).toEqual(
        spec.indexes.map((i) => i.indexName).sort(),
      )
      expect(await store.channels.get(channel.channelId)).toEqual(channel)
      // The index answers at once: the item kept its storage-only keys.
      expect((await store.channels.list({ quality: 'RED', limit: 10 })).items).toEqual([channel])
    } finally {
      ddb.destroy()
      await db.close()
    }
  })

  it('fails with a one-line message when the path is not writable', async () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    const error = await startDynalite({ path: join(file, 'db') }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(
      /^DynamoDB data directory .*a-file\/db is not writable \(ENOTDIR\)$/,
    )
  })
})

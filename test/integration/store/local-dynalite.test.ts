import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ListTablesCommand } from '@aws-sdk/client-dynamodb'
import { afterAll, describe, expect, it } from 'vitest'
import { createLocalDynamoClient, startDynalite } from '../../../local/dynalite'
import { createDynamoStore } from '../../../shared/adapters/dynamo/dynamo-store'
import { ensureTables, TABLES, type TableNames } from '../../../shared/adapters/dynamo/tables'
import { makeClient } from './fixtures'

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

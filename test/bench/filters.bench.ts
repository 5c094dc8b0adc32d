import { performance } from 'node:perf_hooks'
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { createLocalDynamoClient } from '../../local/dynalite'
import { createDynamoStore } from '../../shared/adapters/dynamo/dynamo-store'
import { channelItem, clientItem, planChannelList } from '../../shared/adapters/dynamo/entity-repositories'
import { ensureTables, TABLES, type TableNames } from '../../shared/adapters/dynamo/tables'
import {
  type ChannelFilter,
  type ClientFilter,
  channelMatches,
  clientMatches,
} from '../../shared/domain/filters'
import type { Channel, Client } from '../../shared/domain/types'
import { makeChannel, makeClient } from '../integration/store/fixtures'
import { startDynamoProcess } from './dynamo-process'
import { type Bench, type BenchTable, round } from './harness'

const CHANNELS = 100_000
const CLIENTS = 10_000
const PAGE = 50
const PAGES = 3

/** A deterministic spread of the signals, close to what a partner's numbers show. */
function pick<T>(n: number, table: readonly [T, number][]): T {
  let at = n % 1000
  for (const [value, perMille] of table) {
    if (at < perMille) return value
    at -= perMille
  }
  return (table.at(-1) as [T, number])[0]
}
const QUALITY: [string | null, number][] = [
  ['GREEN', 850],
  ['YELLOW', 50],
  ['RED', 10],
  ['UNKNOWN', 10],
  [null, 80],
]
const TIER: [string | null, number][] = [
  ['TIER_250', 300],
  ['TIER_1K', 400],
  ['TIER_10K', 200],
  ['TIER_100K', 80],
  ['TIER_UNLIMITED', 20],
]
const HEALTH: [string | null, number][] = [
  ['AVAILABLE', 900],
  ['LIMITED', 50],
  ['BLOCKED', 10],
  [null, 40],
]

// Different multipliers so that the signals are not correlated with each other.
function dataset(): { channels: Channel[]; clients: Client[] } {
  const clients: Client[] = []
  for (let c = 0; c < CLIENTS; c++) {
    clients.push(
      makeClient({
        clientId: `Bc${String(c).padStart(6, '0')}CL`,
        name: `Company ${c}`,
        organisation: `Company ${c} Ltd`,
        contactEmail: `ops@company${c}.example`,
        partnerPayload: `crm-${c}`,
      }),
    )
  }
  const channels: Channel[] = []
  for (let i = 0; i < CHANNELS; i++) {
    const c = i % CLIENTS
    const health = pick((i * 7919) % 1000, HEALTH)
    const ch = makeChannel({
      channelId: `Bh${String(i).padStart(7, '0')}CH`,
      clientId: `Bc${String(c).padStart(6, '0')}CL`,
      lifecycle: i % 10 < 8 ? 'live' : 'onboarding',
      accountMode: i % 10 < 8 ? 'live' : 'sandbox',
      qualityRating: pick((i * 37) % 1000, QUALITY),
      messagingLimit: pick((i * 101) % 1000, TIER),
      phoneNumber: `4917${String(i).padStart(9, '0')}`,
      displayName: `Shop ${i}`,
      companyName: `Company ${c}`,
      partnerPayload: `crm-${c}`,
      violation: null,
      // The client's legal name, as its writes keep it on the channel (shared/services/state/legal-name.ts).
      clientOrganisation: { value: `Company ${c} Ltd`, clientOrderKey: '2024-01-02T00:00:00.000Z#90' },
    })
    channels.push({ ...ch, health: health === null ? null : { status: health } } as Channel)
  }
  return { channels, clients }
}

/** The DynamoDB requests and items read (ScannedCount) of every call on a client. */
function counting(client: ReturnType<typeof createLocalDynamoClient>): { requests: number; read: number } {
  const tally = { requests: 0, read: 0 }
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args)
      tally.requests++
      const o = out.output as { ScannedCount?: number; Count?: number }
      tally.read += o.ScannedCount ?? o.Count ?? 0
      return out
    },
    { step: 'initialize', name: 'benchCounter' },
  )
  return tally
}

async function load(
  doc: DynamoDBDocumentClient,
  table: string,
  items: Record<string, unknown>[],
): Promise<void> {
  const calls: Promise<unknown>[] = []
  for (let i = 0; i < items.length; i += 25) {
    const batch = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }))
    calls.push(doc.send(new BatchWriteCommand({ RequestItems: { [table]: batch } })))
    if (calls.length >= 8) await Promise.all(calls.splice(0))
  }
  await Promise.all(calls)
}

export const bench: Bench = {
  name: 'filters',
  async run(): Promise<BenchTable[]> {
    const dynamo = await startDynamoProcess()
    const client = createLocalDynamoClient(dynamo.endpoint)
    try {
      const names = Object.fromEntries(TABLES.map((t) => [t.key, `bench-${t.key}`])) as TableNames
      await ensureTables(client, names)
      const { channels, clients } = dataset()
      const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } })
      await load(doc, names.channels, channels.map(channelItem))
      await load(doc, names.clients, clients.map(clientItem))
      const itemBytes = JSON.stringify(channelItem(channels[0] as Channel)).length
      const tally = counting(client)
      const store = createDynamoStore({ client, tables: names, cursorSecret: 'bench-cursor-secret' })

      const rows: (string | number)[][] = []
      const measure = async (
        label: string,
        access: string,
        matching: number,
        list: (cursor: string | undefined) => Promise<{ items: unknown[]; nextCursor: string | null }>,
      ): Promise<void> => {
        let cursor: string | undefined
        let requests = 0
        let read = 0
        let returned = 0
        let pages = 0
        const started = performance.now()
        for (; pages < PAGES; ) {
          const before = { ...tally }
          const page = await list(cursor)
          pages++
          requests += tally.requests - before.requests
          read += tally.read - before.read
          returned += page.items.length
          if (page.nextCursor === null) break
          cursor = page.nextCursor
        }
        const ms = (performance.now() - started) / pages
        const perPageRead = read / pages
        const ideal = Math.max(1, returned / pages)
        rows.push([
          label,
          access,
          matching.toLocaleString('en-US'),
          round(requests / pages, 1),
          Math.round(perPageRead).toLocaleString('en-US'),
          round(ideal, 0),
          `${round(perPageRead / ideal, 1)}×`,
          round((perPageRead * itemBytes) / 4096 / 2, 1),
          round(ms, 0),
        ])
      }
      const channelRow = async (label: string, filter: ChannelFilter): Promise<void> => {
        const plan = planChannelList(names.channels, filter)
        const access = plan.query ? `Query ${plan.index}` : 'Scan + filter'
        const matching = channels.filter((c) => channelMatches(c, filter)).length
        await measure(label, access, matching, (cursor) =>
          store.channels.list({ ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) }),
        )
      }
      const clientRow = async (label: string, filter: ClientFilter): Promise<void> => {
        const matching = clients.filter((c) => clientMatches(c, filter)).length
        await measure(
          label,
          filter.status ? 'Query byStatus + filter' : 'Scan + filter',
          matching,
          (cursor) => store.clients.list({ ...filter, limit: PAGE, ...(cursor ? { cursor } : {}) }),
        )
      }
      await channelRow('quality=RED', { quality: 'RED' })
      await channelRow('quality=GREEN', { quality: 'GREEN' })
      await channelRow('messagingLimit=TIER_UNLIMITED', { messagingLimit: 'TIER_UNLIMITED' })
      await channelRow('health=BLOCKED', { health: 'BLOCKED' })
      await channelRow('accountMode=sandbox', { accountMode: 'sandbox' })
      await channelRow('lifecycle=live&quality=RED', { lifecycle: 'live', quality: 'RED' })
      await channelRow('quality=RED&accountMode=sandbox', { quality: 'RED', accountMode: 'sandbox' })
      await channelRow('clientId=…&quality=GREEN', { clientId: 'Bc004711CL', quality: 'GREEN' })
      await channelRow('q=+49 170 0004 2424 (phone)', { q: '+49 170 0004 2424' })
      await channelRow('q=shop 4242 (text, 11 matches)', { q: 'shop 4242' })
      await channelRow('q=company 47 (text, common)', { q: 'company 47' })
      await channelRow('q=company 4711 ltd (legal name, 10 matches)', { q: 'company 4711 ltd' })
      await channelRow('no filter', {})
      await clientRow('clients q=company 4711', { q: 'company 4711' })
      await clientRow('clients q=ops@company12', { q: 'ops@company12' })
      return [
        {
          title: `Channel and client filters at ${CHANNELS.toLocaleString('en-US')} channels (${CLIENTS.toLocaleString('en-US')} clients)`,
          note: `dynalite in its own process, BatchWrite-loaded; per page of ${PAGE} (mean of the first ${PAGES} pages): DynamoDB requests and items read (ScannedCount) against the ideal of one query reading only the items it returns; read units estimated from ${itemBytes}-byte items, eventually consistent (0.5 RU per 4 KB).`,
          columns: [
            'filter',
            'access',
            'matching items',
            'requests / page',
            'items read / page',
            'ideal items',
            'read ÷ ideal',
            '≈ RU / page',
            'ms / page',
          ],
          rows,
        },
      ]
    } finally {
      client.destroy()
      await dynamo.close()
    }
  },
}

import type { AppDeps } from '../../deps'
import { NotFoundError } from '../../domain/errors'
import { LIFECYCLES, type Lifecycle } from '../../domain/types'
import { type ClientView, toClientView } from './views'

/** The summary of a client's channels served with the client. */
export interface ChannelSummary {
  total: number
  byLifecycle: Record<Lifecycle, number>
  channelIds: string[]
}

/** A client with its channel summary (`GET /clients/{clientId}`). */
export type ClientWithChannels = ClientView & { channels: ChannelSummary }

/** One stored client with the counts of its channels by lifecycle and their ids; NotFoundError when unknown. */
export async function getClient(deps: Pick<AppDeps, 'store'>, clientId: string): Promise<ClientWithChannels> {
  const client = await deps.store.clients.get(clientId)
  if (!client) throw new NotFoundError('Client not found', { code: 'client_not_found' })
  const channels = await deps.store.channels.listByClient(clientId)
  const byLifecycle = Object.fromEntries(LIFECYCLES.map((l) => [l, 0])) as Record<Lifecycle, number>
  for (const c of channels) byLifecycle[c.lifecycle]++
  return {
    ...toClientView(client),
    channels: {
      total: channels.length,
      byLifecycle,
      channelIds: channels.map((c) => c.channelId).sort(),
    },
  }
}

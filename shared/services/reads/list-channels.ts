import type { AppDeps } from '../../deps'
import type { Lifecycle, Page } from '../../domain/types'
import { type ChannelView, toChannelView } from './views'

/** Input of {@link listChannels}: page and the optional client and lifecycle filters. */
export interface ListChannelsInput {
  clientId?: string
  lifecycle?: Lifecycle
  limit: number
  cursor?: string
}

/** Lists stored channels, page by page, optionally of one client and/or in one lifecycle. */
export async function listChannels(
  deps: Pick<AppDeps, 'store'>,
  input: ListChannelsInput,
): Promise<Page<ChannelView>> {
  const page = await deps.store.channels.list(input)
  return { items: page.items.map(toChannelView), nextCursor: page.nextCursor }
}

import type { AppDeps } from '../../deps'
import type { ChannelFilter } from '../../domain/filters'
import type { Page } from '../../domain/types'
import { type ChannelView, toChannelView } from './views'

/** Input of {@link listChannels}: page and the optional filters, combined with AND. */
export type ListChannelsInput = ChannelFilter & {
  limit: number
  cursor?: string
}

/**
 * Lists stored channels, page by page, matching every given filter (client, lifecycle, quality,
 * messaging limit, account mode, health, search; shared/domain/filters.ts says what each matches).
 */
export async function listChannels(
  deps: Pick<AppDeps, 'store'>,
  input: ListChannelsInput,
): Promise<Page<ChannelView>> {
  const page = await deps.store.channels.list(input)
  return { items: page.items.map(toChannelView), nextCursor: page.nextCursor }
}

import type { AppDeps } from '../../deps'
import { NotFoundError } from '../../domain/errors'
import { type ChannelView, ID_PATTERN, toChannelView } from './views'

/** One stored channel; NotFoundError (404) when it is not known. */
export async function getChannel(deps: Pick<AppDeps, 'store'>, channelId: string): Promise<ChannelView> {
  const channel = ID_PATTERN.test(channelId) ? await deps.store.channels.get(channelId) : null
  if (!channel) throw new NotFoundError('Channel not found', { code: 'channel_not_found' })
  return toChannelView(channel)
}

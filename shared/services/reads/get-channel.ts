import type { AppDeps } from '../../deps'
import { NotFoundError } from '../../domain/errors'
import { type ChannelView, toChannelView } from './views'

/** One stored channel; NotFoundError when it is not known. */
export async function getChannel(deps: Pick<AppDeps, 'store'>, channelId: string): Promise<ChannelView> {
  const channel = await deps.store.channels.get(channelId)
  if (!channel) throw new NotFoundError('Channel not found', { code: 'channel_not_found' })
  return toChannelView(channel)
}

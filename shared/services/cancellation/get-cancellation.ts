import type { AppDeps } from '../../deps'
import { NotFoundError } from '../../domain/errors'
import { type CancellationView, ID_PATTERN, toCancellationView } from '../reads/views'

/** The cancellation record of a client's channel; 404 when none exists or it is another client's. */
export async function getCancellation(
  deps: Pick<AppDeps, 'store'>,
  input: { clientId: string; channelId: string },
): Promise<CancellationView> {
  const valid = ID_PATTERN.test(input.clientId) && ID_PATTERN.test(input.channelId)
  const record = valid ? await deps.store.cancellations.get(input.channelId) : null
  if (!record || record.clientId !== input.clientId) {
    throw new NotFoundError('No cancellation record for this channel', { code: 'cancellation_not_found' })
  }
  return toCancellationView(record)
}

import type { AppDeps } from '../../deps'
import { NotFoundError } from '../../domain/errors'
import type { CancellationRecord } from '../../domain/types'

/** The cancellation record of a client's channel; NotFoundError when none exists or it is another client's. */
export async function getCancellation(
  deps: Pick<AppDeps, 'store'>,
  input: { clientId: string; channelId: string },
): Promise<CancellationRecord> {
  const record = await deps.store.cancellations.get(input.channelId)
  if (!record || record.clientId !== input.clientId) {
    throw new NotFoundError('No cancellation record for this channel', { code: 'cancellation_not_found' })
  }
  return record
}

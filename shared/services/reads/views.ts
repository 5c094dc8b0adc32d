import { type ChannelHealth, healthView } from '../../domain/health'
import type { CancellationRecord, Channel, Client } from '../../domain/types'

export { ID_PATTERN } from '../../domain/ids'

/** A client as served by the management API: the stored record without ordering bookkeeping. */
export type ClientView = Omit<Client, 'orderKey' | 'contentHash'>

/** A channel as served by the management API: the stored record without ordering bookkeeping. */
export type ChannelView = Omit<
  Channel,
  'orderKey' | 'contentHash' | 'absentRuns' | 'health' | 'keyRejected' | 'clientOrganisation'
> & {
  health: ChannelHealth | null
}

/** A cancellation record as served (docs/openapi.yaml): no lock or concurrency bookkeeping. */
export type CancellationView = Omit<CancellationRecord, 'inFlight' | 'version' | 'unknownCall'>

/** Serves a stored client. */
export function toClientView(client: Client): ClientView {
  const { orderKey: _o, contentHash: _h, ...view } = client
  // Records written before contactPhone existed lack it until their next write: served as null.
  return { ...view, contactPhone: client.contactPhone ?? null }
}

/** Serves a stored channel. */
export function toChannelView(channel: Channel): ChannelView {
  const {
    orderKey: _o,
    contentHash: _h,
    absentRuns: _a,
    keyRejected: _k,
    clientOrganisation: _co,
    ...view
  } = channel
  // Records written before these fields existed lack them until their next write: served as null.
  return {
    ...view,
    hubStatus: channel.hubStatus ?? null,
    cancelledAt: channel.cancelledAt ?? null,
    qualityRating: channel.qualityRating ?? null,
    messagingLimit: channel.messagingLimit ?? null,
    billingStartedAt: channel.billingStartedAt ?? null,
    integrationState: channel.integrationState ?? null,
    fbBusinessId: channel.fbBusinessId ?? null,
    // Served without the health job's bookkeeping (when the key's number was last verified).
    health: healthView(channel.health),
    // Where the channel stands with its API key, never the key (README "Channel API keys").
    keyStatus: channel.keyStatus ?? 'none',
  }
}

/** Serves a cancellation record. */
export function toCancellationView(record: CancellationRecord): CancellationView {
  const { inFlight: _i, version: _v, unknownCall: _u, source: _s, ...view } = record
  return view
}

import type { Channel, Client, ClientOrganisation } from '../../domain/types'
import type { StateStore } from '../../ports'

/**
 * The client's legal name (`organisation`) on its channels, which `GET /channels?q=` searches as the
 * company name (README, "Finding channels"). Upstream channel bodies carry only the client's `name`,
 * so the copy comes from the client's writes:
 *
 * - a new client, or a client write that changes its organisation, sets it on every stored channel of
 *   the client (one byClient Query, one UpdateItem per channel without a copy as new);
 * - a channel written without a copy (new, or stored before the copy existed) takes it from its stored
 *   client (one GetItem, and one UpdateItem when the client is stored: a client without an
 *   organisation is copied as null), once. A fact written without a read (the webhook applier's
 *   writeFact) records that the lookup is done in its own UpdateItem: it sets the copy to
 *   NO_COPY_YET where the item has none (FactSpec `initial`), and its old image shows whether this
 *   write was the one that did (only then the GetItem). A channel whose client is not stored yet
 *   keeps NO_COPY_YET until the client's first write propagates its copy. A failure between the
 *   fact's write and the lookup fails the event, and its retry (the same fact, refused as already
 *   stored) looks up again; only when a newer fact of the channel was written in between does the
 *   lookup wait for the client's next organisation change.
 *
 * Each copy carries the order key of the client write it came from, and ChannelRepository
 * .setClientOrganisation refuses a copy older than the stored one, so two client writes applied in
 * either order, or a channel filling its copy while its client changes, end with the newest.
 * NO_COPY_YET has the lowest order key (''), so any client write's copy replaces it, and a fact's
 * UpdateItem never replaces a copy (if_not_exists). It holds no name (value null): search, views and
 * the export never see it (the copy is not served; legalNameText of null is nothing).
 */

/**
 * The copy a channel holds while its client's legal name was looked up and is not known yet (the
 * client is not stored): lower than every client write's copy, which always replaces it.
 */
export const NO_COPY_YET: ClientOrganisation = Object.freeze({ value: null, clientOrderKey: '' })

/** Whether the channel holds a copy from a client write (not NO_COPY_YET). */
const hasCopy = (channel: Channel): boolean =>
  channel.clientOrganisation !== undefined && channel.clientOrganisation.clientOrderKey !== ''

/** A channel fact written without a read: NO_COPY_YET where the stored item has no copy (FactSpec `initial`). */
export const withNoCopyYet = (channel: Channel): Channel =>
  channel.clientOrganisation !== undefined ? channel : { ...channel, clientOrganisation: { ...NO_COPY_YET } }

/** Channels of one client updated at once. */
const CONCURRENCY = 8

const copyOf = (client: Client): ClientOrganisation => ({
  value: client.organisation,
  clientOrderKey: client.orderKey,
})

/**
 * After a client write (`stored` = what it replaced, null for a new client): copies the organisation
 * of a new client, or a changed one, to the client's channels, skipping those that already hold a copy
 * from this or a later client write. Answers how many channels it updated.
 */
export async function propagateLegalName(
  store: StateStore,
  client: Client,
  stored: Client | null,
): Promise<number> {
  if (stored !== null && stored.organisation === client.organisation) return 0
  const copy = copyOf(client)
  const channels = (await store.channels.listByClient(client.clientId)).filter(
    (c) => !c.clientOrganisation || c.clientOrganisation.clientOrderKey < copy.clientOrderKey,
  )
  let updated = 0
  for (let i = 0; i < channels.length; i += CONCURRENCY) {
    const outcomes = await Promise.all(
      channels
        .slice(i, i + CONCURRENCY)
        .map((c) => store.channels.setClientOrganisation(c.channelId, client.clientId, copy)),
    )
    updated += outcomes.filter((o) => o === 'written').length
  }
  return updated
}

/**
 * After a channel write: a channel without a copy of its client's legal name takes it from the
 * stored client (null when the client has none: the company name is then the client's `name`, which
 * the channel's own search text covers). Nothing while the client is not stored: its first write
 * propagates to the channel. `lookedUp`: the write kept a copy (or NO_COPY_YET) the item already
 * held, so the lookup was done before (a fact's UpdateItem over an item that had one); a put, which
 * replaces the whole item, passes false and a channel with NO_COPY_YET reads its client again.
 */
export async function fillLegalName(store: StateStore, channel: Channel, lookedUp = false): Promise<void> {
  if (lookedUp || hasCopy(channel)) return
  const client = await store.clients.get(channel.clientId)
  if (!client) return
  await store.channels.setClientOrganisation(channel.channelId, client.clientId, copyOf(client))
}

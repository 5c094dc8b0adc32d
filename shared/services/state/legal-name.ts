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
 *   client (one GetItem and one UpdateItem, once: a client without an organisation is copied as null).
 *   While its client is not stored yet, each write of the channel reads it again.
 *
 * Each copy carries the order key of the client write it came from, and ChannelRepository
 * .setClientOrganisation refuses a copy older than the stored one, so two client writes applied in
 * either order, or a channel filling its copy while its client changes, end with the newest.
 */

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
 * propagates to the channel.
 */
export async function fillLegalName(store: StateStore, channel: Channel): Promise<void> {
  if (channel.clientOrganisation !== undefined) return
  const client = await store.clients.get(channel.clientId)
  if (!client) return
  await store.channels.setClientOrganisation(channel.channelId, client.clientId, copyOf(client))
}

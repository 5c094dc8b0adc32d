import { deriveChangeEvents } from '../../shared/domain/change-events'
import type { ChangeEvent } from '../../shared/domain/types'
import type { MemoryStore } from './memory-store'

/**
 * The change events a store's writes make, derived as the publisher derives them from the tables'
 * streams, at once and in write order. Service tests read `events` where they used to read what the
 * services published themselves.
 */
export function changeFeed(store: MemoryStore): { events: ChangeEvent[] } {
  const feed = { events: [] as ChangeEvent[] }
  store.onChange((change) => feed.events.push(...deriveChangeEvents(change)))
  return feed
}

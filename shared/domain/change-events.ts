import { createHash } from 'node:crypto'
import type { ChangeDetailType, ChangeEvent, Source } from './types'

/**
 * Change events (docs/change-events.md), derived from one stored item's images before and after a write: the
 * same pure function runs on the tables' DynamoDB streams in AWS and on the local runner's storage
 * writes. Which fact of which table makes which event is the table CHANGE_RULES below; a new event is
 * one more row. No AWS, no I/O: images are plain objects with the tables' attribute names.
 */

/** The tables whose writes carry change events. */
export type ChangeTable = 'clients' | 'channels' | 'cancellations'

/** The tables whose changes become events, in the order the stack and the local feed list them. */
export const CHANGE_TABLES: readonly ChangeTable[] = ['clients', 'channels', 'cancellations']

/** A stored item as plain data (attribute name → value). */
export type ItemImage = Record<string, unknown>

/** One write to one item: its image before (null: the item is new) and after (null: removed). */
export interface ItemChange {
  table: ChangeTable
  oldImage: ItemImage | null
  newImage: ItemImage | null
  /** When the write happened (ISO time), if known: the stream record's creation time. */
  changedAt?: string | null
}

/** One stream record: an item change and its position in the stream (the retry point). */
export interface StreamChange extends ItemChange {
  /** The record's sequence number (Lambda's `itemIdentifier` for partial batch failures). */
  sequence: string
}

/** When a rule fires: the item is new, or the fact differs between two images of the same item. */
export type RuleTrigger = 'created' | 'changed' | 'createdOrChanged'

/** One row of the derivation: a fact of one table and the event its change makes. */
export interface ChangeRule {
  table: ChangeTable
  detailType: ChangeDetailType
  on: RuleTrigger
  /**
   * The fact in one image: a string, null (known to have no value), or undefined (the attribute does
   * not exist on the item, e.g. stored before the field was added). A change from undefined is a
   * backfill, not an event; a change to null or undefined publishes nothing (`to` is always a value).
   */
  fact(image: ItemImage): string | null | undefined
}

const text = (v: unknown): string | null | undefined => {
  if (v === undefined) return undefined
  if (v === null) return null
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return null
}

/** The status of a stored `health` map; null when the channel has none (yet). */
const healthStatusOf = (v: unknown): string | null => {
  if (v === null || v === undefined || typeof v !== 'object') return null
  return text((v as { status?: unknown }).status) ?? null
}

/** `|` and the check time of a stored `health` map, or '' when the channel has none. */
const healthCheckOf = (v: unknown): string => {
  if (v === null || v === undefined || typeof v !== 'object') return ''
  const at = (v as { checkedAt?: unknown }).checkedAt
  return typeof at === 'string' ? `|${at}` : ''
}

/** Every change event and the fact it follows (docs/change-events.md). */
export const CHANGE_RULES: readonly ChangeRule[] = [
  {
    table: 'clients',
    detailType: 'Client Discovered',
    on: 'created',
    fact: (i) => text(i.status) ?? 'unknown',
  },
  { table: 'channels', detailType: 'Channel Discovered', on: 'created', fact: (i) => text(i.lifecycle) },
  {
    table: 'channels',
    detailType: 'Channel Lifecycle Changed',
    on: 'changed',
    fact: (i) => text(i.lifecycle),
  },
  // Attributes of the quality and messaging-limit state: until they are stored, these rules never fire.
  {
    table: 'channels',
    detailType: 'Channel Quality Changed',
    on: 'changed',
    fact: (i) => text(i.qualityRating),
  },
  {
    table: 'channels',
    detailType: 'Channel Messaging Limit Changed',
    on: 'changed',
    fact: (i) => text(i.messagingLimit),
  },
  // The health job's finding (shared/domain/health.ts): a channel's first health counts as a change
  // from null; a refresh of the same status, or new errors under it, publishes nothing.
  {
    table: 'channels',
    detailType: 'Channel Health Changed',
    on: 'changed',
    fact: (i) => healthStatusOf(i.health),
  },
  {
    table: 'cancellations',
    detailType: 'Cancellation State Changed',
    on: 'createdOrChanged',
    fact: (i) => text(i.state),
  },
]

/** How the items of one table name their entity, version and origin. */
interface EntityShape {
  key: string
  ids(image: ItemImage): { clientId: string; channelId?: string }
  /**
   * The version of the item's facts after the write: the ordering key (never decreases) and the
   * content hash (which tells apart two contents under one key), or the cancellation's version.
   */
  version(image: ItemImage): { order: string; exact: string }
}

const str = (v: unknown): string =>
  typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v)

const ENTITIES: Record<ChangeTable, EntityShape> = {
  clients: {
    key: 'clientId',
    ids: (i) => ({ clientId: str(i.clientId) }),
    version: (i) => ({ order: str(i.orderKey), exact: `${str(i.orderKey)}|${str(i.contentHash)}` }),
  },
  channels: {
    key: 'channelId',
    ids: (i) => ({ clientId: str(i.clientId), channelId: str(i.channelId) }),
    // Health is written beside the upstream facts (same order key and hash), so a channel with a
    // health also names the check in its exact version: two health changes are two events.
    version: (i) => ({
      order: str(i.orderKey),
      exact: `${str(i.orderKey)}|${str(i.contentHash)}${healthCheckOf(i.health)}`,
    }),
  },
  cancellations: {
    key: 'channelId',
    ids: (i) => ({ clientId: str(i.clientId), channelId: str(i.channelId) }),
    // Zero-padded so that versions compare as strings, like order keys.
    version: (i) => {
      const v = str(i.version).padStart(12, '0')
      return { order: v, exact: v }
    },
  },
}

const SOURCES: ReadonlySet<string> = new Set<Source>(['webhook', 'poll', 'api'])

/**
 * The deterministic id of one event: table, item key, event type and the exact version of the fact.
 * Re-deriving the same write (a stream retry, a redrive) gives the same id; a later write, another.
 */
export function changeEventId(table: ChangeTable, key: string, detailType: string, version: string): string {
  const h = createHash('sha256').update(`${table}\n${key}\n${detailType}\n${version}`).digest('hex')
  // UUID-shaped (8-4-4-4-12 hex) for consumers that store ids in UUID columns; not a random UUID.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`
}

/**
 * The change events of one item write, in rule order: first seen → `… Discovered`, a changed fact →
 * its event, anything else (bookkeeping, content the events do not carry, a removal) → nothing.
 * `rules` defaults to CHANGE_RULES (tests pass their own to check the table's mechanics).
 */
export function deriveChangeEvents(
  change: ItemChange,
  rules: readonly ChangeRule[] = CHANGE_RULES,
): ChangeEvent[] {
  const { oldImage, newImage } = change
  if (!newImage) return []
  const entity = ENTITIES[change.table]
  const key = str(newImage[entity.key])
  const version = entity.version(newImage)
  const at = typeof newImage.updatedAt === 'string' ? newImage.updatedAt : (change.changedAt ?? '')
  const source = (
    typeof newImage.source === 'string' && SOURCES.has(newImage.source) ? newImage.source : 'api'
  ) as Source
  const events: ChangeEvent[] = []
  for (const rule of rules) {
    if (rule.table !== change.table) continue
    const to = rule.fact(newImage)
    if (to === null || to === undefined) continue
    let from: string | null
    if (!oldImage) {
      if (rule.on === 'changed') continue
      from = null
    } else {
      if (rule.on === 'created') continue
      const before = rule.fact(oldImage)
      if (before === undefined || before === to) continue
      from = before
    }
    events.push({
      detailType: rule.detailType,
      detail: {
        eventId: changeEventId(change.table, key, rule.detailType, version.exact),
        ...entity.ids(newImage),
        from,
        to,
        source,
        at,
        version: version.order,
      },
    })
  }
  return events
}

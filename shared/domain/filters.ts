import { limitKey, type QualityRating, qualityBucket } from './signals'
import type { Channel, Client, Lifecycle } from './types'

/**
 * The filters of `GET /channels` and `GET /clients` and what each matches, as pure functions: the
 * DynamoDB adapter stores the normalized values these compute as storage-only attributes (indexed or
 * filtered on), and the in-memory store applies the functions directly, so both answer the same.
 */

/** Filters of the channel list; every given one must match (AND). */
export interface ChannelFilter {
  clientId?: string
  lifecycle?: Lifecycle
  quality?: QualityRating
  /** A messaging tier, compared upper-cased (`tier_1k` = `TIER_1K`). */
  messagingLimit?: string
  accountMode?: string
  /** `health.status`, compared upper-cased (the Cloud API's AVAILABLE, the on-premise `connected`). */
  health?: string
  /** Search: a phone number (digits, with or without `+`), else text in names and payload. */
  q?: string
}

/** Filters of the client list. */
export interface ClientFilter {
  status?: string
  /** Search: text in name, organisation, contact email and partner payload. */
  q?: string
}

/** Digits of a phone number (`+49 151-234` → `49151234`); null when it has none. */
export function phoneDigits(phone: string | number | null | undefined): string | null {
  if (phone === null || phone === undefined) return null
  const digits = String(phone).replace(/\D/g, '')
  return digits === '' ? null : digits
}

/**
 * A search that is a phone number: only digits, spaces, dots, dashes, parentheses and one leading
 * `+`, with at least 5 digits. It matches the channel whose number has exactly these digits (so
 * `+49 151 234` and `49151234` find the same channel); any other search is text.
 */
export function phoneSearch(q: string): string | null {
  const t = q.trim()
  if (!/^\+?[0-9 ().-]+$/.test(t)) return null
  const digits = phoneDigits(t)
  return digits !== null && digits.length >= 5 ? digits : null
}

/** Text searched in: the given fields, lower-cased, one per line (a search never spans two). */
export function searchText(fields: readonly (string | null | undefined)[]): string | null {
  const parts = fields.filter((f): f is string => typeof f === 'string' && f.trim() !== '')
  return parts.length === 0 ? null : parts.map((p) => p.toLowerCase()).join('\n')
}

/** A text search as compared: trimmed and lower-cased. */
export function textSearch(q: string): string {
  return q.trim().toLowerCase()
}

/**
 * What a channel's search covers besides its number: display name, the client name its body carries
 * (`companyName`) and partner payload. The client's legal name is searched too, from legalNameText.
 */
export function channelSearchText(
  c: Pick<Channel, 'displayName' | 'companyName' | 'partnerPayload'>,
): string | null {
  return searchText([c.displayName, c.companyName, c.partnerPayload])
}

/**
 * The client's legal name (`organisation`) kept on the channel, as searched; null when unknown or the
 * client has none (then the company name is the client's `name`, which channelSearchText covers).
 */
export function legalNameText(c: Pick<Channel, 'clientOrganisation'>): string | null {
  return searchText([c.clientOrganisation?.value])
}

/** What a client's search covers: name, organisation, contact email, partner payload. */
export function clientSearchText(
  c: Pick<Client, 'name' | 'organisation' | 'contactEmail' | 'partnerPayload'>,
): string | null {
  return searchText([c.name, c.organisation, c.contactEmail, c.partnerPayload])
}

/** A channel's health status as the filter compares it (upper-cased), or null when not checked. */
export function healthKey(channel: object): string | null {
  const health = (channel as { health?: unknown }).health
  if (health === null || typeof health !== 'object') return null
  const status = (health as { status?: unknown }).status
  return typeof status === 'string' && status.trim() !== '' ? status.trim().toUpperCase() : null
}

/** Whether a channel matches every given filter. */
export function channelMatches(c: Channel, f: ChannelFilter): boolean {
  if (f.clientId !== undefined && c.clientId !== f.clientId) return false
  if (f.lifecycle !== undefined && c.lifecycle !== f.lifecycle) return false
  if (f.quality !== undefined && qualityBucket(c.qualityRating) !== f.quality) return false
  if (f.messagingLimit !== undefined && limitKey(c.messagingLimit) !== limitKey(f.messagingLimit))
    return false
  if (f.accountMode !== undefined && c.accountMode !== f.accountMode) return false
  if (f.health !== undefined && healthKey(c) !== f.health.trim().toUpperCase()) return false
  if (f.q !== undefined) {
    const phone = phoneSearch(f.q)
    if (phone !== null) return phoneDigits(c.phoneNumber) === phone
    const text = textSearch(f.q)
    return (channelSearchText(c) ?? '').includes(text) || (legalNameText(c) ?? '').includes(text)
  }
  return true
}

/** Whether a client matches every given filter. */
export function clientMatches(c: Client, f: ClientFilter): boolean {
  if (f.status !== undefined && c.status !== f.status) return false
  if (f.q !== undefined && !(clientSearchText(c) ?? '').includes(textSearch(f.q))) return false
  return true
}

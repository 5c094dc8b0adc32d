import * as z from 'zod/mini'
import './zod-locale'
import type { Channel } from './types'

/**
 * A channel's Messaging API key (README "Channel API keys"): what the Partner API answers when it
 * creates one (`POST /partners/{pid}/channels/{id}/api_keys`, 201), and the key status a channel
 * carries. The key value itself is a secret: it lives only in the encrypted key store
 * (ChannelKeyStore) and in the answer of `GET /channels/{channelId}/api-key`.
 */

/** Where a channel stands with its key (served on every channel; an item without it is `none`). */
export const KEY_STATUSES = ['none', 'active', 'permission_missing', 'invalid'] as const
export type KeyStatus = (typeof KEY_STATUSES)[number]

/**
 * One key as upstream answers it: `{id, address, api_key, app_id}` (docs/partner-api-notes.md).
 * Loose: unknown fields are tolerated; `id` and `app_id` may be numbers in some bodies.
 */
export const upstreamApiKeySchema = z.lazy(() =>
  z.looseObject({
    id: z.nullish(
      z.pipe(
        z.union([z.string(), z.number()]),
        z.transform((v) => String(v)),
      ),
    ),
    address: z.nullish(z.string()),
    api_key: z.string().check(z.minLength(1), z.maxLength(4096)),
    app_id: z.nullish(
      z.pipe(
        z.union([z.string(), z.number()]),
        z.transform((v) => String(v)),
      ),
    ),
  }),
)
export type UpstreamApiKey = z.infer<typeof upstreamApiKeySchema>

/** `GET …/api_keys`: `{"api_keys": [...]}`. */
export const upstreamApiKeyListSchema = z.lazy(() =>
  z.looseObject({ api_keys: z.array(upstreamApiKeySchema) }),
)

/** A key as the key store keeps it (the value encrypted at rest; never logged). */
export interface ChannelKey {
  /** The key value (`D360-API-KEY`). */
  apiKey: string
  /** Upstream key id, if upstream sent one. */
  keyId: string | null
  /** The messaging base the key is used against, e.g. https://waba-v2.360dialog.io. */
  address: string | null
  appId: string | null
  /** When PartnerOps stored it. */
  createdAt: string
  /** What created it (a permission, reconciliation, a rotation, the replacement of an invalid key). */
  origin?: string | null
}

/** A ChannelKey without its value: what may appear in audit entries and answers about a key. */
export type ChannelKeyInfo = Omit<ChannelKey, 'apiKey'>

/** The key's fields without the value. */
export function keyInfo(key: ChannelKey): ChannelKeyInfo {
  return {
    keyId: key.keyId,
    address: key.address,
    appId: key.appId,
    createdAt: key.createdAt,
    origin: key.origin ?? null,
  }
}

/** Upstream channel statuses at which a number exists and can have a Messaging API key. */
const KEYABLE_STATUSES: ReadonlySet<string> = new Set(['ready', 'running', 'live'])

/**
 * Whether a channel is ready for a key: live (or registered and running, or ready as
 * `channel_permission_granted` reports it), and neither gone, terminated nor being cancelled.
 */
export function readyForKey(
  channel: Pick<Channel, 'lifecycle' | 'status' | 'missingSince' | 'terminatedAt'>,
): boolean {
  if (channel.missingSince !== null || channel.terminatedAt !== null) return false
  if (channel.lifecycle === 'live') return true
  return channel.lifecycle === 'onboarding' && channel.status !== null && KEYABLE_STATUSES.has(channel.status)
}

/**
 * Whether an `invalid` key is to be replaced once: the Messaging API refused it and it was not itself
 * the replacement of a refused key (KeyRejection.replace, set by the health job).
 */
export function replacementDue(channel: Pick<Channel, 'keyStatus' | 'keyRejected'>): boolean {
  return channel.keyStatus === 'invalid' && channel.keyRejected?.replace === true
}

/**
 * A channel that is ready and due a key: it has none (and no reason to wait for one), or its key was
 * refused and one replacement is due. Reconciliation's key step provisions exactly these (the sparse
 * `keyNeeded` index mirrors this).
 */
export function needsKey(
  channel: Pick<
    Channel,
    'lifecycle' | 'status' | 'missingSince' | 'terminatedAt' | 'keyStatus' | 'keyRejected'
  >,
): boolean {
  return ((channel.keyStatus ?? 'none') === 'none' || replacementDue(channel)) && readyForKey(channel)
}

import { randomBytes } from 'node:crypto'
import { SimApiError } from './errors'
import type { UpstreamChannelJson } from './types'

/**
 * Channel Messaging API keys (`/partners/{pid}/channels/{id}/api_keys`, README "What it models") and
 * the partner's permission to create them.
 *
 * - `POST` creates a key and answers 201 `{id, address, api_key, app_id}`. Creating a key revokes
 *   every earlier key of the channel (as the Hub does; the API is assumed to do the same).
 * - `GET` answers `{"api_keys": [...]}` with the channel's current key (none after a revocation).
 * - `DELETE` revokes the channel's keys and answers 204.
 * - The partner needs the client's permission: on by default (Partner Payment); a client switched to
 *   Direct Payment must grant it per channel first. Without it `POST` answers 403 with a `meta` body.
 *
 * The registry is exported so the simulator's messaging endpoints can tell which channel a
 * `D360-API-KEY` belongs to and whether it was revoked (a revoked key answers 401 there).
 */

/** One key as the Partner API answers it. */
export interface ApiKeyJson {
  id: string
  address: string
  api_key: string
  app_id: string
}

/** What the registry knows about a key value. */
export interface KeyLookup {
  channelId: string
  keyId: string
  /** false once a newer key or a DELETE revoked it. */
  active: boolean
}

/** How a client pays: Partner Payment (permission by default) or Direct Payment (must be granted). */
export type PaymentMode = 'partner' | 'direct'

/** The developer message of the permission refusal (the wording is the simulator's own). */
export const NO_PERMISSION_MESSAGE = 'Partner has no permission to generate an API key for this channel'

export interface KeyRegistryOptions {
  /** The messaging base a key is used against (its `address`). */
  address: (channel: UpstreamChannelJson) => string
  /** Key values (default: 32 random bytes, base64url). Tests may make them predictable. */
  newKey?: () => string
}

/** Issued keys per channel, revocations, client payment modes and channel permissions. */
export class KeyRegistry {
  private readonly current = new Map<string, ApiKeyJson>()
  private readonly byValue = new Map<string, KeyLookup>()
  private readonly paymentModes = new Map<string, PaymentMode>()
  private readonly permissions = new Map<string, boolean>()
  private readonly creations = new Map<string, number>()
  private sequence = 0

  constructor(private readonly opts: KeyRegistryOptions) {}

  /** Forgets every key, permission and payment mode. */
  clear(): void {
    this.current.clear()
    this.byValue.clear()
    this.paymentModes.clear()
    this.permissions.clear()
    this.creations.clear()
    this.sequence = 0
  }

  /** Whether the partner may create keys for this channel. */
  permitted(channel: Pick<UpstreamChannelJson, 'id' | 'client_id'>): boolean {
    const explicit = this.permissions.get(channel.id)
    if (explicit !== undefined) return explicit
    return this.paymentModes.get(channel.client_id) !== 'direct'
  }

  /** Sets a client's payment mode (Direct Payment withdraws the default permission). */
  setPaymentMode(clientId: string, mode: PaymentMode): void {
    this.paymentModes.set(clientId, mode)
  }

  /** Grants or withdraws the permission for one channel; withdrawing revokes its keys. */
  setPermission(channelId: string, granted: boolean): void {
    this.permissions.set(channelId, granted)
    if (!granted) this.revoke(channelId)
  }

  /** `POST …/api_keys`: a new key for the channel, revoking the earlier ones; 403 without permission. */
  create(channel: UpstreamChannelJson): ApiKeyJson {
    if (!this.permitted(channel)) throw new SimApiError(403, NO_PERMISSION_MESSAGE)
    this.revoke(channel.id)
    this.sequence += 1
    const key: ApiKeyJson = {
      id: `key${String(this.sequence).padStart(6, '0')}`,
      address: this.opts.address(channel),
      api_key: (this.opts.newKey ?? randomKey)(),
      app_id: channel.integration.app_id ?? `app${channel.id}`,
    }
    this.current.set(channel.id, key)
    this.byValue.set(key.api_key, { channelId: channel.id, keyId: key.id, active: true })
    this.creations.set(channel.id, (this.creations.get(channel.id) ?? 0) + 1)
    return { ...key }
  }

  /** `GET …/api_keys`: the channel's current keys. */
  list(channelId: string): ApiKeyJson[] {
    const key = this.current.get(channelId)
    return key ? [{ ...key }] : []
  }

  /** `DELETE …/api_keys` (and permission withdrawal): revokes the channel's keys; how many were active. */
  revoke(channelId: string): number {
    const key = this.current.get(channelId)
    if (!key) return 0
    this.current.delete(channelId)
    const found = this.byValue.get(key.api_key)
    if (found) found.active = false
    return 1
  }

  /** Which channel a key value belongs to and whether it is still active; null for a value never issued. */
  lookup(apiKey: string): KeyLookup | null {
    const found = this.byValue.get(apiKey)
    return found ? { ...found } : null
  }

  /** How many keys were created for a channel (or for all channels), for tests and benchmarks. */
  createdCount(channelId?: string): number {
    if (channelId !== undefined) return this.creations.get(channelId) ?? 0
    let total = 0
    for (const n of this.creations.values()) total += n
    return total
  }
}

function randomKey(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The api_keys routes under `/partners/{pid}/channels/{id}/api_keys` (the channel must exist: 404
 * otherwise). Answers null for a method the route does not serve.
 */
export function apiKeysRoute(
  registry: KeyRegistry,
  method: string,
  channel: () => UpstreamChannelJson,
): { status: number; body?: unknown } | null {
  if (method === 'POST') return { status: 201, body: registry.create(channel()) }
  if (method === 'GET') return { status: 200, body: { api_keys: registry.list(channel().id) } }
  if (method === 'DELETE') {
    registry.revoke(channel().id)
    return { status: 204 }
  }
  return null
}

/** Reads `{"granted": boolean}` of the permission control. */
export function grantedFlag(body: unknown): boolean {
  if (
    typeof body !== 'object' ||
    body === null ||
    typeof (body as Record<string, unknown>)['granted'] !== 'boolean'
  ) {
    throw new SimApiError(400, 'Wrong payload', ['granted: must be a boolean'])
  }
  return (body as Record<string, unknown>)['granted'] as boolean
}

/** Reads `{"mode": "partner" | "direct"}` of the payment-mode control. */
export function paymentModeOf(body: unknown): PaymentMode {
  const mode = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['mode'] : null
  if (mode !== 'partner' && mode !== 'direct') {
    throw new SimApiError(400, 'Wrong payload', ['mode: partner or direct'])
  }
  return mode
}

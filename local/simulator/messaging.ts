import type { IncomingMessage } from 'node:http'
import { metaReply, type Reply } from './http'
import type { UpstreamChannelJson } from './types'

/**
 * The simulator's 360dialog Messaging API, as far as health goes (README "Messaging API"): one
 * endpoint per channel key, `D360-API-KEY` in a header, at two bases of the simulator's own address:
 *
 * - `/messaging` (the Cloud API, `waba-v2.360dialog.io`): `GET /health_status` answers
 *   `{"health_status": {"can_send_message", "entities": […]}, "id"}`, and
 *   `GET /v1/configs/phone_number` answers `{"id", "display_phone_number", "verified_name"}`;
 * - `/waba` (the on-premise API, `waba.360dialog.io`, version 1 channels): `GET /v1/health` answers
 *   `{"health": {"gateway_status"}}` and `GET /v1/configs/phone_number` `{"phone_number"}`.
 *
 * A key that was never issued or was revoked gets 401: on Cloud `{"error": "…"}` (the Messaging API's
 * own error body), on-premise the documented `meta` body "Invalid api key". Each channel's health can
 * be set (test control) and changes now and then in demo mode.
 */

/** Cloud statuses and on-premise gateway statuses the simulator serves. */
export const SIM_CLOUD_STATUSES = ['AVAILABLE', 'LIMITED', 'BLOCKED'] as const
export const SIM_GATEWAY_STATUSES = [
  'connected',
  'connecting',
  'disconnected',
  'uninitialized',
  'unregistered',
] as const
export type SimCloudStatus = (typeof SIM_CLOUD_STATUSES)[number]
export type SimGatewayStatus = (typeof SIM_GATEWAY_STATUSES)[number]

/** Base path of each messaging API on the simulator. */
export const MESSAGING_BASES = { cloud: '/messaging', onpremise: '/waba' } as const
export type SimMessagingKind = keyof typeof MESSAGING_BASES

/** Which channel a key belongs to, and whether it still works (the api_keys registry answers this). */
export interface SimKeyLookup {
  /** The channel id of a key that was issued and not revoked, else null. */
  channelFor(apiKey: string): string | null
}

/** What the messaging endpoints read of the Partner API state. */
export interface SimChannelSource {
  channel(id: string): UpstreamChannelJson | null
}

/** One channel's messaging health as the simulator keeps it. */
interface SimHealth {
  cloud: SimCloudStatus
  gateway: SimGatewayStatus
}

/** One messaging request, for tests and benchmarks. */
export interface MessagingRequestEntry {
  path: string
  channelId: string | null
  status: number
  time: string
}

const MAX_LOG = 200_000

/** The Messaging API endpoints of the simulator. */
export class SimMessaging {
  private readonly health = new Map<string, SimHealth>()
  private log: MessagingRequestEntry[] = []
  /** Delay of every messaging answer, in ms (benchmarks). */
  latencyMs = 0

  constructor(
    private readonly keys: SimKeyLookup,
    private readonly channels: SimChannelSource,
    private readonly clock: () => Date,
  ) {}

  /** Which API serves a channel: version 1 (Classic Signup) channels are on-premise, the rest Cloud. */
  kindOf(channel: UpstreamChannelJson): SimMessagingKind {
    return channel.version === 1 ? 'onpremise' : 'cloud'
  }

  /** The `address` an api_keys answer gives for a channel: the simulator's base for its API. */
  addressFor(simulatorUrl: string, channel: UpstreamChannelJson): string {
    return `${simulatorUrl}${MESSAGING_BASES[this.kindOf(channel)]}`
  }

  /** A channel's health (AVAILABLE / connected until set). */
  healthOf(channelId: string): SimHealth {
    return this.health.get(channelId) ?? { cloud: 'AVAILABLE', gateway: 'connected' }
  }

  /** Sets a channel's health: a Cloud status, a gateway status, or both. */
  setHealth(channelId: string, status: SimCloudStatus | SimGatewayStatus): SimHealth {
    const current = this.healthOf(channelId)
    const next: SimHealth = (SIM_CLOUD_STATUSES as readonly string[]).includes(status)
      ? { ...current, cloud: status as SimCloudStatus }
      : { ...current, gateway: status as SimGatewayStatus }
    this.health.set(channelId, next)
    return next
  }

  /** Demo mode: one live channel's health moves (mostly back to healthy, sometimes away from it). */
  demoStep(liveChannelIds: readonly string[], random: () => number): string | null {
    const id = liveChannelIds[Math.floor(random() * liveChannelIds.length)]
    if (id === undefined) return null
    const r = random()
    const cloud: SimCloudStatus = r < 0.6 ? 'AVAILABLE' : r < 0.85 ? 'LIMITED' : 'BLOCKED'
    const gateway: SimGatewayStatus = r < 0.7 ? 'connected' : r < 0.85 ? 'connecting' : 'disconnected'
    this.health.set(id, { cloud, gateway })
    return id
  }

  requests(): MessagingRequestEntry[] {
    return this.log.map((e) => ({ ...e }))
  }

  clear(): void {
    this.health.clear()
    this.log = []
    this.latencyMs = 0
  }

  clearRequests(): void {
    this.log = []
  }

  /** Whether a path belongs to the messaging APIs (`/messaging/…` or `/waba/…`). */
  static handles(pathname: string): boolean {
    return Object.values(MESSAGING_BASES).some((b) => pathname === b || pathname.startsWith(`${b}/`))
  }

  /** Answers one messaging request. */
  async handle(
    req: IncomingMessage,
    method: string,
    pathname: string,
    sleep: (ms: number) => Promise<void>,
  ): Promise<Reply> {
    const kind: SimMessagingKind =
      pathname === MESSAGING_BASES.cloud || pathname.startsWith(`${MESSAGING_BASES.cloud}/`)
        ? 'cloud'
        : 'onpremise'
    const path = pathname.slice(MESSAGING_BASES[kind].length) || '/'
    const entry: MessagingRequestEntry = {
      path: pathname,
      channelId: null,
      status: 0,
      time: this.clock().toISOString(),
    }
    this.log.push(entry)
    if (this.log.length > MAX_LOG) this.log.splice(0, this.log.length - MAX_LOG)
    if (this.latencyMs > 0) await sleep(this.latencyMs)
    const reply = this.answer(req, method, kind, path, entry)
    entry.status = reply.status
    return reply
  }

  private answer(
    req: IncomingMessage,
    method: string,
    kind: SimMessagingKind,
    path: string,
    entry: MessagingRequestEntry,
  ): Reply {
    const header = req.headers['d360-api-key']
    const key = typeof header === 'string' ? header : ''
    const channelId = key === '' ? null : this.keys.channelFor(key)
    const channel = channelId === null ? null : this.channels.channel(channelId)
    if (!channel) return refused(kind)
    entry.channelId = channel.id
    // A key is valid on its own API only: a Cloud key at the on-premise base is refused.
    if (this.kindOf(channel) !== kind) return refused(kind)
    if (method !== 'GET') return notFound(kind)
    const phone = String(channel.setup_info?.phone_number ?? '')
    const h = this.healthOf(channel.id)
    if (kind === 'cloud' && path === '/health_status')
      return { status: 200, body: cloudBody(channel, h.cloud) }
    if (kind === 'onpremise' && path === '/v1/health')
      return { status: 200, body: { health: { gateway_status: h.gateway } } }
    if (path === '/v1/configs/phone_number') {
      if (kind === 'onpremise') return { status: 200, body: { phone_number: phone.replace(/\D/g, '') } }
      return {
        status: 200,
        body: {
          id: phoneNumberId(channel.id),
          display_phone_number: phone,
          verified_name: channel.setup_info?.phone_name ?? null,
        },
      }
    }
    return notFound(kind)
  }
}

function refused(kind: SimMessagingKind): Reply {
  return kind === 'cloud'
    ? { status: 401, body: { error: 'Invalid api key' } }
    : metaReply(401, 'Invalid api key')
}

function notFound(kind: SimMessagingKind): Reply {
  return kind === 'cloud' ? { status: 404, body: { error: 'Not found' } } : metaReply(404, 'Not found')
}

/** A stable, numeric-looking Meta phone number id for a channel. */
function phoneNumberId(channelId: string): string {
  let h = 7
  for (const ch of channelId) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000_007
  return String(100_000_000_000_000 + h)
}

/**
 * The Cloud health body: the overall status and the documented entities (phone number, WABA,
 * business, app). A BLOCKED number carries an `errors` entry, a LIMITED one `additional_info`.
 */
function cloudBody(channel: UpstreamChannelJson, status: SimCloudStatus): object {
  const phone: Record<string, unknown> = {
    entity_type: 'PHONE_NUMBER',
    id: phoneNumberId(channel.id),
    can_send_message: status,
  }
  if (status === 'BLOCKED') {
    phone.errors = [
      {
        error_code: 141006,
        error_description: 'There is an error with the payment method.',
        possible_solution: 'Update the payment method of the WhatsApp Business Account.',
      },
    ]
  }
  if (status === 'LIMITED') phone.additional_info = ['The number has reached its messaging limit for now.']
  return {
    health_status: {
      can_send_message: status,
      entities: [
        phone,
        {
          entity_type: 'WABA',
          id: String(channel.waba_account?.id ?? 'sim-waba'),
          can_send_message: 'AVAILABLE',
        },
        { entity_type: 'BUSINESS', id: 'sim-business', can_send_message: 'AVAILABLE' },
        {
          entity_type: 'APP',
          id: String(channel.integration?.app_id ?? 'sim-app'),
          can_send_message: 'AVAILABLE',
        },
      ],
    },
    id: phoneNumberId(channel.id),
  }
}

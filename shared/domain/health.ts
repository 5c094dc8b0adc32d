import * as z from 'zod/mini'
import './zod-locale'

/**
 * Messaging health of a channel (README, "Channel health"): what the 360dialog Messaging API says about
 * the number behind a channel's API key, read by the health job. Pure: the shapes of the two health
 * bodies, how they become a stored `health`, and the rules on top (which statuses alarm, when the
 * number behind a key is checked again). No I/O.
 */

/** The Cloud API's `can_send_message` (GET /health_status). */
export const CLOUD_HEALTH_STATUSES = ['AVAILABLE', 'LIMITED', 'BLOCKED'] as const
/** The on-premise API's `gateway_status` (GET /v1/health). */
export const GATEWAY_STATUSES = [
  'connected',
  'connecting',
  'disconnected',
  'uninitialized',
  'unregistered',
] as const
/** Every value `health.status` can take: the Cloud statuses, then the on-premise ones. */
export const HEALTH_STATUSES = [...CLOUD_HEALTH_STATUSES, ...GATEWAY_STATUSES] as const
export type CloudHealthStatus = (typeof CLOUD_HEALTH_STATUSES)[number]
export type GatewayStatus = (typeof GATEWAY_STATUSES)[number]
export type HealthStatus = (typeof HEALTH_STATUSES)[number]

/** The statuses that mean a live channel cannot send: they are alarmed when a channel enters them. */
export const UNHEALTHY_STATUSES: ReadonlySet<HealthStatus> = new Set<HealthStatus>([
  'BLOCKED',
  'disconnected',
])

/** Which Messaging API a channel's key belongs to. */
export type MessagingApiKind = 'cloud' | 'onpremise'

/** One problem the last check found (Meta's entity errors, a limitation, a key for another number). */
export interface HealthError {
  /** snake_case: `meta_<error_code>`, `limited`, `number_mismatch`, `number_unverified`. */
  code: string
  message: string
}

/** A channel's health as served (`GET /channels`): `{status, checkedAt, errors}`. */
export interface ChannelHealth {
  status: HealthStatus
  /** When the check that found this status ran (refreshed at least every HEALTH_REFRESH_MS). */
  checkedAt: string
  errors: HealthError[]
}

/** As stored on the channel item: also when the number behind the key was last verified (not served). */
export interface StoredHealth extends ChannelHealth {
  numberCheckedAt?: string | null
}

/** A stored key the Messaging API refused (401): which key (never its value) and when. */
export interface KeyRejection {
  key: string
  at: string
  /**
   * Whether one replacement key is due (README "Channel API keys"): true when the refused key was not
   * itself a replacement of a refused key; false leaves the channel `invalid` until a new permission
   * or a rotation, so a key that keeps being refused never loops through creations. Absent on
   * rejections recorded before replacements existed: no replacement.
   */
  replace?: boolean
}

/** What one health call found (before the number check and bookkeeping). */
export interface HealthReading {
  status: HealthStatus
  errors: HealthError[]
}

/** At most this many errors are kept per check, each message cut to {@link ERROR_MESSAGE_CHARS}. */
export const MAX_HEALTH_ERRORS = 10
export const ERROR_MESSAGE_CHARS = 300

/** The number behind a key is verified on the first check and again after this long. */
export const NUMBER_RECHECK_MS = 24 * 3600_000
/**
 * An unchanged health is written again (to move `checkedAt`) only after this long: a write per check
 * would cost one DynamoDB write per channel every interval for nothing a reader can act on.
 */
export const HEALTH_REFRESH_MS = 6 * 3600_000

const errorOf = (code: string, message: string): HealthError => ({
  code,
  message: message.slice(0, ERROR_MESSAGE_CHARS),
})

// Built on first parse (z.lazy), like the Partner API schemas: nothing at import.
const cloudEntity = () =>
  z.looseObject({
    entity_type: z.nullish(z.string()),
    id: z.nullish(z.union([z.string(), z.number()])),
    can_send_message: z.nullish(z.string()),
    additional_info: z.nullish(z.array(z.string())),
    errors: z.nullish(
      z.array(
        z.looseObject({
          error_code: z.nullish(z.union([z.number(), z.string()])),
          error_description: z.nullish(z.string()),
          possible_solution: z.nullish(z.string()),
        }),
      ),
    ),
  })

/** `GET {address}/health_status` (docs/partner-api-notes.md, "Messaging API health"). */
export const cloudHealthSchema = z.lazy(() =>
  z.looseObject({
    health_status: z.looseObject({
      can_send_message: z.enum(CLOUD_HEALTH_STATUSES),
      entities: z.nullish(z.array(cloudEntity())),
    }),
    id: z.nullish(z.union([z.string(), z.number()])),
  }),
)

const gatewayNode = () =>
  z.looseObject({ gateway_status: z.enum(GATEWAY_STATUSES), role: z.nullish(z.string()) })

/**
 * `GET {address}/v1/health`: `{"health": {"gateway_status": …}}`, or in high-availability and
 * multiconnect setups one entry per `host:container`, each with its own `gateway_status` and `role`.
 */
export const gatewayHealthSchema = z.lazy(() =>
  z.looseObject({
    health: z.union([gatewayNode(), z.record(z.string(), z.union([gatewayNode(), z.unknown()]))]),
  }),
)

/** `GET {address}/v1/configs/phone_number`: on-premise `phone_number`, Cloud `display_phone_number`. */
export const phoneNumberSchema = z.lazy(() =>
  z.looseObject({
    phone_number: z.nullish(z.union([z.string(), z.number()])),
    display_phone_number: z.nullish(z.union([z.string(), z.number()])),
    id: z.nullish(z.union([z.string(), z.number()])),
    verified_name: z.nullish(z.string()),
  }),
)

/** The Cloud health body as a reading: the overall status, each entity's errors and limitations. */
export function cloudReading(body: z.infer<typeof cloudHealthSchema>): HealthReading {
  const errors: HealthError[] = []
  for (const entity of body.health_status.entities ?? []) {
    const who = entity.entity_type ?? 'ENTITY'
    for (const e of entity.errors ?? []) {
      const code = e.error_code === null || e.error_code === undefined ? 'unknown' : String(e.error_code)
      const text = [e.error_description, e.possible_solution].filter((s) => s).join(' ')
      errors.push(errorOf(`meta_${code.replace(/[^A-Za-z0-9_]/g, '_')}`, `${who}: ${text || 'blocked'}`))
    }
    for (const info of entity.additional_info ?? []) errors.push(errorOf('limited', `${who}: ${info}`))
  }
  return { status: body.health_status.can_send_message, errors: errors.slice(0, MAX_HEALTH_ERRORS) }
}

/** How bad each gateway status is, for a high-availability body (the worst node decides). */
const GATEWAY_RANK: Record<GatewayStatus, number> = {
  connected: 0,
  connecting: 1,
  uninitialized: 2,
  unregistered: 3,
  disconnected: 4,
}

/**
 * The on-premise health body as a reading. With one entry per `host:container` (high availability,
 * multiconnect), the worst node's status stands for the channel and every other node's status is an
 * error naming the node, so a disconnected secondary is visible without hiding a connected primary.
 */
export function gatewayReading(body: z.infer<typeof gatewayHealthSchema>): HealthReading | null {
  const h = body.health as Record<string, unknown>
  const single = gatewayNode().safeParse(h)
  if (single.success) return { status: single.data.gateway_status, errors: [] }
  const nodes: { name: string; status: GatewayStatus; role: string | null }[] = []
  for (const [name, value] of Object.entries(h)) {
    const node = gatewayNode().safeParse(value)
    if (node.success) nodes.push({ name, status: node.data.gateway_status, role: node.data.role ?? null })
  }
  if (nodes.length === 0) return null
  nodes.sort((a, b) => GATEWAY_RANK[b.status] - GATEWAY_RANK[a.status])
  const worst = nodes[0] as (typeof nodes)[number]
  const errors = nodes
    .filter((n) => n.status !== 'connected')
    .map((n) => errorOf(`gateway_${n.status}`, `${n.name}${n.role ? ` (${n.role})` : ''}: ${n.status}`))
  return { status: worst.status, errors: errors.slice(0, MAX_HEALTH_ERRORS) }
}

/** The digits of a phone number (`+49 151 2345-678` → `491512345678`); null when there are none. */
export function phoneDigits(value: string | number | null | undefined): string | null {
  if (value === null || value === undefined) return null
  const digits = String(value).replace(/\D/g, '')
  return digits === '' ? null : digits
}

/** The number a phone_number body names (on-premise `phone_number`, else Cloud `display_phone_number`). */
export function numberOf(body: z.infer<typeof phoneNumberSchema>): string | null {
  return phoneDigits(body.phone_number) ?? phoneDigits(body.display_phone_number)
}

/** The last four digits, for messages: enough to tell two numbers apart, not to dial one. */
const tail = (digits: string): string => `…${digits.slice(-4)}`

/**
 * Whether the number behind the key is the channel's stored number: null when they agree, else the
 * error to show. A key for another number is a serious finding (messages would leave from it).
 */
export function numberCheck(stored: string | null, answered: string | null): HealthError | null {
  const want = phoneDigits(stored)
  if (answered === null) return errorOf('number_unverified', 'the key did not name its phone number')
  if (want === null) return errorOf('number_unverified', 'the channel has no stored phone number to compare')
  if (want === answered) return null
  return errorOf(
    'number_mismatch',
    `the key answers for ${tail(answered)}, the channel's number is ${tail(want)}`,
  )
}

/** Whether the number behind the key is due for verification at `now`. */
export function numberCheckDue(previous: StoredHealth | null | undefined, now: Date): boolean {
  const at = previous?.numberCheckedAt ? Date.parse(previous.numberCheckedAt) : Number.NaN
  return Number.isNaN(at) || now.getTime() - at >= NUMBER_RECHECK_MS
}

const NUMBER_CODES = new Set(['number_mismatch', 'number_unverified'])

/**
 * The health to store after a check: the reading's status and errors, plus the number check's result
 * (this check's, or the previous one's carried over when the number was not checked this time).
 */
export function nextHealth(
  previous: StoredHealth | null | undefined,
  reading: HealthReading,
  number: { checked: true; error: HealthError | null } | { checked: false },
  now: Date,
): StoredHealth {
  const carried = number.checked
    ? number.error
      ? [number.error]
      : []
    : (previous?.errors ?? []).filter((e) => NUMBER_CODES.has(e.code))
  return {
    status: reading.status,
    checkedAt: now.toISOString(),
    errors: [...carried, ...reading.errors].slice(0, MAX_HEALTH_ERRORS),
    numberCheckedAt: number.checked ? now.toISOString() : (previous?.numberCheckedAt ?? null),
  }
}

const sameErrors = (a: HealthError[], b: HealthError[]): boolean =>
  a.length === b.length && a.every((e, i) => e.code === b[i]?.code && e.message === b[i]?.message)

/**
 * Whether a new health must be written: the status or errors changed, the number was verified, or
 * the stored `checkedAt` is older than {@link HEALTH_REFRESH_MS}. Otherwise the check costs no write.
 */
export function healthWriteDue(previous: StoredHealth | null | undefined, next: StoredHealth): boolean {
  if (!previous) return true
  if (previous.status !== next.status || !sameErrors(previous.errors, next.errors)) return true
  if ((previous.numberCheckedAt ?? null) !== (next.numberCheckedAt ?? null)) return true
  const at = Date.parse(previous.checkedAt)
  return Number.isNaN(at) || Date.parse(next.checkedAt) - at >= HEALTH_REFRESH_MS
}

/** Whether `next` is a live channel entering an alarmed status (it was not in one before). */
export function becameUnhealthy(previous: StoredHealth | null | undefined, next: ChannelHealth): boolean {
  return UNHEALTHY_STATUSES.has(next.status) && !(previous && UNHEALTHY_STATUSES.has(previous.status))
}

/** The served shape of a stored health (what `GET /channels` shows). */
export function healthView(stored: StoredHealth | null | undefined): ChannelHealth | null {
  if (!stored) return null
  return { status: stored.status, checkedAt: stored.checkedAt, errors: stored.errors }
}

/** The API a key belongs to, from the address 360dialog gave with it (`waba.` is the on-premise host). */
export function apiKindOf(address: string | null | undefined): MessagingApiKind {
  if (!address) return 'cloud'
  try {
    const u = new URL(address)
    return u.hostname === 'waba.360dialog.io' || /(^|\/)waba\/?$/.test(u.pathname) ? 'onpremise' : 'cloud'
  } catch {
    return 'cloud'
  }
}

/** Channels by health status, as of a sweep: every status, plus live channels not checked yet. */
export type HealthCounts = Record<HealthStatus, number> & { unchecked: number }

/** An empty count of every status. */
export function emptyHealthCounts(): HealthCounts {
  return Object.fromEntries([...HEALTH_STATUSES.map((s) => [s, 0]), ['unchecked', 0]]) as HealthCounts
}

/** Summary of one health sweep (GET /status `health.lastSweep`). */
export interface HealthSweepSummary {
  sweepId: string
  startedAt: string
  endedAt: string | null
  /** `running` while it checks; `skipped` when another sweep holds the lease or the last one is too recent. */
  outcome: 'running' | 'succeeded' | 'failed' | 'skipped'
  /** Why it was skipped or failed. */
  reason: string | null
  /** Live channels listed. */
  live: number
  /** Health calls made (one per channel at most). */
  checked: number
  /** Live channels without a stored key (never checked). */
  withoutKey: number
  /** Channels whose health was written (changed, or refreshed). */
  written: number
  /** Channels whose status changed. */
  changed: number
  /** Channels that entered BLOCKED or disconnected. */
  becameUnhealthy: number
  /** Checks that failed (upstream unreachable, invalid answer); their health stays as it was. */
  failed: number
  /** Keys refused with 401: marked invalid, one re-provisioning asked for. */
  keysRejected: number
  /** Checks not run because they would have been too late for their slot (pacing). */
  late: number
  /** Number checks made (`/v1/configs/phone_number`). */
  numberChecks: number
  /** Messaging API requests, retries included. */
  calls: number
  /** Live channels by health after the sweep. */
  byStatus: HealthCounts
}

/** The metrics of one sweep (functions/health/handler.ts emits them; infra/metrics.ts HEALTH names them for the alarms and the dashboard). */
export const HEALTH_METRICS = {
  sweepSucceeded: 'HealthSweepSucceeded',
  sweepFailed: 'HealthSweepFailed',
  sweepSkipped: 'HealthSweepSkipped',
  sweepDuration: 'HealthSweepDuration',
  checked: 'HealthChecked',
  changed: 'HealthChanged',
  failed: 'HealthCheckFailed',
  late: 'HealthCheckLate',
  keysRejected: 'HealthKeysRejected',
  withoutKey: 'ChannelsWithoutKey',
  unhealthy: 'ChannelsUnhealthy',
  becameUnhealthy: 'ChannelsBecameUnhealthy',
  calls: 'MessagingCalls',
} as const

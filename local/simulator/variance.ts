import type { UpstreamChannelJson, UpstreamClientJson } from './types'
import { hashUnit, isPlainObject } from './util'
import type { Envelope } from './webhooks'

/**
 * Real-world variants of Partner API bodies (README "Variance"): shapes other people's integrations
 * show from the live API that differ from the documentation's examples. With variance on, the
 * simulator emits them so that whatever consumes it meets them in tests and locally.
 *
 * Which object or delivery varies is chosen deterministically from a seed and a stable key (an
 * object's id, or a delivery's event, entity id and modification time), so a test run is
 * reproducible. Every variant keeps to what the real API could send: it drops optional fields,
 * adds documented fields the examples leave out, changes the JSON type of numeric ids, wraps the
 * entity, or adds an event; it never invents a value (no partner payload, no dates it has not got).
 */
export const VARIANT_NAMES = [
  'v1_channels',
  'undated_webhooks',
  'numeric_ids',
  'nested_entities',
  'unknown_fields',
  'missing_optional_fields',
  'permission_granted',
] as const

/** One real-world variant. */
export type VariantName = (typeof VARIANT_NAMES)[number]

/**
 * What `SIMULATOR_VARIANCE` and `startSimulator` use when told nothing: every variant. (While the
 * PartnerOps webhook receiver could not read numeric ids, nested entities or a minimal
 * `channel_live`, those three were held back here; it reads them now.)
 */
export const DEFAULT_VARIANTS: ReadonlySet<VariantName> = new Set<VariantName>(VARIANT_NAMES)

/** `'on'` = every variant, `'off'` = none, or exactly the given ones. */
export type VarianceSetting = 'on' | 'off' | ReadonlySet<VariantName> | readonly VariantName[]

/** Parses `on`, `off` or a comma-separated list of variant names; null when something is unknown. */
export function parseVarianceSetting(raw: string): VarianceSetting | null {
  const value = raw.trim()
  if (value === 'on' || value === 'off') return value
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  if (names.length === 0) return null
  if (!names.every((n): n is VariantName => (VARIANT_NAMES as readonly string[]).includes(n))) return null
  return new Set(names)
}

/** A webhook event to deliver. */
export interface WebhookEvent {
  event: string
  data: UpstreamChannelJson | UpstreamClientJson
}

// Documented channel fields the examples leave out; each value is one the API would send for any
// channel (an unset flag), or derived from what the channel already has.
function unknownChannelFields(channel: Record<string, unknown>): Record<string, unknown> {
  const extra: Record<string, unknown> = { is_migrated: false, is_on_biz_app: false }
  const waba = channel['waba_account']
  if (isPlainObject(waba) && typeof waba['external_id'] === 'string') extra['waba_account_id'] = waba['id']
  return extra
}

// Optional channel fields the variant drops when they hold nothing (null) or are flags some
// bodies leave out. `terminated_at` stays: on a cancellation it is the evidence.
const DROPPABLE_FLAGS = ['has_inbox', 'is_oba'] as const

function dropNulls(value: Record<string, unknown>, keep: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    if (v === null && !keep.has(k)) continue
    out[k] = isPlainObject(v) ? dropNulls(v, new Set()) : v
  }
  return out
}

const KEEP_CHANNEL = new Set(['terminated_at'])

function numeric(value: unknown): unknown {
  return typeof value === 'string' && /^[1-9]\d{0,14}$/.test(value) ? Number(value) : value
}

/** Turns the digit-only ids of a channel (app id, WABA external id, business id) into numbers. */
function numericChannelIds(channel: Record<string, unknown>): Record<string, unknown> {
  const out = { ...channel }
  const integration = out['integration']
  if (isPlainObject(integration))
    out['integration'] = { ...integration, app_id: numeric(integration['app_id']) }
  const waba = out['waba_account']
  if (isPlainObject(waba)) {
    const obo = waba['on_behalf_of_business_info']
    out['waba_account'] = {
      ...waba,
      external_id: numeric(waba['external_id']),
      ...(isPlainObject(obo) ? { on_behalf_of_business_info: { ...obo, id: numeric(obo['id']) } } : {}),
    }
  }
  return out
}

function isChannel(data: unknown): data is UpstreamChannelJson {
  return isPlainObject(data) && typeof data['client_id'] === 'string' && isPlainObject(data['setup_info'])
}

/** The variance in force for one simulator. */
export class Variance {
  readonly enabled: ReadonlySet<VariantName>
  private sequence = 0

  constructor(
    setting: VarianceSetting = 'off',
    private readonly seed = 11,
    /** Share (0–1) of objects and deliveries each enabled variant applies to. */
    private readonly rate = 0.3,
  ) {
    this.enabled =
      setting === 'on' ? new Set(VARIANT_NAMES) : setting === 'off' ? new Set() : new Set(setting)
  }

  /** Whether variant `v` applies to the object or delivery identified by `key`. */
  applies(v: VariantName, key: string): boolean {
    return this.enabled.has(v) && (this.rate >= 1 || hashUnit(`${v}:${key}`, this.seed) < this.rate)
  }

  /** Whether a new channel is a version 1 (Classic Signup) channel. */
  isV1Channel(channelId: string): boolean {
    return this.applies('v1_channels', channelId)
  }

  /** A channel as a list page or an answer shows it. */
  channel(channel: UpstreamChannelJson): Record<string, unknown> {
    let out: Record<string, unknown> = channel as unknown as Record<string, unknown>
    if (this.applies('unknown_fields', channel.id)) out = { ...out, ...unknownChannelFields(out) }
    if (this.applies('missing_optional_fields', channel.id)) {
      out = dropNulls(out, KEEP_CHANNEL)
      for (const flag of DROPPABLE_FLAGS) delete out[flag]
    }
    return out
  }

  /** A client as a list page or an answer shows it. */
  client(client: UpstreamClientJson): Record<string, unknown> {
    let out: Record<string, unknown> = client as unknown as Record<string, unknown>
    if (this.applies('missing_optional_fields', client.id)) {
      out = dropNulls(out, new Set())
      delete out['suspicious']
    }
    return out
  }

  /**
   * The events one state change delivers: each as is, plus `channel_permission_granted` after a
   * `channel_ready` for the channels that variant picks (the moment integrations create the
   * channel's API key).
   */
  expand(events: readonly WebhookEvent[]): WebhookEvent[] {
    const out: WebhookEvent[] = []
    for (const e of events) {
      out.push(e)
      if (e.event === 'channel_ready' && this.applies('permission_granted', e.data.id)) {
        out.push({ event: 'channel_permission_granted', data: e.data })
      }
    }
    return out
  }

  /** Reshapes one webhook envelope before it is signed and sent. */
  envelope(envelope: Envelope): Envelope {
    const data = envelope.data as Record<string, unknown>
    const entityId = typeof data['id'] === 'string' ? data['id'] : ''
    const key = `${envelope.event}:${entityId}:${String(data['modified_at'] ?? '')}`
    const channel = isChannel(data)
    let body: Record<string, unknown> = channel
      ? this.channel(data)
      : this.client(data as unknown as UpstreamClientJson)
    if (this.applies('missing_optional_fields', key) && envelope.event === 'channel_live') {
      // The minimal channel_live other integrations show: no account_mode; the event is the evidence.
      const { account_mode: _dropped, ...rest } = body
      body = rest
    }
    if (this.applies('numeric_ids', key) && channel) body = numericChannelIds(body)
    const out: Envelope = { ...envelope }
    if (this.applies('numeric_ids', key)) out.id = 1_000_000 + ++this.sequence
    if (this.applies('undated_webhooks', key)) {
      delete out['timestamp']
      const { modified_at: _undated, ...rest } = body
      body = rest
    }
    if (this.applies('nested_entities', key)) {
      if (channel) {
        const short = body['client']
        out.data = isPlainObject(short) ? { channel: body, client: short } : { channel: body }
      } else {
        out.data = { client: body }
      }
    } else {
      out.data = body
    }
    return out
  }
}

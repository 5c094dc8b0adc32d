import type {
  ChannelClientJson,
  PartnerJson,
  UpstreamChannelJson,
  UpstreamClientJson,
  WabaAccountJson,
} from './types'
import { isoSeconds, pad } from './util'

/**
 * Builders of complete Partner API objects with plausible defaults, in the shapes of
 * the simulator README ("What it models"). Pure: ids, numbers
 * and times come from the caller.
 */

/** Default partner object: the fixture's shape with the simulator's id. */
export function defaultPartner(
  partnerId: string,
  webhookUrl: string | null,
  redirectUrl: string | null = null,
): PartnerJson {
  return {
    id: partnerId,
    brand_name: 'PartnerOps Demo Partner',
    payment_required: false,
    payment_plan: {},
    logo_url: null,
    onboarding_deeplink_add_params: false,
    webhook_url: webhookUrl,
    partner_redirect_url: redirectUrl,
    country: 'DE',
    blocked_new_submission: false,
    allow_client_to_add_phone_no: true,
    settings: null,
    billing_system: 'stripe',
    publishable_key: null,
  }
}

/** The channel-embedded short client. */
export function toShortClient(client: UpstreamClientJson): ChannelClientJson {
  return {
    id: client.id,
    name: client.name,
    partner_payload: client.partner_payload,
    contact_info: { ...client.contact_info },
  }
}

/** A complete client with plausible defaults; `partnerPayload` null when the client has none. */
export function makeClient(
  id: string,
  name: string,
  createdAt: string,
  partnerPayload: string | null,
  n: number,
): UpstreamClientJson {
  const slug = id.toLowerCase()
  return {
    id,
    name,
    status: 'active',
    organisation: `${name} Ltd`,
    max_channels: 10,
    partner_payload: partnerPayload,
    meta_info: {
      business_vertical: 'OTHER',
      timezone: 'Europe/Berlin',
      about: null,
      business_description: null,
      use_case: null,
    },
    contact_info: {
      webpage_url: `https://${slug}.example.test`,
      phone: `+4930${pad(n % 10_000_000, 7)}`,
      language: 'en',
      country: 'DE',
      street_name: `Teststr. ${(n % 200) + 1}`,
      city: 'Berlin',
      email: `ops@${slug}.example.test`,
      full_name: `Contact ${n}`,
      zip_code: '10115',
    },
    contact_user: { phone: null, email: `owner@${slug}.example.test`, name: `Owner ${n}` },
    created_at: createdAt,
    created_by: { user_id: 'system', user_name: 'system' },
    modified_at: createdAt,
    modified_by: { user_id: 'system', user_name: 'system' },
    suspicious: false,
  }
}

/** A WABA account for a client (shared by its channels). */
export function makeWaba(clientId: string, createdAt: string, n: number): WabaAccountJson {
  const id = `W${pad(n, 6, 36)}WA`
  return {
    id,
    external_id: String(105000000000000 + n),
    name: `WABA ${id}`,
    namespace: `5e1a7c00_${pad(n, 8, 36)}_${id.toLowerCase()}`,
    client_id: clientId,
    consents: {},
    created_at: createdAt,
    created_by: { user_id: 'system', user_name: 'system' },
    fb_account_status: 'verified',
    on_behalf_of_business_info: {
      id: String(905000000000000 + n),
      name: `OBO ${id}`,
      status: 'approved',
      type: 'OWNER',
    },
  }
}

/** A complete channel in the given onboarding status (`live` also sets account mode and billing). */
export function makeChannel(o: {
  id: string
  client: UpstreamClientJson
  short?: ChannelClientJson
  waba: WabaAccountJson
  phone: string
  status: string
  createdAt: string
  appId: string | null
  now: Date
}): UpstreamChannelJson {
  const live = o.status === 'live'
  return {
    id: o.id,
    client_id: o.client.id,
    client: o.short ?? toShortClient(o.client),
    status: o.status,
    account_mode: live ? 'live' : 'sandbox',
    created_at: o.createdAt,
    modified_at: o.createdAt,
    billing_started_at: live ? o.createdAt : null,
    terminated_at: null,
    current_limit: live ? 'TIER_1K' : null,
    current_quality_rating: live ? 'GREEN' : null,
    availability_status: live ? 'ready' : 'setting_up',
    setup_info: {
      phone_number: o.phone,
      phone_name: o.client.name,
      was_in_use: false,
      ivr: false,
      verification_method: 'sms',
      default_language: 'en',
      certificate: null,
      new_name_status: null,
      has_integration_layer: false,
      error: null,
      configuration_type: 'cloud',
      region: 'EU',
      shards_number: 1,
    },
    waba_account: o.waba,
    integration:
      o.appId === null
        ? { enabled: false, app_id: null, state: 'pending' }
        : { enabled: true, app_id: o.appId, state: 'running' },
    has_inbox: false,
    is_oba: false,
  }
}

/** Marks a channel terminated at the given time (seeds, generation). */
export function terminateInPlace(channel: UpstreamChannelJson, terminatedAt: string): void {
  channel.status = 'terminated'
  channel.account_mode = 'live'
  channel.terminated_at = terminatedAt
  channel.availability_status = 'error'
  channel.integration = {
    enabled: false,
    app_id: channel.integration.app_id ?? '499999',
    state: 'terminated',
  }
  channel.billing_started_at ??= channel.created_at
}

/** The kinds of channel bulk generation produces, in a fixed repeating mix. */
export type GeneratedKind = 'live' | 'running' | 'created' | 'ready' | 'pending' | 'terminated' | 'error'
export const GENERATED_MIX: readonly GeneratedKind[] = [
  'live',
  'live',
  'running',
  'live',
  'created',
  'live',
  'pending',
  'live',
  'ready',
  'live',
  'terminated',
  'live',
  'error',
  'live',
  'running',
  'live',
  'live',
  'created',
  'live',
  'live',
]

/** A plausible client balance body, deterministic per client. */
export function balanceFor(clientId: string, granularity: string, now: Date): Record<string, unknown> {
  let h = 0
  for (const ch of clientId) h = (h * 31 + ch.charCodeAt(0)) >>> 0
  const quantity = h % 5000
  const free = Math.min(quantity, 1000)
  const period = isoSeconds(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1))
  return {
    balance: (h % 10_000) / 100,
    currency: 'USD',
    last_renewal: { date: period, amount: 50 },
    estimated_template_cost: (quantity - free) * 0.01,
    granularity,
    bi_price_for_currency_and_client_country: 0.0147,
    ui_price_for_currency_and_client_country: 0.0048,
    usage: [
      {
        period_date: period,
        quantity,
        free_quantity: free,
        paid_quantity: quantity - free,
        total_price: Math.round((quantity - free) * 1.47) / 100,
        marketing_quantity: Math.floor(quantity / 3),
        utility_quantity: Math.floor(quantity / 3),
        authentication_quantity: Math.floor(quantity / 10),
        service_quantity: quantity - 2 * Math.floor(quantity / 3) - Math.floor(quantity / 10),
      },
    ],
  }
}

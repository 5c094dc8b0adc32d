/**
 * Shapes served by the Partner API simulator. They follow README.md ("What it models") and the example
 * objects in seed-fixtures.json, key for key.
 */

/** A `{user_id, user_name}` stamp as found on clients and WABA accounts. */
export interface UserRefJson {
  user_id: string
  user_name: string
}

export interface ContactInfoJson {
  webpage_url: string | null
  phone: string | null
  language: string | null
  country: string | null
  street_name: string | null
  city: string | null
  email: string | null
  full_name: string | null
  zip_code: string | null
}

/** A PartnerClient. */
export interface UpstreamClientJson {
  id: string
  name: string
  status: string
  organisation: string
  max_channels: number
  partner_payload: string | null
  meta_info: {
    business_vertical: string | null
    timezone: string | null
    about: string | null
    business_description: string | null
    use_case: string | null
  }
  contact_info: ContactInfoJson
  contact_user: { phone: string | null; email: string | null; name: string | null }
  created_at: string
  created_by: UserRefJson
  modified_at: string
  modified_by: UserRefJson
  suspicious: boolean
}

/** The short client object embedded in every channel. */
export interface ChannelClientJson {
  id: string
  name: string
  partner_payload: string | null
  contact_info: ContactInfoJson
}

export interface WabaAccountJson {
  id: string
  external_id: string
  name: string
  namespace: string
  client_id: string
  consents: Record<string, unknown>
  created_at: string
  created_by: UserRefJson
  fb_account_status: string
  on_behalf_of_business_info: { id: string; name: string; status: string; type: string }
}

export interface SetupInfoJson {
  phone_number: string
  phone_name: string
  was_in_use: boolean
  ivr: boolean
  verification_method: string
  default_language: string
  certificate: string | null
  new_name_status: string | null
  has_integration_layer: boolean
  error: string | null
  configuration_type: string
  region: string
  shards_number: number
}

/** A PartnerChannel. */
export interface UpstreamChannelJson {
  id: string
  client_id: string
  client: ChannelClientJson
  status: string
  /** Absent on version 1 (Classic Signup) channels, whose `status` decides. */
  account_mode?: 'sandbox' | 'live'
  /** 1 for a Classic Signup channel; absent on the (version 2) channels of the examples. */
  version?: number
  created_at: string
  modified_at: string
  billing_started_at: string | null
  terminated_at: string | null
  current_limit: string | null
  current_quality_rating: string | null
  availability_status: string
  setup_info: SetupInfoJson
  waba_account: WabaAccountJson
  integration: { enabled: boolean; app_id: string | null; state: string }
  has_inbox: boolean
  is_oba: boolean
}

/** PartnerOut. */
export interface PartnerJson {
  id: string
  brand_name: string
  payment_required: boolean
  payment_plan: Record<string, unknown>
  logo_url: string | null
  onboarding_deeplink_add_params: boolean
  webhook_url: string | null
  partner_redirect_url: string | null
  country: string
  blocked_new_submission: boolean
  allow_client_to_add_phone_no: boolean
  settings: Record<string, unknown> | null
  billing_system: string
  publishable_key: string | null
}

/** Recursive partial used by the `_sim` add/mutate helpers. */
export type DeepPartial<T> = T extends readonly unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> | null }
    : T

export type ClientPartial = DeepPartial<UpstreamClientJson>
export type ChannelPartial = DeepPartial<UpstreamChannelJson> & { client_id: string }

/** Faults injected into `/api/v2` routes; `{}` clears them. */
export interface Faults {
  /** Delay added before every response. */
  latencyMs?: number
  /** Share (0–1) of requests answered 503 before anything is done. */
  errorRate?: number
  /** Requests per rolling minute; beyond it 429 with `Retry-After`. */
  rateLimitPerMinute?: number
  /** Share (0–1) of mutating requests that are carried out and then answered by a destroyed socket. */
  dropAfterCommitRate?: number
}

/** One Partner API request as received; `status` 0 means the socket was destroyed without an answer. */
export interface RequestLogEntry {
  method: string
  path: string
  query: Record<string, string | string[]>
  time: string
  status: number
}

/** One webhook event and how its delivery went so far. */
export interface DeliveryLogEntry {
  event: string
  /** The envelope's id as sent (a number under the numeric_ids variant). */
  id: string | number
  status: number | 'error' | 'pending'
  attempts: number
}

export type ListKind = 'clients' | 'channels'

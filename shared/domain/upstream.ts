import * as z from 'zod'

/**
 * zod schemas for what the 360dialog Partner API (and its webhooks) send. The partner is an
 * untrusted input: unknown fields are tolerated (loose objects keep them), wrong types are rejected,
 * and every field the docs do not guarantee is optional and nullable (docs/partner-api.md §10).
 *
 * Each object schema is wrapped in `z.lazy`: it is built on its first parse, not at import. Building
 * zod schemas is not free (every instance gets its methods), and a Lambda cold start imports this
 * module whether or not its first request parses an upstream object.
 */

// Functions, not shared instances, so that nothing is built before a lazy schema is first used.
const str = () => z.string().nullish()
const isoTime = str

/** The short client object embedded in a channel. */
export const upstreamChannelClientSchema = z.lazy(() =>
  z.looseObject({
    id: z.string().min(1),
    name: str(),
    partner_payload: str(),
    contact_info: z.looseObject({ email: str() }).nullish(),
  }),
)

/** A PartnerChannel (partner-api.md §4.2). */
export const upstreamChannelSchema = z.lazy(() =>
  z.looseObject({
    id: z.string().min(1),
    client_id: z.string().min(1),
    client: upstreamChannelClientSchema.nullish(),
    status: str(),
    account_mode: str(),
    version: z.union([z.number(), z.string()]).nullish(),
    created_at: isoTime(),
    modified_at: isoTime(),
    billing_started_at: isoTime(),
    terminated_at: isoTime(),
    availability_status: str(),
    current_limit: str(),
    current_quality_rating: str(),
    setup_info: z
      .looseObject({ phone_number: z.union([z.string(), z.number()]).nullish(), phone_name: str() })
      .nullish(),
    profile_info: z.looseObject({ contact_email: str() }).nullish(),
    waba_account: z
      .looseObject({
        id: str(),
        fb_account_status: str(),
        on_behalf_of_business_info: z.looseObject({ status: str() }).nullish(),
      })
      .nullish(),
    integration: z.looseObject({ enabled: z.boolean().nullish(), app_id: str(), state: str() }).nullish(),
  }),
)
export type UpstreamChannel = z.infer<typeof upstreamChannelSchema>

/** A PartnerClient (partner-api.md §3.2). */
export const upstreamClientSchema = z.lazy(() =>
  z.looseObject({
    id: z.string().min(1),
    name: str(),
    status: str(),
    organisation: str(),
    partner_payload: str(),
    max_channels: z.number().int().nullish(),
    contact_info: z.looseObject({ email: str(), full_name: str() }).nullish(),
    contact_user: z.looseObject({ email: str(), name: str() }).nullish(),
    created_at: isoTime(),
    modified_at: isoTime(),
  }),
)
export type UpstreamClient = z.infer<typeof upstreamClientSchema>

/** PartnerOut (partner-api.md §2.1). */
export const upstreamPartnerSchema = z.lazy(() =>
  z.looseObject({
    id: z.string().min(1),
    brand_name: str(),
    webhook_url: str(),
    partner_redirect_url: str(),
    country: str(),
    allow_client_to_add_phone_no: z.boolean().nullish(),
  }),
)
export type UpstreamPartner = z.infer<typeof upstreamPartnerSchema>

/**
 * The documented list envelope (partner-api.md §3.1); the items key differs per resource
 * (`listEnvelopeSchema.unwrap().extend(...)`).
 */
export const listEnvelopeSchema = z.lazy(() =>
  z.looseObject({
    count: z.number().int().nonnegative().nullish(),
    total: z.number().int().nonnegative(),
    limit: z.number().int().nullish(),
    offset: z.number().int().nullish(),
    sort: z.union([z.array(z.string()), z.string()]).nullish(),
    filters: z.unknown().optional(),
  }),
)

/** The `meta` error envelope (partner-api.md §1.3). */
export const upstreamErrorSchema = z.lazy(() =>
  z.looseObject({
    meta: z.looseObject({
      success: z.boolean().nullish(),
      http_code: z.number().nullish(),
      developer_message: z.string().nullish(),
    }),
  }),
)

/** A partner webhook envelope (partner-api.md §7.2): `event` and `data` required, the rest kept. */
export const webhookEnvelopeSchema = z.lazy(() =>
  z.looseObject({
    id: z.union([z.string(), z.number()]).nullish(),
    event: z.string().min(1).max(200),
    data: z.record(z.string(), z.unknown()),
    timestamp: isoTime(),
  }),
)
export type WebhookEnvelope = z.infer<typeof webhookEnvelopeSchema>

/** Data of account_violation / account_restriction / template_messaging_* events (fixtures; partly inferred). */
export const channelNoticeSchema = z.lazy(() =>
  z.looseObject({
    client_id: str(),
    channel_id: str(),
    waba_account_id: str(),
    phone_number: z.union([z.string(), z.number()]).nullish(),
    violation_type: str(),
  }),
)
export type ChannelNotice = z.infer<typeof channelNoticeSchema>

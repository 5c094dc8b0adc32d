import * as z from 'zod/mini'
import './zod-locale'

/**
 * zod schemas for what the 360dialog Partner API (and its webhooks) send. The partner is an
 * untrusted input: unknown fields are tolerated (loose objects keep them), wrong types are rejected,
 * and every field the docs do not guarantee is optional and nullable (docs/partner-api-notes.md §3).
 *
 * Each object schema is wrapped in `z.lazy`: it is built on its first parse, not at import. Building
 * zod schemas is not free (every instance gets its methods), and a Lambda cold start imports this
 * module whether or not its first request parses an upstream object.
 */

// Functions, not shared instances, so that nothing is built before a lazy schema is first used.
const str = () => z.nullish(z.string())
const isoTime = str
/**
 * An upstream id: a string, or a number in some real bodies (docs/partner-api-notes.md §7, real-world
 * variants), stored as its decimal string. Bounded so that a bogus value cannot exceed DynamoDB's
 * key size and turn a rejection into a storage failure.
 */
const id = () =>
  z.pipe(
    z.pipe(
      z.union([z.string(), z.number().check(z.int(), z.nonnegative())]),
      z.transform((v) => String(v).trim()),
    ),
    z.string().check(z.minLength(1), z.maxLength(256)),
  )
/** An upstream id on its own (a string, or a number stored as its decimal string). */
export const upstreamIdSchema = z.lazy(() => id())

/** A field that is an id when present (`null` or absent otherwise). */
const optionalId = () =>
  z.nullish(
    z.pipe(
      z.union([z.string(), z.number().check(z.int(), z.nonnegative())]),
      z.transform((v) => String(v)),
    ),
  )

/** The short client object embedded in a channel (its id is sometimes left out). */
export const upstreamChannelClientSchema = z.lazy(() =>
  z.looseObject({
    id: optionalId(),
    name: str(),
    partner_payload: str(),
    contact_info: z.nullish(z.looseObject({ email: str() })),
  }),
)

/**
 * A PartnerChannel (docs/partner-api-notes.md §4). `client_id` may be left out when the embedded client
 * carries the id; a channel with neither is refused (it cannot be attached to a client).
 */
export const upstreamChannelSchema = z.lazy(() =>
  z.pipe(
    z.looseObject({
      id: id(),
      client_id: optionalId(),
      client: z.nullish(upstreamChannelClientSchema),
      status: str(),
      account_mode: str(),
      version: z.nullish(z.union([z.number(), z.string()])),
      created_at: isoTime(),
      modified_at: isoTime(),
      billing_started_at: isoTime(),
      terminated_at: isoTime(),
      /** Seen in real back offices only (a cancellation signal where terminated_at is absent). */
      hub_status: str(),
      cancelled_at: isoTime(),
      availability_status: str(),
      /** A tier name such as `TIER_1K`; a number in some bodies, stored as its decimal string. */
      current_limit: z.nullish(
        z.pipe(
          z.union([z.string(), z.number()]),
          z.transform((v) => String(v)),
        ),
      ),
      current_quality_rating: str(),
      setup_info: z.nullish(
        z.looseObject({ phone_number: z.nullish(z.union([z.string(), z.number()])), phone_name: str() }),
      ),
      profile_info: z.nullish(z.looseObject({ contact_email: str() })),
      waba_account: z.nullish(
        z.looseObject({
          id: optionalId(),
          fb_account_status: str(),
          /** Meta's business id of the WABA's owner (seen in real webhook bodies). */
          fb_business_id: optionalId(),
          on_behalf_of_business_info: z.nullish(z.looseObject({ status: str() })),
        }),
      ),
      integration: z.nullish(
        z.looseObject({ enabled: z.nullish(z.boolean()), app_id: optionalId(), state: str() }),
      ),
    }),
    z.transform((channel, ctx) => {
      const clientId = channel.client_id || channel.client?.id || null
      if (clientId === null) {
        ctx.issues.push({
          code: 'custom',
          path: ['client_id'],
          message: 'no client_id and no client.id',
          input: channel,
        })
        return z.NEVER
      }
      return { ...channel, client_id: clientId }
    }),
  ),
)
export type UpstreamChannel = z.infer<typeof upstreamChannelSchema>

/** A PartnerClient (docs/partner-api-notes.md §3). */
export const upstreamClientSchema = z.lazy(() =>
  z.looseObject({
    id: id(),
    name: str(),
    status: str(),
    organisation: str(),
    partner_payload: str(),
    max_channels: z.nullish(z.number().check(z.int())),
    contact_info: z.nullish(
      z.looseObject({ email: str(), full_name: str(), phone: z.nullish(z.union([z.string(), z.number()])) }),
    ),
    contact_user: z.nullish(
      z.looseObject({ email: str(), name: str(), phone: z.nullish(z.union([z.string(), z.number()])) }),
    ),
    created_at: isoTime(),
    modified_at: isoTime(),
  }),
)
export type UpstreamClient = z.infer<typeof upstreamClientSchema>

/** PartnerOut (docs/partner-api-notes.md §2). */
export const upstreamPartnerSchema = z.lazy(() =>
  z.looseObject({
    id: z.string().check(z.minLength(1)),
    brand_name: str(),
    webhook_url: str(),
    partner_redirect_url: str(),
    country: str(),
    allow_client_to_add_phone_no: z.nullish(z.boolean()),
  }),
)
export type UpstreamPartner = z.infer<typeof upstreamPartnerSchema>

/**
 * A client's balance, `GET /partners/{pid}/clients/{cid}/info/balance` (docs/partner-api-notes.md
 * §2a): `balance` and `currency` are what PartnerOps serves, so they are required;
 * `last_renewal` may be missing or null (a client that never renewed), and the usage rows and prices
 * are kept but not read. Money arrives as JSON numbers (decimals in the typed models of public clients).
 */
export const upstreamBalanceSchema = z.lazy(() =>
  z.looseObject({
    balance: z.number(),
    currency: z.string().check(z.trim(), z.minLength(1), z.maxLength(16)),
    last_renewal: z.nullish(z.looseObject({ date: str(), amount: z.nullish(z.number()) })),
  }),
)
export type UpstreamBalance = z.infer<typeof upstreamBalanceSchema>

/**
 * The documented list envelope (docs/partner-api-notes.md §3); the items key differs per resource
 * (`listEnvelopeSchema.unwrap().extend(...)`).
 */
export const listEnvelopeSchema = z.lazy(() =>
  z.looseObject({
    count: z.nullish(z.number().check(z.int(), z.nonnegative())),
    total: z.number().check(z.int(), z.nonnegative()),
    limit: z.nullish(z.number().check(z.int())),
    offset: z.nullish(z.number().check(z.int())),
    sort: z.nullish(z.union([z.array(z.string()), z.string()])),
    filters: z.optional(z.unknown()),
  }),
)

/** The `meta` error envelope (docs/partner-api-notes.md §1). */
export const upstreamErrorSchema = z.lazy(() =>
  z.looseObject({
    meta: z.looseObject({
      success: z.nullish(z.boolean()),
      http_code: z.nullish(z.number()),
      developer_message: z.nullish(z.string()),
    }),
  }),
)

/** A partner webhook envelope (docs/partner-api-notes.md §6): `event` and `data` required, the rest kept. */
export const webhookEnvelopeSchema = z.lazy(() =>
  z.looseObject({
    id: z.nullish(z.union([z.string(), z.number()])),
    event: z.string().check(z.minLength(1), z.maxLength(200)),
    data: z.record(z.string(), z.unknown()),
    timestamp: isoTime(),
  }),
)
export type WebhookEnvelope = z.infer<typeof webhookEnvelopeSchema>

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * The channel object in a channel event's `data`: `data` itself (the documented shape), or
 * `data.channel` when a sender nests it (then usually with the client beside it, under `data.client`).
 * The client beside a nested channel fills its `client` and `client_id` when it has none.
 */
export function channelOfWebhookData(data: Record<string, unknown>): Record<string, unknown> {
  const nested = data['channel']
  if (!isRecord(nested)) return data
  const channel: Record<string, unknown> = { ...nested }
  const client = data['client']
  if ((channel['client'] === undefined || channel['client'] === null) && isRecord(client))
    channel['client'] = client
  if ((channel['client_id'] === undefined || channel['client_id'] === null) && data['client_id'] != null) {
    channel['client_id'] = data['client_id']
  }
  return channel
}

/**
 * The client object in a client event's `data`: `data` itself, or `data.client` (some handlers read a
 * `client_created` client only there; a channel-shaped `data` carries it there too), its id falling
 * back to `data.client_id`. A `data` with its own `id` and a `client` without one is the client itself.
 */
export function clientOfWebhookData(data: Record<string, unknown>): Record<string, unknown> {
  const nested = data['client']
  if (!isRecord(nested)) return data
  const nestedId = nested['id'] ?? data['client_id'] ?? null
  if (nestedId === null && data['id'] !== undefined && data['id'] !== null) return data
  return nestedId === null ? { ...nested } : { ...nested, id: nestedId }
}

/** Data of account_violation / account_restriction / template_messaging_* events (fixtures; partly inferred). */
export const channelNoticeSchema = z.lazy(() =>
  z.looseObject({
    client_id: str(),
    channel_id: str(),
    waba_account_id: str(),
    phone_number: z.nullish(z.union([z.string(), z.number()])),
    violation_type: str(),
  }),
)
export type ChannelNotice = z.infer<typeof channelNoticeSchema>

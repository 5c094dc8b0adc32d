import { createHash } from 'node:crypto'
import { deriveLifecycle, parseVersion } from './lifecycle'
import { factOrderKey } from './ordering'
import type { Channel, Client, Source } from './types'
import type { UpstreamChannel, UpstreamClient } from './upstream'

/**
 * Fields excluded from the content hash: bookkeeping that changes without the content changing, and
 * `health`, `keyRejected` and `keyStatus`, which the health job and key provisioning write on their
 * own (ChannelRepository.setHealth, setKeyRejected, setKeyStatus): they are not upstream state, so they must neither make
 * a poll see a change nor be needed to compare a poll's candidate. `clientOrganisation` likewise: the
 * client's writes copy it to the channel (setClientOrganisation, shared/services/state/legal-name.ts).
 */
const BOOKKEEPING = new Set([
  'orderKey',
  'contentHash',
  'updatedAt',
  'source',
  'absentRuns',
  'health',
  'keyRejected',
  'keyStatus',
  'clientOrganisation',
])

/** Stable hash of a record's served content (keys sorted, bookkeeping excluded). */
export function contentHash(record: object): string {
  const entries = Object.entries(record)
    .filter(([k]) => !BOOKKEEPING.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return createHash('sha256').update(JSON.stringify(entries)).digest('base64url').slice(0, 22)
}

interface MapOptions<T> {
  now: Date
  source: Source
  /** An event name (webhooks) or 'snapshot' (a full read from the Partner API). */
  kind: string
  /** The webhook envelope `timestamp`: the ordering time when the object has no modified_at. */
  envelopeTime?: string | null
  /**
   * When the fact reached us (a webhook's storage time, a poll page's fetch time; default `now`): the
   * ordering time of an undated fact, and the cap on a future-dated one (ordering.ts, orderingTime).
   */
  receivedAt?: string | Date
  /** The stored record, whose sticky fields (flags set by events only) are carried over. */
  previous?: T | null
}

function timesOf(up: { modified_at?: string | null }, opts: MapOptions<unknown>) {
  return {
    modifiedAt: up.modified_at ?? null,
    envelopeTime: opts.envelopeTime ?? null,
    receivedAt: opts.receivedAt ?? opts.now,
  }
}

/**
 * How a fact's record, mapped without the stored one (`previous: null`), is written without reading
 * it first (the stores' `writeFact`): `carried` fields the mapping takes from the stored record when
 * the fact has no value of its own (null) are left as stored; a `sticky` flag the mapping keeps once
 * set is, when the fact derives it unset, a condition of the write (a stored `true` refuses it, and
 * the caller merges with the stored record). test/unit/state/fact-spec.test.ts checks that these
 * lists are exactly the fields `previous` changes. `initial` fields are written only on an item that
 * has none (a default that whatever is stored replaces: the channel's legal-name placeholder,
 * shared/services/state/legal-name.ts).
 */
export interface FactSpec {
  carried: readonly string[]
  sticky: readonly string[]
  initial?: readonly string[]
}

/** Channel fields taken from the stored record: payload, names and e-mail from other events, notices. */
export const CHANNEL_FACT_SPEC: FactSpec = {
  carried: ['partnerPayload', 'companyName', 'contactEmail', 'violation', 'templateMessaging'],
  sticky: ['cancellationProcessed'],
  initial: ['clientOrganisation'],
}

/** A client's record depends on nothing stored. */
export const CLIENT_FACT_SPEC: FactSpec = { carried: [], sticky: [] }

/** Maps an upstream channel to the stored shape, deriving lifecycle and computing order key and hash. */
export function channelFromUpstream(up: UpstreamChannel, opts: MapOptions<Channel>): Channel {
  const prev = opts.previous ?? null
  const version = parseVersion(up.version)
  const cancellationProcessed =
    opts.kind === 'cancellation_processed' || (prev?.cancellationProcessed ?? false)
  const terminatedAt = up.terminated_at ?? null
  const appId = up.integration?.app_id ?? null
  const lifecycle = deriveLifecycle(
    {
      version,
      accountMode: up.account_mode ?? null,
      status: up.status ?? null,
      availabilityStatus: up.availability_status ?? null,
      terminatedAt,
      appId,
      cancellationProcessed,
      hubStatus: up.hub_status ?? null,
      cancelledAt: up.cancelled_at ?? null,
      event: opts.kind,
    },
    opts.now,
  )
  const phone = up.setup_info?.phone_number
  const base: Omit<Channel, 'contentHash'> = {
    channelId: up.id,
    clientId: up.client_id,
    phoneNumber: phone === null || phone === undefined ? null : String(phone),
    displayName: up.setup_info?.phone_name ?? null,
    lifecycle,
    accountMode: up.account_mode ?? null,
    status: up.status ?? null,
    availabilityStatus: up.availability_status ?? null,
    terminatedAt,
    hubStatus: up.hub_status ?? null,
    cancelledAt: up.cancelled_at ?? null,
    qualityRating: up.current_quality_rating ?? null,
    messagingLimit: up.current_limit ?? null,
    billingStartedAt: up.billing_started_at ?? null,
    integrationState: up.integration?.state ?? null,
    fbBusinessId: up.waba_account?.fb_business_id ?? null,
    partnerPayload: up.client?.partner_payload ?? prev?.partnerPayload ?? null,
    companyName: up.client?.name ?? prev?.companyName ?? null,
    contactEmail:
      up.client?.contact_info?.email ?? up.profile_info?.contact_email ?? prev?.contactEmail ?? null,
    numberRegistration: up.status ?? null,
    metaBusinessVerification: up.waba_account?.fb_account_status ?? null,
    messageOnBehalf: up.waba_account?.on_behalf_of_business_info?.status ?? null,
    wabaAccountId: up.waba_account?.id ?? null,
    appId,
    version,
    cancellationProcessed,
    violation: prev?.violation ?? null,
    templateMessaging: prev?.templateMessaging ?? null,
    ...(prev?.noticeKeys ? { noticeKeys: prev.noticeKeys } : {}),
    // Health comes from the health job, never from upstream partner state: carried over as it is.
    ...(prev?.health ? { health: prev.health } : {}),
    ...(prev?.keyRejected ? { keyRejected: prev.keyRejected } : {}),
    // Set by key provisioning only, never by upstream facts: carried over.
    ...(prev?.keyStatus ? { keyStatus: prev.keyStatus } : {}),
    // The client's legal name comes from the client's writes (legal-name.ts), never from a channel fact.
    ...(prev?.clientOrganisation ? { clientOrganisation: prev.clientOrganisation } : {}),
    upstreamCreatedAt: up.created_at ?? null,
    upstreamModifiedAt: up.modified_at ?? null,
    updatedAt: opts.now.toISOString(),
    source: opts.source,
    orderKey: factOrderKey(timesOf(up, opts), opts.kind),
    absentRuns: 0,
    missingSince: null,
  }
  return { ...base, contentHash: contentHash(base) }
}

const phoneText = (v: string | number | null | undefined): string | null =>
  v === null || v === undefined || v === '' ? null : String(v)

/** Maps an upstream client to the stored shape. */
export function clientFromUpstream(up: UpstreamClient, opts: MapOptions<Client>): Client {
  const base: Omit<Client, 'contentHash'> = {
    clientId: up.id,
    name: up.name ?? null,
    organisation: up.organisation ?? null,
    status: up.status ?? null,
    partnerPayload: up.partner_payload ?? null,
    contactEmail: up.contact_info?.email ?? up.contact_user?.email ?? null,
    contactPhone: phoneText(up.contact_info?.phone ?? up.contact_user?.phone),
    maxChannels: up.max_channels ?? null,
    upstreamCreatedAt: up.created_at ?? null,
    upstreamModifiedAt: up.modified_at ?? null,
    updatedAt: opts.now.toISOString(),
    source: opts.source,
    orderKey: factOrderKey(timesOf(up, opts), opts.kind),
    missingSince: null,
  }
  return { ...base, contentHash: contentHash(base) }
}

/** Recomputes the hash after a domain change to a record (e.g. a sticky flag set by an event). */
export function rehash<T extends { contentHash: string }>(record: T): T {
  return { ...record, contentHash: contentHash(record) }
}

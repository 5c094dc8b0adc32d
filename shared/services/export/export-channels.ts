import { stringify } from 'csv-stringify/sync'
import type { AppDeps } from '../../deps'
import type { Channel } from '../../domain/types'

/** The export's columns, in the documented order (docs/openapi.yaml, CSV export). */
export const CSV_COLUMNS = [
  'client_id',
  'company_name',
  'phone_number',
  'contact_email',
  'lifecycle',
  'account_mode',
  'availability_status',
  'number_registration',
  'meta_business_verification',
  'message_on_behalf',
  'terminated_at',
  'partner_payload',
  'upstream_modified_at',
  // Appended after the 13 fixed columns, so readers of those by position keep working.
  'quality_rating',
  'messaging_limit',
  'billing_started_at',
] as const

// Spreadsheets run a cell that starts with one of these as a formula; a leading TAB or CR can hide
// such a start from a check of the first character, so those are neutralised too (README, CSV export).
const FORMULA_START = /^[=+\-@\t\r]/

/** Neutralises spreadsheet formula injection: a field starting with = + - @ TAB or CR gets a leading `'`. */
export function neutraliseFormula(value: string | null): string {
  if (value === null) return ''
  return FORMULA_START.test(value) ? `'${value}` : value
}

/**
 * One channel as a CSV row (unquoted values; quoting is csv-stringify's job). `companyName` is the
 * client's legal name (organisation, else name) when the client is known; else the name the channel
 * carries of its client.
 */
export function channelCsvRow(c: Channel, companyName: string | null = c.companyName): string[] {
  return [
    c.clientId,
    companyName,
    c.phoneNumber,
    c.contactEmail,
    c.lifecycle,
    c.accountMode,
    c.availabilityStatus,
    c.numberRegistration,
    c.metaBusinessVerification,
    c.messageOnBehalf,
    c.terminatedAt,
    c.partnerPayload,
    c.upstreamModifiedAt,
    c.qualityRating ?? null,
    c.messagingLimit ?? null,
    c.billingStartedAt ?? null,
  ].map(neutraliseFormula)
}

// RFC 4180: CRLF between records, fields quoted only when they hold a quote, comma, CR or LF.
const CSV_OPTIONS = { record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const

/**
 * Every client's legal name (organisation, else name), read once before the channels: a channel
 * carries only its client's short name, and one map (a few tens of bytes per client) costs far less
 * than a client read per channel page.
 */
async function legalNames(deps: Pick<AppDeps, 'store'>): Promise<Map<string, string>> {
  const names = new Map<string, string>()
  let cursor: string | undefined
  for (let page = 0; page < 1_000_000; page++) {
    const { items, nextCursor } = await deps.store.clients.list({ limit: 100, ...(cursor ? { cursor } : {}) })
    for (const c of items) {
      const name = c.organisation?.trim() ? c.organisation : c.name
      if (name !== null && name !== '') names.set(c.clientId, name)
    }
    if (nextCursor === null) break
    cursor = nextCursor
  }
  return names
}

/**
 * Streams every stored channel as RFC 4180 CSV: the header, then one chunk per store page. Memory is
 * bounded by the page size, never by the number of channels; the consumer pulls at its own pace.
 */
export async function* exportChannels(
  deps: Pick<AppDeps, 'store'>,
  opts: { pageSize?: number } = {},
): AsyncGenerator<string, void, undefined> {
  yield stringify([[...CSV_COLUMNS]], CSV_OPTIONS)
  const companies = await legalNames(deps)
  for await (const page of deps.store.channels.scan(opts.pageSize ?? 100)) {
    if (page.length > 0) {
      const rows = page.map((c) => channelCsvRow(c, companies.get(c.clientId) ?? c.companyName))
      yield stringify(rows, CSV_OPTIONS)
    }
  }
}

import { createHash, randomUUID } from 'node:crypto'
import pLimit from 'p-limit'
import type { AppDeps } from '../../deps'
import { PartnerOpsError, UpstreamError } from '../../domain/errors'
import { verifyOnboardingRef } from '../../domain/onboarding-ref'
import type { CallbackOutcome, CallbackRejection, PayloadOutcome } from '../../domain/outcomes'
import type { AuditEntry } from '../../domain/types'
import type { UpstreamChannel, UpstreamClient } from '../../domain/upstream'
import { applyCallbackKeys } from '../channel-keys/key-triggers'
import { applyChannel, applyClient } from '../state/apply-upstream'

/** What the callback needs. */
export type OnboardingCallbackDeps = Pick<
  AppDeps,
  'config' | 'store' | 'partnerApi' | 'secrets' | 'clock' | 'logger' | 'channelKeys'
>

/** The callback request as the handler got it from the event. */
export interface OnboardingCallbackInput {
  queryStringParameters: Record<string, string | undefined> | null | undefined
  multiValueQueryStringParameters: Record<string, string[] | undefined> | null | undefined
}

export type { CallbackOutcome, CallbackRejection, PayloadOutcome } from '../../domain/outcomes'

/** Rate-limit window of the callback (the limit is ONBOARDING_CALLBACK_RATE_PER_MINUTE). */
export const CALLBACK_WINDOW_MS = 60_000
/** Largest query accepted (sum of names and values, in characters) and most parameters. */
export const MAX_QUERY_CHARS = 12_000
export const MAX_QUERY_PARAMS = 16
/** Most channel ids in `channels` or `revokedChannels` (a client has at most 100 numbers). */
export const MAX_CHANNEL_IDS = 100
/** Partner API ids: short alphanumerics such as `3CpBg3xvCL` (docs/partner-api-notes.md §1). */
export const CALLBACK_ID = /^[A-Za-z0-9]{1,32}$/

// Clock skew allowed between our issue time and upstream's client created_at.
const CREATED_AT_SLACK_MS = 5 * 60_000
// A ref's binding to its client is kept this long past the ref's expiry (an expired ref is refused anyway).
const REF_BINDING_SLACK_SECONDS = 86_400
const LIST_PAGE_SIZE = 100
const MAX_LIST_PAGES = 10
const STORE_CONCURRENCY = 8
const LOOKUP_CONCURRENCY = 4

/**
 * `GET /onboarding/callback` (docs/openapi.yaml), where 360dialog sends the client's browser
 * (the edge has applied the per-source rate limit): checks the parameters' shape and the signed
 * `ref` (nothing read upstream or stored otherwise); reads the client and all its channels from the
 * Partner API, sets the client's `partner_payload` upstream when it is missing (only for a client
 * created after the link was issued, so that a link cannot claim someone else's client), stores
 * everything through the reconciliation ordering guard with change events, records revoked channels
 * in the audit trail, and says where to send the browser. Never throws: a failure is the
 * `unavailable` outcome. The edge appends the trail's final entry with the answer it rendered.
 */
export async function handleOnboardingCallback(
  deps: OnboardingCallbackDeps,
  input: OnboardingCallbackInput,
  audit: CallbackAudit,
): Promise<CallbackOutcome> {
  return run(deps, input, audit).catch((err: unknown) => failure(deps, err))
}

interface CallbackParams {
  clientId: string
  channelIds: string[]
  revokedChannelIds: string[]
  ref: string | undefined
}

async function run(
  deps: OnboardingCallbackDeps,
  input: OnboardingCallbackInput,
  audit: CallbackAudit,
): Promise<CallbackOutcome> {
  const params = parseCallbackQuery(input.queryStringParameters, input.multiValueQueryStringParameters)
  if ('reason' in params) return reject(params.reason)
  audit.about(params)

  const key = await deps.secrets.get('linkSigningKey')
  if (!key) {
    deps.logger.error('link signing key not configured')
    return { kind: 'unavailable', code: 'configuration_error' }
  }
  const verdict = verifyOnboardingRef(params.ref, key, deps.clock.now())
  if (!verdict.ok) return reject(`ref_${verdict.reason}`)
  const ref = verdict.payload

  // Stored state is read alongside the upstream lookups, the channels with one query by client
  // instead of one read each. The writes below stay conditional, so a concurrent newer write (a
  // webhook for the same channel) still wins; at worst such a race repeats a change event.
  const [client, listed, storedClient, storedChannels] = await Promise.all([
    deps.partnerApi.findClient(params.clientId),
    listClientChannels(deps, params.clientId),
    deps.store.clients.get(params.clientId),
    deps.store.channels.listByClient(params.clientId),
  ])
  if (!client || client.id !== params.clientId) return reject('unknown_client')
  // A ref is single-use: the first client that completes with it keeps it, so one link can never
  // attach its payload to a second client (one conditional write decides a race between two).
  const refKey = createHash('sha256')
    .update(params.ref ?? '')
    .digest('base64url')
  const expiresAt = ref.exp + REF_BINDING_SLACK_SECONDS
  if (!(await deps.store.ops.bindOnce('onboarding-ref', refKey, client.id, expiresAt))) {
    return reject('ref_used')
  }
  const { channels, matched, unmatched } = await matchChannels(deps, params, listed)
  audit.details['unmatchedChannels'] = unmatched

  let stored: UpstreamClient = client
  let payload: PayloadOutcome = 'already_set'
  if (!client.partner_payload) {
    if (createdBefore(client, ref.iat)) {
      payload = 'skipped_client_predates_link'
    } else {
      try {
        stored = await deps.partnerApi.patchClient(client.id, { partner_payload: ref.partnerPayload })
        payload = 'set'
      } catch (err) {
        payload = 'failed'
        audit.upstreamStatus = err instanceof UpstreamError ? err.upstreamStatus : null
        deps.logger.warn('partner payload not set upstream', { clientId: client.id, error: err })
      }
    }
  }
  audit.details['payload'] = payload
  const payloadNow = stored.partner_payload ?? null

  await applyClient(deps, stored, { source: 'api', kind: 'snapshot', stored: storedClient })
  const storedById = new Map(storedChannels.map((c) => [c.channelId, c]))
  const limit = pLimit(STORE_CONCURRENCY)
  await Promise.all(
    channels.map((ch) =>
      limit(() =>
        applyChannel(deps, withClientPayload(ch, payloadNow), {
          source: 'api',
          kind: 'snapshot',
          stored: storedById.get(ch.id) ?? null,
        }),
      ),
    ),
  )
  await audit.revoked(params.revokedChannelIds, new Set(channels.map((c) => c.id)))
  // The client granted these channels: each gets its Messaging API key once ready; revoked ones lose it.
  await applyCallbackKeys(deps, {
    clientId: client.id,
    granted: matched,
    revoked: params.revokedChannelIds,
  })

  const target = redirectTarget(ref.redirectUrl ?? deps.config.ONBOARDING_DEFAULT_REDIRECT_URL)
  if (target === null) {
    return { kind: 'confirmation', location: null, clientId: client.id, channelIds: matched, payload }
  }
  target.searchParams.set('client', client.id)
  target.searchParams.set('channels', `[${matched.join(',')}]`)
  return { kind: 'redirect', location: target.href, clientId: client.id, channelIds: matched, payload }
}

function reject(reason: CallbackRejection): CallbackOutcome {
  return { kind: 'rejected', reason }
}

/** An unexpected failure as an outcome: upstream trouble or our own, never a stack trace. */
function failure(deps: OnboardingCallbackDeps, err: unknown): CallbackOutcome {
  if (err instanceof UpstreamError) {
    deps.logger.warn('onboarding callback upstream failure', { status: err.upstreamStatus })
    return {
      kind: 'unavailable',
      code: err.retryable
        ? 'upstream_unavailable'
        : err.code === 'upstream_unauthorized'
          ? err.code
          : 'upstream_rejected',
    }
  }
  deps.logger.error('onboarding callback failed', { error: err })
  return { kind: 'unavailable', code: err instanceof PartnerOpsError ? err.code : 'internal_error' }
}

/**
 * Parses and shape-checks the callback query. Returns the parameters, or the reason for a 400.
 * Parameters other than `client`, `channels`, `revokedChannels` and `ref` are ignored (but count
 * towards the size limit).
 */
export function parseCallbackQuery(
  single: Record<string, string | undefined> | null | undefined,
  multi: Record<string, string[] | undefined> | null | undefined,
): CallbackParams | { reason: CallbackRejection } {
  const values = new Map<string, string[]>()
  for (const [name, list] of Object.entries(multi ?? {})) if (list) values.set(name, list)
  for (const [name, value] of Object.entries(single ?? {})) {
    if (value !== undefined && !values.has(name)) values.set(name, [value])
  }
  if (values.size > MAX_QUERY_PARAMS) return { reason: 'oversized' }
  let size = 0
  for (const [name, list] of values) for (const v of list) size += name.length + v.length
  if (size > MAX_QUERY_CHARS) return { reason: 'oversized' }
  const one = (name: string): string | undefined | null => {
    const list = values.get(name)
    if (list === undefined || list.length === 0) return undefined
    return list.length === 1 ? (list[0] as string) : null
  }
  const client = one('client')
  const channels = one('channels')
  const revoked = one('revokedChannels')
  const ref = one('ref')
  if (client === null || channels === null || revoked === null || ref === null) {
    return { reason: 'repeated_parameter' }
  }
  if (client === undefined || !CALLBACK_ID.test(client)) return { reason: 'invalid_client' }
  const channelIds = parseIdList(channels)
  if (channelIds === null) return { reason: 'invalid_channels' }
  const revokedChannelIds = parseIdList(revoked)
  if (revokedChannelIds === null) return { reason: 'invalid_revoked_channels' }
  return { clientId: client, channelIds, revokedChannelIds, ref }
}

/**
 * Parses a list of channel ids as 360dialog sends it: `[a,b]`, tolerating a URL-encoded form
 * (`%5Ba%2Cb%5D`), quoted ids (`["a","b"]`, `['a']`), spaces and a missing pair of brackets.
 * Returns the distinct ids in order, `[]` for an absent or empty list, or null when malformed.
 */
export function parseIdList(raw: string | undefined): string[] | null {
  if (raw === undefined) return []
  let text = raw.trim()
  if (/%[0-9A-Fa-f]{2}/.test(text)) {
    try {
      text = decodeURIComponent(text).trim()
    } catch {
      return null
    }
  }
  const open = text.startsWith('[')
  const close = text.endsWith(']')
  if (open !== close) return null
  if (open) text = text.slice(1, -1).trim()
  if (text === '') return []
  const ids: string[] = []
  for (const part of text.split(',')) {
    let id = part.trim()
    const quoted = /^(["'])(.*)\1$/.exec(id)
    if (quoted) id = (quoted[2] ?? '').trim()
    if (!CALLBACK_ID.test(id)) return null
    if (!ids.includes(id)) ids.push(id)
    if (ids.length > MAX_CHANNEL_IDS) return null
  }
  return ids
}

/** Every channel of the client, through the list filter on `client_id` (bounded paging). */
async function listClientChannels(
  deps: OnboardingCallbackDeps,
  clientId: string,
): Promise<UpstreamChannel[]> {
  const out: UpstreamChannel[] = []
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const result = await deps.partnerApi.listChannels({
      filters: { client_id: clientId },
      limit: LIST_PAGE_SIZE,
      offset: out.length,
    })
    out.push(...result.items.filter((c) => c.client_id === clientId))
    if (result.items.length === 0 || result.offset + result.items.length >= result.total) break
  }
  return out
}

/**
 * Matches the ids the browser brought with what upstream says belongs to the client. An id missing
 * from the list (upstream may lag behind the redirect) is looked up by id once; ids that are not the
 * client's are dropped from the redirect and audited.
 */
async function matchChannels(
  deps: OnboardingCallbackDeps,
  params: CallbackParams,
  listed: UpstreamChannel[],
): Promise<{ channels: UpstreamChannel[]; matched: string[]; unmatched: string[] }> {
  const byId = new Map(listed.map((c) => [c.id, c]))
  const missing = params.channelIds.filter((id) => !byId.has(id))
  const limit = pLimit(LOOKUP_CONCURRENCY)
  const found = await Promise.all(missing.map((id) => limit(() => deps.partnerApi.findChannel(id))))
  for (const ch of found) if (ch && ch.client_id === params.clientId) byId.set(ch.id, ch)
  const matched = params.channelIds.filter((id) => byId.has(id))
  const unmatched = params.channelIds.filter((id) => !byId.has(id))
  return { channels: [...byId.values()], matched, unmatched }
}

/** True when upstream says the client existed before the link was issued (with some clock slack). */
function createdBefore(client: UpstreamClient, issuedAtSeconds: number): boolean {
  const created = client.created_at ? Date.parse(client.created_at) : Number.NaN
  if (Number.isNaN(created)) return false
  return created < issuedAtSeconds * 1000 - CREATED_AT_SLACK_MS
}

/** The channel as upstream shows it once the client's payload is set (channels embed the short client). */
function withClientPayload(ch: UpstreamChannel, payload: string | null): UpstreamChannel {
  if (payload === null || ch.client?.partner_payload) return ch
  return { ...ch, client: { ...(ch.client ?? { id: ch.client_id }), partner_payload: payload } }
}

/** The redirect URL when it is an absolute http(s) URL, else null (the confirmation page). */
function redirectTarget(value: string | undefined): URL | null {
  if (!value) return null
  try {
    const url = new URL(value)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null
  } catch {
    return null
  }
}

/** Collects what one callback did; the edge appends it to the audit trail with the answer it gave. */
export class CallbackAudit {
  upstreamStatus: number | null = null
  readonly details: Record<string, unknown> = {}
  private subject = 'onboarding#callback'

  constructor(
    private readonly deps: OnboardingCallbackDeps,
    private readonly source: string,
  ) {}

  /** Once the parameters are valid, the entry is about the client and names the ids. */
  about(params: CallbackParams): void {
    this.subject = `client#${params.clientId}`
    this.details['channels'] = params.channelIds
    this.details['revokedChannels'] = params.revokedChannelIds
  }

  /** One entry per revoked channel, so that the channel's own trail shows the withdrawal. */
  async revoked(ids: string[], clientChannels: ReadonlySet<string>): Promise<void> {
    const clientId = this.subject.slice('client#'.length)
    for (const id of ids) {
      await this.append({
        subject: `channel#${id}`,
        action: 'onboarding.permission_revoked',
        outcome: 'recorded',
        httpStatus: null,
        details: { clientId, belongsToClient: clientChannels.has(id) },
      })
    }
  }

  /** Appends the callback's entry: what it did (`outcome`) and the status it was answered with. */
  async finish(outcome: string, httpStatus: number, response?: 'redirect' | 'confirmation'): Promise<void> {
    await this.append({
      subject: this.subject,
      action: 'onboarding.callback',
      outcome,
      httpStatus,
      details: response ? { ...this.details, response } : this.details,
    })
  }

  private async append(
    entry: Pick<AuditEntry, 'subject' | 'action' | 'outcome' | 'httpStatus' | 'details'>,
  ): Promise<void> {
    try {
      await this.deps.store.audit.append({
        ...entry,
        at: this.deps.clock.now().toISOString(),
        id: randomUUID(),
        principal: `source:${this.source}`,
        idempotencyKey: null,
        requestHash: null,
        upstreamStatus: this.upstreamStatus,
      })
    } catch (err) {
      this.deps.logger.error('audit entry not written', { error: err, action: entry.action })
    }
  }
}

import { ConflictError } from '../../domain/errors'
import { rehash } from '../../domain/mapping'
import { factOrderKey, orderingTime } from '../../domain/ordering'
import type { Channel, WebhookEventRecord, WebhookEventStatus } from '../../domain/types'
import {
  type ChannelNotice,
  channelNoticeSchema,
  channelOfWebhookData,
  clientOfWebhookData,
  type UpstreamClient,
  upstreamChannelSchema,
  upstreamClientSchema,
  upstreamIdSchema,
  type WebhookEnvelope,
  webhookEnvelopeSchema,
} from '../../domain/upstream'
import { type ApplyDeps, applyChannel, applyClient } from '../state/apply-upstream'

/**
 * Event names whose data is a channel object, applied through applyChannel.
 * `channel_permission_granted` is not in 360dialog's event list but two unrelated integrations act on
 * it (README, Webhooks); it carries the channel like the others.
 */
export const CHANNEL_EVENTS: ReadonlySet<string> = new Set([
  'channel_created',
  'channel_submitted',
  'channel_ready',
  'channel_permission_granted',
  'channel_permission_revoked',
  'channel_running',
  'channel_live',
  'cancellation_request',
  'cancellation_revoke',
  'cancellation_processed',
])

/**
 * Whether a channel event is about the partner's permission: true for `channel_permission_granted`
 * (the channel's key is created once it is ready), false for `channel_permission_revoked` (its key is
 * deleted and the channel waits for a new permission), null for any other event. The applier hands
 * these to key provisioning after its batch (shared/services/channel-keys/key-triggers.ts), which
 * writes keyStatus itself (ChannelRepository.setKeyStatus): the fact write does not read the channel.
 */
function keyPermissionOf(type: string): boolean | null {
  if (type === 'channel_permission_granted') return true
  if (type === 'channel_permission_revoked') return false
  return null
}

/** Event names whose data is a notice about one channel (matched by channel id, else phone number). */
export const NOTICE_EVENTS: ReadonlySet<string> = new Set([
  'account_violation',
  'account_restriction',
  'template_messaging_enabled',
  'template_messaging_disabled',
])

/** The final status of a stored event. */
export type WebhookOutcome = Exclude<WebhookEventStatus, 'pending'>

/** What applying one event did. `unmatched` marks a notice for a channel we do not know (status rejected). */
export interface WebhookApplyResult {
  status: WebhookOutcome
  reason: string | null
  unmatched: boolean
}

/**
 * Reason prefix of a notice (or a channel event naming no client) whose channel is not stored (yet);
 * replayable once the channel is known.
 */
export const UNMATCHED_REASON = 'channel_not_found'

const MAX_REASON = 500
/** Bounded retries of a notice write that lost an optimistic-concurrency race. */
const NOTICE_ATTEMPTS = 5

function zodReason(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  // Paths and messages only: zod messages name expected types, never the offending values.
  const text = error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ')
  return `schema_mismatch: ${text}`.slice(0, MAX_REASON)
}

const result = (
  status: WebhookOutcome,
  reason: string | null = null,
  unmatched = false,
): WebhookApplyResult => ({ status, reason, unmatched })

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

const hasValue = (v: unknown): boolean => v !== undefined && v !== null && v !== ''

/** Phone number spellings to look up: as sent, digits only, and `+digits`. */
function phoneCandidates(phone: string | number): string[] {
  const raw = String(phone).trim()
  const digits = raw.replace(/\D/g, '')
  return [...new Set([raw, digits, digits === '' ? '' : `+${digits}`])].filter((p) => p !== '')
}

async function findNoticeChannel(deps: ApplyDeps, notice: ChannelNotice): Promise<Channel | null> {
  if (notice.channel_id) {
    const byId = await deps.store.channels.get(notice.channel_id)
    if (byId) return byId
  }
  if (notice.phone_number === null || notice.phone_number === undefined) return null
  const found = new Map<string, Channel>()
  for (const phone of phoneCandidates(notice.phone_number)) {
    for (const c of await deps.store.channels.findByPhoneNumber(phone)) found.set(c.channelId, c)
  }
  const candidates = [...found.values()].filter((c) => !notice.client_id || c.clientId === notice.client_id)
  // A number can be reused after a termination: the channel still in service, newest first, wins.
  candidates.sort((a, b) => {
    const aGone = a.lifecycle === 'terminated' ? 1 : 0
    const bGone = b.lifecycle === 'terminated' ? 1 : 0
    if (aGone !== bGone) return aGone - bGone
    const at = a.upstreamCreatedAt ?? ''
    const bt = b.upstreamCreatedAt ?? ''
    return at < bt ? 1 : at > bt ? -1 : a.channelId < b.channelId ? -1 : 1
  })
  return candidates[0] ?? null
}

type NoticeField = 'violation' | 'templateMessaging'

const maxKey = (a: string | undefined, b: string): string => (a !== undefined && a > b ? a : b)

/**
 * The notice's effect on a stored channel, or null when the channel already holds a newer notice of
 * the same kind. Each kind is ordered by its own key (envelope time + precedence), independently of
 * the channel's upstream facts, so the outcome does not depend on delivery order. Ties at an equal key
 * break deterministically ('disabled' over 'enabled', the greater violation type).
 */
function noticeEffect(
  stored: Channel,
  type: string,
  notice: ChannelNotice,
  key: string,
  at: string,
): { field: NoticeField; patch: Partial<Channel> } | null {
  if (type === 'template_messaging_enabled' || type === 'template_messaging_disabled') {
    const value = type === 'template_messaging_enabled' ? 'enabled' : 'disabled'
    const current = stored.noticeKeys?.templateMessaging
    const wins =
      current === undefined ||
      key > current ||
      (key === current && value === 'disabled' && stored.templateMessaging !== 'disabled')
    if (!wins) return null
    return { field: 'templateMessaging', patch: { templateMessaging: value } }
  }
  const restriction = type === 'account_restriction'
  const violationType = notice.violation_type ?? null
  const prev = stored.violation
  const current = stored.noticeKeys?.violation
  // A restriction stays once seen: no event is known that lifts it.
  const restricted = restriction || (prev?.restricted ?? false)
  const newer =
    current === undefined || key > current || (key === current && (violationType ?? '') > (prev?.type ?? ''))
  if (newer) {
    return { field: 'violation', patch: { violation: { type: violationType, restricted, at } } }
  }
  if (prev && restricted && !prev.restricted) {
    return { field: 'violation', patch: { violation: { ...prev, restricted: true } } }
  }
  return null
}

async function applyNotice(
  deps: ApplyDeps,
  envelope: WebhookEnvelope,
  receivedAt: string,
): Promise<WebhookApplyResult> {
  const parsed = channelNoticeSchema.safeParse(envelope.data)
  if (!parsed.success) return result('rejected', zodReason(parsed.error))
  const notice = parsed.data
  const hasPhone = notice.phone_number !== null && notice.phone_number !== undefined
  if (!notice.channel_id && !hasPhone) {
    return result('rejected', 'schema_mismatch: notice names neither channel_id nor phone_number')
  }
  const type = envelope.event
  // Notices carry no modified_at: the envelope time, else the time stored, capped at the time stored.
  const times = { envelopeTime: envelope.timestamp ?? null, receivedAt }
  const key = factOrderKey(times, type)
  const when = orderingTime(times)
  // The sender's own spelling when it is the ordering time; the time stored when undated or future.
  const at = when.from === 'timestamp' && envelope.timestamp ? envelope.timestamp : when.time
  let stored = await findNoticeChannel(deps, notice)
  for (let attempt = 0; attempt < NOTICE_ATTEMPTS; attempt++) {
    if (!stored) return result('rejected', `${UNMATCHED_REASON}: no stored channel matches`, true)
    const effect = noticeEffect(stored, type, notice, key, at)
    if (!effect) {
      // The same notice again (equal key) is already reflected; an older one is stale.
      const field: NoticeField = type.startsWith('template_messaging_') ? 'templateMessaging' : 'violation'
      return result(stored.noticeKeys?.[field] === key ? 'applied' : 'stale')
    }
    const next = rehash<Channel>({
      ...stored,
      ...effect.patch,
      noticeKeys: { ...stored.noticeKeys, [effect.field]: maxKey(stored.noticeKeys?.[effect.field], key) },
      updatedAt: deps.clock.now().toISOString(),
      source: 'webhook',
    })
    if (next.contentHash === stored.contentHash) return result('applied')
    // The channel's own orderKey is kept (notices must not make later upstream facts look stale), so
    // the write is a compare-and-set on the content read: a concurrent notice or fact is re-read, not lost.
    if ((await deps.store.channels.putIfNewer(next, stored.contentHash)) === 'written') {
      return result('applied')
    }
    stored = await deps.store.channels.get(stored.channelId)
  }
  throw new ConflictError('channel notice lost every concurrent write race; left pending')
}

/**
 * Applies one authenticated webhook envelope to state: channel and cancellation events through
 * applyChannel, client_created through applyClient, violation/restriction and template-messaging
 * notices onto the matched channel. Never throws for bad data (that is a `rejected` outcome); throws
 * only when storage fails, leaving the stored event pending for the sweep.
 */
export async function applyWebhookEvent(
  deps: ApplyDeps,
  envelope: WebhookEnvelope,
  /** receivedAt: when the event was stored (its ordering time when undated, and the cap on its dates). */
  opts: { receivedAt: string },
): Promise<WebhookApplyResult> {
  const type = envelope.event
  // Ordered by modified_at, else the envelope timestamp, else the time stored; never later than stored.
  const order = { envelopeTime: envelope.timestamp ?? null, receivedAt: opts.receivedAt }
  if (CHANNEL_EVENTS.has(type)) {
    let data = channelOfWebhookData(envelope.data)
    // A channel that names no client (no client_id, no client.id) is attached to the client it is
    // stored under. One that is not stored yet cannot be placed: like a notice for an unknown channel
    // it is kept as unmatched (counted, not alarmed; the next poll stores the channel, and a replay
    // then applies the event).
    let stored: Channel | null | undefined
    if (!hasValue(data['client_id']) && !(isRecord(data['client']) && hasValue(data['client']['id']))) {
      const id = upstreamIdSchema.safeParse(data['id'])
      if (id.success) {
        stored = await deps.store.channels.get(id.data)
        if (!stored) {
          return result('rejected', `${UNMATCHED_REASON}: names no client and is not stored yet`, true)
        }
        data = { ...data, client_id: stored.clientId }
      }
    }
    const parsed = upstreamChannelSchema.safeParse(data)
    if (!parsed.success) return result('rejected', zodReason(parsed.error))
    const up = parsed.data
    // One conditional write per fact, no read: the ordering rule guards it (applyChannel, withoutRead).
    // A permission event's keyStatus is key provisioning's, written after the apply (setKeyStatus).
    const applied = await applyChannel(deps, up, {
      source: 'webhook',
      kind: type,
      ...order,
      withoutRead: true,
      ...(stored !== undefined ? { stored } : {}),
    })
    const granted = keyPermissionOf(type)
    if (granted !== null) deps.onKeyPermission?.({ channelId: up.id, granted })
    return result(applied.outcome === 'stale' ? 'stale' : 'applied')
  }
  if (type === 'client_created') {
    const parsed = upstreamClientSchema.safeParse(clientOfWebhookData(envelope.data))
    if (!parsed.success) return result('rejected', zodReason(parsed.error))
    const up: UpstreamClient = parsed.data
    const applied = await applyClient(deps, up, {
      source: 'webhook',
      kind: type,
      ...order,
      withoutRead: true,
    })
    return result(applied.outcome === 'stale' ? 'stale' : 'applied')
  }
  if (NOTICE_EVENTS.has(type)) return applyNotice(deps, envelope, opts.receivedAt)
  return result('unknown_type')
}

/** Parses a stored event's raw body back into an envelope, or the reason it does not fit. */
export function parseStoredEnvelope(
  record: Pick<WebhookEventRecord, 'body'>,
): { ok: true; envelope: WebhookEnvelope } | { ok: false; reason: string } {
  let value: unknown
  try {
    value = JSON.parse(record.body)
  } catch {
    return { ok: false, reason: 'schema_mismatch: stored body is not JSON' }
  }
  const parsed = webhookEnvelopeSchema.safeParse(value)
  return parsed.success ? { ok: true, envelope: parsed.data } : { ok: false, reason: zodReason(parsed.error) }
}

/**
 * Applies a stored event and records its outcome on the event (markOutcome). Used by the applier, a
 * redelivery, the sweep and replay. With `onlyIfPending`, the outcome is recorded only while the
 * event is still pending (`recorded: false` when someone else completed it first: state writes are
 * guarded, so applying it twice changed nothing, and it must not be counted twice). With
 * `keepApplied`, an event already marked applied is not downgraded to stale (a replay finds state
 * that has moved on since).
 */
export async function applyStoredEvent(
  deps: ApplyDeps,
  record: WebhookEventRecord,
  opts: { keepApplied?: boolean; onlyIfPending?: boolean } = {},
): Promise<WebhookApplyResult & { recorded: boolean }> {
  const parsed = parseStoredEnvelope(record)
  const outcome = parsed.ok
    ? await applyWebhookEvent(deps, parsed.envelope, { receivedAt: record.receivedAt })
    : result('rejected', parsed.reason)
  const keep =
    (opts.keepApplied === true && record.status === 'applied' && outcome.status === 'stale') ||
    (record.status === outcome.status && record.reason === outcome.reason)
  if (keep) return { ...outcome, recorded: false }
  const recorded = await deps.store.events.markOutcome(
    record.eventKey,
    outcome.status,
    outcome.reason,
    deps.clock.now().toISOString(),
    opts.onlyIfPending ? { onlyIfPending: true } : {},
  )
  return { ...outcome, recorded }
}

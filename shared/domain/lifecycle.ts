import type { Lifecycle } from './types'

/** What lifecycle derivation needs from a channel (upstream field names mapped to ours). */
export interface LifecycleInput {
  version: 1 | 2
  accountMode: string | null
  status: string | null
  availabilityStatus: string | null
  terminatedAt: string | null
  appId: string | null
  cancellationProcessed: boolean
  /** `hub_status` (real back offices only): a cancellation signal where terminated_at is absent. */
  hubStatus?: string | null
  /** `cancelled_at` (real back offices only): a cancellation signal where terminated_at is absent. */
  cancelledAt?: string | null
  /**
   * The webhook event that carried the fact ('snapshot' or absent for an API read). Its meaning decides
   * where the payload lacks the field the rules need: `channel_live` → live, `cancellation_request` →
   * pending deletion (`cancellation_processed` is `cancellationProcessed`). A present field always wins.
   */
  event?: string | null
}

/** hub_status values that mean the number is gone, and those that mean it is being cancelled. */
const HUB_GONE: ReadonlySet<string> = new Set(['deleted', 'terminated'])
const HUB_CANCELLING: ReadonlySet<string> = new Set(['pending_deletion', 'cancelled'])

/**
 * Derives a channel's lifecycle from the documented rules (docs/partner-api-notes.md §4),
 * first match wins: terminated, pending_deletion, live, error, onboarding, draft. Where
 * `terminated_at` is absent, `hub_status` (`deleted`/`terminated` → terminated;
 * `pending_deletion`/`cancelled` → pending deletion) and a set `cancelled_at` (pending deletion) decide
 * the cancellation steps. Where a field the rules need is absent, the event's meaning decides.
 */
export function deriveLifecycle(input: LifecycleInput, now: Date): Lifecycle {
  if (input.cancellationProcessed) return 'terminated'
  if (hasText(input.terminatedAt)) {
    const terminatedAtMs = parseTime(input.terminatedAt)
    return terminatedAtMs !== null && terminatedAtMs <= now.getTime() ? 'terminated' : 'pending_deletion'
  }
  const hub = input.hubStatus?.trim().toLowerCase() ?? ''
  if (HUB_GONE.has(hub)) return 'terminated'
  if (HUB_CANCELLING.has(hub) || hasText(input.cancelledAt ?? null)) return 'pending_deletion'
  if (input.event === 'cancellation_request') return 'pending_deletion'
  const liveField = input.version === 1 ? input.status : input.accountMode
  const live = hasText(liveField)
    ? input.version === 1
      ? input.status === 'ready'
      : input.accountMode === 'live'
    : input.event === 'channel_live'
  if (live) return 'live'
  if (input.version === 1 && input.status === 'error') return 'error'
  if (input.availabilityStatus === 'error') return 'error'
  if (hasText(input.appId)) return 'onboarding'
  if (input.version === 1 && hasText(input.status)) return 'onboarding'
  return 'draft'
}

/** Reads the upstream `version` field: 1 is Classic Signup; anything else or absent counts as 2. */
export function parseVersion(raw: unknown): 1 | 2 {
  return raw === 1 || raw === '1' ? 1 : 2
}

function hasText(value: string | null): boolean {
  return value !== null && value.trim() !== ''
}

/** Parses an upstream timestamp; unparseable values count as "set" but not "in the past". */
function parseTime(value: string | null): number | null {
  if (value === null || value === '') return null
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? null : ms
}

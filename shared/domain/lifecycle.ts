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
}

/**
 * Derives a channel's lifecycle from the documented rules (docs/partner-api.md §4.4, contract §4),
 * first match wins: terminated, pending_deletion, live, error, onboarding, draft.
 */
export function deriveLifecycle(input: LifecycleInput, now: Date): Lifecycle {
  if (input.cancellationProcessed) return 'terminated'
  const terminatedAtMs = parseTime(input.terminatedAt)
  if (terminatedAtMs !== null && terminatedAtMs <= now.getTime()) return 'terminated'
  if (input.terminatedAt !== null && input.terminatedAt !== '') return 'pending_deletion'
  const live = input.version === 1 ? input.status === 'ready' : input.accountMode === 'live'
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

import type { ErrorCode } from './errors'
import type { RefFailure } from './onboarding-ref'
import type { CancellationRecord, Client } from './types'

/**
 * What a use case did, as data: services return these (or throw a PartnerOpsError with a code) and
 * never an HTTP status. shared/http/answers.ts turns each into its status, body and replayability.
 */

/** What a cancellation request (`POST …/cancellation`) or revoke (`DELETE …/cancellation`) did. */
export type CancellationOutcome =
  /** Upstream took the request. */
  | { kind: 'accepted'; record: CancellationRecord }
  /** This principal already requested it with this key (a retry after the key was released). */
  | { kind: 'already_requested'; record: CancellationRecord }
  /** An earlier call whose outcome was unknown did cancel it (read upstream; no new call). */
  | { kind: 'resolved_without_new_call'; record: CancellationRecord }
  /** Our call failed, but a webhook or poll confirmed the cancellation meanwhile. */
  | { kind: 'confirmed_meanwhile'; record: CancellationRecord }
  /** The channel is already pending deletion or terminated; nothing was sent upstream. */
  | { kind: 'already_cancelled'; record: CancellationRecord | null; terminated: boolean }
  /** A revoke with nothing to revoke; nothing was sent upstream. */
  | { kind: 'nothing_pending'; record: CancellationRecord | null; terminated: boolean }
  /** Upstream shows no termination date any more. */
  | { kind: 'revoked'; record: CancellationRecord }

/** The kinds of {@link CancellationOutcome}. */
export type CancellationOutcomeKind = CancellationOutcome['kind']

/** What `PATCH /clients/{clientId}` did: the client as upstream returned it, and what it did not take. */
export interface ClientSettingsOutcome {
  kind: 'updated'
  client: Client
  /**
   * The settings upstream returned differently from what was asked (e.g. `maxChannels` capped by the
   * partner's plan); empty when it took everything. What upstream returned is what is stored.
   */
  notApplied: ClientSettingName[]
}

/** The settings a client PATCH may change. */
export type ClientSettingName = 'maxChannels' | 'partnerPayload'

/** Why a callback was refused with the 400 page (audited; never shown). */
export type CallbackRejection =
  | 'oversized'
  | 'repeated_parameter'
  | 'invalid_client'
  | 'invalid_channels'
  | 'invalid_revoked_channels'
  | `ref_${RefFailure}`
  | 'ref_used'
  | 'unknown_client'

/** What happened to the client's `partner_payload` upstream during a callback. */
export type PayloadOutcome = 'already_set' | 'set' | 'failed' | 'skipped_client_predates_link'

/** The outcome of one onboarding callback, rendered as a page (HTML, never reflecting input). */
export type CallbackOutcome =
  | {
      kind: 'redirect' | 'confirmation'
      /** The partner's redirect URL (or the configured default) with `client` and `channels`; null for the page. */
      location: string | null
      clientId: string
      channelIds: string[]
      payload: PayloadOutcome
    }
  | { kind: 'rejected'; reason: CallbackRejection }
  | { kind: 'rate_limited'; retryAfterSeconds: number }
  /** The callback could not be completed now (upstream or our own trouble); reloading retries it. */
  | { kind: 'unavailable'; code: ErrorCode }

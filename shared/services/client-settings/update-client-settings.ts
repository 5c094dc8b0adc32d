import type { AppDeps } from '../../deps'
import { NotFoundError, UpstreamError, upstreamMessageOf } from '../../domain/errors'
import type { ClientSettingName, ClientSettingsOutcome } from '../../domain/outcomes'
import type { Client } from '../../domain/types'
import type { UpstreamClient } from '../../domain/upstream'
import { type AttemptAudit, lookupFailure } from '../idempotency/attempts'
import { applyClient } from '../state/apply-upstream'

/** What changing client settings needs. */
export type ClientSettingsDeps = Pick<AppDeps, 'config' | 'store' | 'partnerApi' | 'clock' | 'logger'>

/** The settings a PATCH asks for (at least one). */
export interface ClientSettingsChange {
  maxChannels?: number | undefined
  partnerPayload?: string | undefined
}

/** `PATCH /clients/{clientId}` as the edge checked it (id, key and body are valid). */
export interface ClientSettingsInput {
  clientId: string
  change: ClientSettingsChange
  /** This attempt's audit record: the service notes upstream's status. */
  attempt: AttemptAudit
}

/**
 * `PATCH /clients/{clientId}` (docs/openapi.yaml), run once per idempotency key by the
 * edge: checks that the client exists (stored state, else a lookup upstream; NotFoundError with
 * nothing sent otherwise), sends the documented client PATCH (`max_channels`, `partner_payload`) and
 * stores what upstream returned through the ordering guard. A setting upstream returned differently
 * from what was asked is named in `notApplied` (and logged): what upstream returned is the truth.
 * Throws UpstreamError `upstream_rejected` when upstream refused, a retryable UpstreamError when it
 * could not be reached.
 */
export async function updateClientSettings(
  deps: ClientSettingsDeps,
  input: ClientSettingsInput,
): Promise<ClientSettingsOutcome> {
  const { clientId, change, attempt } = input
  const stored = await findClient(deps, clientId)
  let up: UpstreamClient
  try {
    up = await deps.partnerApi.patchClient(clientId, {
      ...(change.maxChannels !== undefined ? { max_channels: change.maxChannels } : {}),
      ...(change.partnerPayload !== undefined ? { partner_payload: change.partnerPayload } : {}),
    })
  } catch (err) {
    if (err instanceof UpstreamError) attempt.upstreamStatus = err.upstreamStatus
    throw refusal(err)
  }
  attempt.upstreamStatus = 200
  const applied = await applyClient(deps, up, { source: 'api', kind: 'snapshot', stored })
  // A concurrent newer fact won the guarded write: what is stored now is the answer.
  const client: Client =
    applied.outcome === 'stale'
      ? ((await deps.store.clients.get(clientId)) ?? applied.record)
      : applied.record
  const notApplied = settingsNotApplied(change, up)
  if (notApplied.length > 0) {
    attempt.details['notApplied'] = notApplied
    deps.logger.warn('client settings not applied as asked', { clientId, notApplied })
  }
  return { kind: 'updated', client, notApplied }
}

/** The asked settings that upstream's answer does not show (compared with what upstream returned). */
export function settingsNotApplied(change: ClientSettingsChange, up: UpstreamClient): ClientSettingName[] {
  const out: ClientSettingName[] = []
  if (change.maxChannels !== undefined && up.max_channels !== change.maxChannels) out.push('maxChannels')
  if (change.partnerPayload !== undefined && up.partner_payload !== change.partnerPayload) {
    out.push('partnerPayload')
  }
  return out
}

/** The stored client, or the client read upstream (and stored); NotFoundError when neither exists. */
async function findClient(deps: ClientSettingsDeps, clientId: string): Promise<Client> {
  const stored = await deps.store.clients.get(clientId)
  if (stored) return stored
  let up: UpstreamClient | null
  try {
    up = await deps.partnerApi.findClient(clientId)
  } catch (err) {
    throw lookupFailure(err, 'client')
  }
  if (!up || up.id !== clientId) throw new NotFoundError('Client not found', { code: 'client_not_found' })
  return (await applyClient(deps, up, { source: 'api', kind: 'snapshot', stored: null })).record
}

/** An upstream failure of the PATCH itself: `upstream_rejected` with upstream's message, or as it came. */
function refusal(err: unknown): unknown {
  if (!(err instanceof UpstreamError)) return lookupFailure(err, 'client')
  if (err.retryable) return err
  if (err.code === 'upstream_unauthorized') return err
  return new UpstreamError(`The Partner API refused the change: ${upstreamMessageOf(err)}`, {
    upstreamStatus: err.upstreamStatus,
    retryable: false,
    code: 'upstream_rejected',
  })
}

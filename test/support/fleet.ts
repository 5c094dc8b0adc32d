import type { Channel } from '../../shared/domain/types'
import type { StateStore } from '../../shared/ports'

/**
 * A fleet of `n` channels made up on demand from their index: deterministic, realistic in size (about
 * 200 bytes of CSV each: ids, a company name, phone, e-mail, statuses, dates, a short partner payload),
 * and never held in memory, so a test or bench of a million channels measures the export, not the data.
 */
export function fleetChannel(i: number): Channel {
  const client = i % 997
  return {
    channelId: `Ch${i.toString(36).padStart(7, '0')}CH`,
    clientId: `Cl${client.toString(36).padStart(6, '0')}CL`,
    phoneNumber: `4916${String(i).padStart(9, '0')}`,
    displayName: `Channel ${i}`,
    lifecycle: i % 7 === 0 ? 'pending_deletion' : 'live',
    accountMode: 'live',
    status: 'ready',
    availabilityStatus: 'ready',
    terminatedAt: i % 7 === 0 ? '2026-01-31T23:59:59.000Z' : null,
    hubStatus: null,
    cancelledAt: null,
    partnerPayload: i % 11 === 0 ? '=cmd|"/c calc"!A1' : `tenant:${client}:${i}`,
    companyName: i % 5 === 0 ? `Company, "Quoted" ${client} GmbH` : `Company ${client} GmbH`,
    contactEmail: `ops${client}@company${client}.example`,
    numberRegistration: 'live',
    metaBusinessVerification: 'verified',
    messageOnBehalf: 'approved',
    wabaAccountId: `waba${client}`,
    appId: `app${i}`,
    version: 2,
    cancellationProcessed: false,
    violation: null,
    templateMessaging: null,
    upstreamCreatedAt: '2025-06-01T08:00:00.000Z',
    upstreamModifiedAt: '2026-01-15T10:00:00.000Z',
    updatedAt: '2026-01-15T10:00:01.000Z',
    source: 'poll',
    absentRuns: 0,
    orderKey: `2026-01-15T10:00:00.000Z#${i}`,
  } as unknown as Channel
}

/** A store whose channel Scan yields a generated fleet page by page, counting the pages it produced. */
export interface FleetStore {
  store: StateStore
  /** Pages produced so far (the export pulls them; a stalled client stops the pulling). */
  pagesRead(): number
}

export function fleetStore(n: number): FleetStore {
  let pages = 0
  const channels = {
    scan: (pageSize = 100) =>
      (async function* () {
        for (let i = 0; i < n; i += pageSize) {
          pages++
          yield Array.from({ length: Math.min(pageSize, n - i) }, (_, k) => fleetChannel(i + k))
        }
      })(),
  } as unknown as StateStore['channels']
  // No stored clients: an export that looks up client names finds none and keeps the channel's own.
  const clients = {
    list: async () => ({ items: [], nextCursor: null }),
    scan: () => (async function* () {})(),
  } as unknown as StateStore['clients']
  return { store: { channels, clients } as StateStore, pagesRead: () => pages }
}

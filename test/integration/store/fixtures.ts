import type {
  AuditEntry,
  CancellationRecord,
  Channel,
  Client,
  IdempotencyRecord,
  RunSummary,
  WebhookEventRecord,
} from '../../../shared/domain/types'

/** Test records with realistic values; ids are unique per call unless overridden. */
let seq = 0
export const uid = (prefix: string): string =>
  `${prefix}${(++seq).toString(36).padStart(4, '0')}${Math.random().toString(36).slice(2, 6)}`

export function makeClient(overrides: Partial<Client> = {}): Client {
  return {
    clientId: uid('cl'),
    name: 'Acme',
    organisation: 'Acme Ltd',
    status: 'active',
    partnerPayload: null,
    contactEmail: 'ops@example.com',
    contactPhone: '+4930123456',
    maxChannels: 3,
    upstreamCreatedAt: '2024-01-01T00:00:00.000Z',
    upstreamModifiedAt: '2024-01-02T00:00:00.000Z',
    updatedAt: '2024-01-02T00:00:01.000Z',
    source: 'poll',
    missingSince: null,
    orderKey: '2024-01-02T00:00:00.000Z#90',
    contentHash: 'h1',
    ...overrides,
  }
}

export function makeChannel(overrides: Partial<Channel> = {}): Channel {
  return {
    channelId: uid('ch'),
    clientId: 'client-a',
    phoneNumber: '+4915100000001',
    displayName: 'Acme Support',
    lifecycle: 'live',
    accountMode: 'live',
    status: 'running',
    availabilityStatus: null,
    terminatedAt: null,
    hubStatus: null,
    cancelledAt: null,
    qualityRating: 'GREEN',
    messagingLimit: 'TIER_1K',
    billingStartedAt: '2024-01-01T00:00:00.000Z',
    integrationState: 'running',
    fbBusinessId: null,
    partnerPayload: null,
    companyName: 'Acme Ltd',
    contactEmail: null,
    numberRegistration: 'done',
    metaBusinessVerification: 'verified',
    messageOnBehalf: null,
    wabaAccountId: 'waba1',
    appId: null,
    version: 2,
    cancellationProcessed: false,
    violation: { type: 'spam', restricted: false, at: '2024-01-03T00:00:00.000Z' },
    templateMessaging: null,
    upstreamCreatedAt: '2024-01-01T00:00:00.000Z',
    upstreamModifiedAt: '2024-01-02T00:00:00.000Z',
    updatedAt: '2024-01-02T00:00:01.000Z',
    source: 'webhook',
    absentRuns: 0,
    missingSince: null,
    orderKey: '2024-01-02T00:00:00.000Z#50',
    contentHash: 'h1',
    ...overrides,
  }
}

export function makeEvent(overrides: Partial<WebhookEventRecord> = {}): WebhookEventRecord {
  return {
    eventKey: uid('ev'),
    eventType: 'channel_live',
    body: '{"event":"channel_live","data":{"id":"x"}}',
    receivedAt: '2024-05-01T10:00:00.000Z',
    status: 'pending',
    reason: null,
    appliedAt: null,
    expiresAt: 1_900_000_000,
    deliveries: 1,
    ...overrides,
  }
}

export function makeCancellation(overrides: Partial<CancellationRecord> = {}): CancellationRecord {
  return {
    channelId: uid('ch'),
    clientId: 'client-a',
    state: 'requested',
    requestedBy: 'arn:aws:iam::123456789012:user/ops',
    requestedAt: '2024-05-01T10:00:00.000Z',
    idempotencyKey: 'idem-1',
    reason: null,
    terminatesAt: null,
    confirmedAt: null,
    upstreamStatus: null,
    upstreamMessage: null,
    updatedAt: '2024-05-01T10:00:00.000Z',
    inFlight: null,
    version: 1,
    ...overrides,
  }
}

export function makeAudit(subject: string, i: number): AuditEntry {
  return {
    subject,
    at: `2024-05-01T10:00:${String(i % 60).padStart(2, '0')}.000Z`,
    id: `id${String(i).padStart(4, '0')}`,
    action: 'cancellation.request',
    principal: 'ops',
    idempotencyKey: null,
    requestHash: null,
    outcome: 'accepted',
    httpStatus: 202,
    upstreamStatus: i % 2 === 0 ? 200 : null,
    details: { n: i, nested: { ok: true } },
  }
}

export function makeRun(outcome: RunSummary['outcome'], runId: string): RunSummary {
  return {
    runId,
    startedAt: '2024-05-01T10:00:00.000Z',
    endedAt: '2024-05-01T10:01:00.000Z',
    outcome,
    error: outcome === 'failed' ? 'upstream unavailable' : null,
    mode: 'full',
    complete: outcome === 'succeeded',
    quarantined: outcome === 'failed' ? 1 : 0,
    warnings: outcome === 'failed' ? ['items_key_missing', 'quarantined_items'] : [],
    pages: 3,
    calls: 4,
    retries: 1,
    seen: { clients: 2, channels: 5 },
    changed: { clients: 0, channels: 1 },
    missing: { clients: 0, channels: 0 },
    swept: 0,
    confirmedCancellations: 0,
  }
}

export function makeIdem(overrides: Partial<IdempotencyRecord> = {}): IdempotencyRecord {
  return {
    scope: 'ops|POST /channels/x/cancellation',
    key: uid('k'),
    requestHash: 'rh1',
    state: 'in_flight',
    response: null,
    lockedUntil: '2024-05-01T10:00:30.000Z',
    expiresAt: 1_900_000_000,
    ...overrides,
  }
}

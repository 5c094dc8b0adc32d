import type { TableKey } from '../shared/adapters/dynamo/tables'
import type { SecretName } from '../shared/ports'

/**
 * Least-privilege access of each function, as plain data: which DynamoDB actions on which table and
 * index, and which secrets it may read. The stack turns this into IAM statements with exact ARNs, and
 * the tests read it back from the template. Derived from the repository methods each function's
 * services call (shared/adapters/dynamo/DESIGN.md lists the DynamoDB operation behind each method).
 */

/** The Lambda functions of the product. */
export type FunctionKey = 'webhook' | 'webhookApplier' | 'api' | 'onboarding' | 'poller'

/** DynamoDB data-plane actions PartnerOps uses (no batch, no transactions, no PartiQL). */
export type TableAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'Scan'

/** Access to one table: actions on the table itself, and Query on named indexes. */
export interface TableGrant {
  actions: TableAction[]
  indexes?: string[]
}

/** What one function may touch. */
export interface FunctionAccess {
  tables: Partial<Record<TableKey, TableGrant>>
  secrets: SecretName[]
  /** events:PutEvents on the change-event bus. */
  publishesEvents: boolean
}

/** Access of every function. The webhook token secret is added only when the auth mode uses one. */
export const ACCESS: Record<FunctionKey, FunctionAccess> = {
  // ingestWebhook: store first and answer; a redelivery of a still-pending event completes it inline
  // (the same applyPendingEvent the applier runs), hence the state grants.
  webhook: {
    tables: {
      events: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
      clients: { actions: ['GetItem', 'PutItem'] },
      channels: { actions: ['GetItem', 'PutItem'], indexes: ['byPhone'] },
      cancellations: { actions: ['GetItem', 'PutItem'] },
      ops: { actions: ['UpdateItem'] },
    },
    secrets: ['platformSecret', 'webhookToken'],
    publishesEvents: true,
  },
  // applyPendingEvents from the events table's stream: re-read each new event by key, apply it to
  // state (compare-and-set writes), record its outcome, add the sharded outcome counters. The stream
  // read rights come from the event source mapping (grantStreamRead), not from here.
  webhookApplier: {
    tables: {
      events: { actions: ['GetItem', 'UpdateItem'] },
      clients: { actions: ['GetItem', 'PutItem'] },
      channels: { actions: ['GetItem', 'PutItem'], indexes: ['byPhone'] },
      cancellations: { actions: ['GetItem', 'PutItem'] },
      ops: { actions: ['UpdateItem'] },
    },
    secrets: [],
    publishesEvents: true,
  },
  // reconcile: digests (Scan), guarded writes, absence marks, lease and summaries, the pending sweep.
  poller: {
    tables: {
      clients: { actions: ['GetItem', 'PutItem', 'Scan'] },
      channels: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'Scan'], indexes: ['byPhone'] },
      // The sweep lists the pending index, then re-reads each event by key before completing it.
      events: { actions: ['GetItem', 'UpdateItem'], indexes: ['pending'] },
      cancellations: { actions: ['GetItem', 'PutItem'] },
      ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
    },
    secrets: ['partnerApi'],
    publishesEvents: true,
  },
  // Reads, cancellation (idempotency, budget, the upstream snapshot stored through applyChannel), audit.
  api: {
    tables: {
      clients: { actions: ['GetItem', 'Scan'], indexes: ['byStatus'] },
      channels: { actions: ['GetItem', 'PutItem', 'Scan'], indexes: ['byClient', 'byLifecycle'] },
      events: { actions: [], indexes: ['pending'] },
      cancellations: { actions: ['GetItem', 'PutItem'] },
      // Query: GET /status sums the sharded webhook counters.
      ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'] },
      audit: { actions: ['PutItem'] },
    },
    secrets: ['partnerApi'],
    publishesEvents: true,
  },
  // Onboarding links, the callback (applies one client and its channels from the Partner API, rate
  // budget per source), PATCH /clients (idempotency, guarded write); every outcome audited.
  onboarding: {
    tables: {
      clients: { actions: ['GetItem', 'PutItem'] },
      // byClient: the callback reads the client's stored channels in one query.
      channels: { actions: ['GetItem', 'PutItem'], indexes: ['byClient'] },
      cancellations: { actions: ['GetItem', 'PutItem'] },
      ops: { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'] },
      audit: { actions: ['PutItem'] },
    },
    secrets: ['partnerApi', 'linkSigningKey'],
    publishesEvents: true,
  },
}

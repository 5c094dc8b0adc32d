import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb'
import type {
  PartnerSettingsCheck,
  PartnerSettingsFailure,
  PartnerSettingsRecord,
} from '../../domain/partner-settings'
import type { CallSlot, OpsRepository } from '../../ports'
import type { Db, Item } from './db'
import { KEYS } from './tables'

const O = KEYS.ops

/** Keys of the ops items kept for the balance cache and the partner settings check. */
export const partnerOpsKeys = {
  callSlot: (name: string, key: string): Item => ({ [O.pk]: `slot#${name}`, [O.sk]: `key#${key}` }),
  partnerSettings: (): Item => ({ [O.pk]: 'partner', [O.sk]: 'settings' }),
}

/** A call slot lingers this long after its window before TTL removes it (seconds). */
const SLOT_TTL_SLACK_SECONDS = 86_400

function slotOf(item: Item | undefined): CallSlot | null {
  if (!item) return null
  const state = item['state']
  return {
    owner: String(item['owner'] ?? ''),
    takenAt: Number(item['takenAt'] ?? 0),
    nextCallAt: Number(item['nextCallAt'] ?? 0),
    state: state === 'ok' || state === 'error' ? state : 'pending',
    outcome: typeof item['outcome'] === 'string' ? item['outcome'] : null,
  }
}

/**
 * The call slots and the partner settings record of the ops table (part of OpsRepository).
 *
 * A call slot is one item per name and key. Taking it is a single conditional PutItem
 * (`attribute_not_exists(pk) OR nextCallAt <= :now`), so among any number of callers on any number of
 * Lambda instances exactly one wins per window; settling is an UpdateItem conditioned on the owner, so
 * a holder that lost its slot (its window passed and someone else took it) never overwrites a newer
 * outcome.
 */
export function createPartnerOpsMethods(
  db: Db,
  table: string,
): Pick<
  OpsRepository,
  | 'getCallSlot'
  | 'takeCallSlot'
  | 'settleCallSlot'
  | 'savePartnerSettingsCheck'
  | 'savePartnerSettingsFailure'
  | 'getPartnerSettings'
> {
  return {
    getCallSlot: async (name, key) => {
      const out = await db.call('ops.getCallSlot', () =>
        db.doc.send(
          new GetCommand({ TableName: table, Key: partnerOpsKeys.callSlot(name, key), ConsistentRead: true }),
        ),
      )
      return slotOf(out.Item)
    },
    takeCallSlot: (name, key, owner, now, nextCallAt) =>
      db.conditional('ops.takeCallSlot', () =>
        db.doc.send(
          new PutCommand({
            TableName: table,
            Item: {
              ...partnerOpsKeys.callSlot(name, key),
              owner,
              takenAt: now.getTime(),
              nextCallAt,
              state: 'pending',
              expiresAt: Math.ceil(nextCallAt / 1000) + SLOT_TTL_SLACK_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(#pk) OR #next <= :now',
            ExpressionAttributeNames: { '#pk': O.pk, '#next': 'nextCallAt' },
            ExpressionAttributeValues: { ':now': now.getTime() },
          }),
        ),
      ),
    settleCallSlot: (name, key, owner, settled) =>
      db.conditional('ops.settleCallSlot', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: partnerOpsKeys.callSlot(name, key),
            UpdateExpression: 'SET #state = :state, #outcome = :outcome, #next = :next, #exp = :exp',
            ConditionExpression: '#owner = :owner',
            ExpressionAttributeNames: {
              '#state': 'state',
              '#outcome': 'outcome',
              '#next': 'nextCallAt',
              '#exp': 'expiresAt',
              '#owner': 'owner',
            },
            ExpressionAttributeValues: {
              ':state': settled.state,
              ':outcome': settled.outcome,
              ':next': settled.nextCallAt,
              ':exp': Math.ceil(settled.nextCallAt / 1000) + SLOT_TTL_SLACK_SECONDS,
              ':owner': owner,
            },
          }),
        ),
      ),
    savePartnerSettingsCheck: async (check: PartnerSettingsCheck) => {
      await db.call('ops.savePartnerSettingsCheck', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: partnerOpsKeys.partnerSettings(),
            UpdateExpression: 'SET #check = :check REMOVE #failure',
            ExpressionAttributeNames: { '#check': 'check', '#failure': 'failure' },
            ExpressionAttributeValues: { ':check': check },
          }),
        ),
      )
    },
    savePartnerSettingsFailure: async (failure: PartnerSettingsFailure) => {
      await db.call('ops.savePartnerSettingsFailure', () =>
        db.doc.send(
          new UpdateCommand({
            TableName: table,
            Key: partnerOpsKeys.partnerSettings(),
            UpdateExpression: 'SET #failure = :failure',
            ExpressionAttributeNames: { '#failure': 'failure' },
            ExpressionAttributeValues: { ':failure': failure },
          }),
        ),
      )
    },
    getPartnerSettings: async (): Promise<PartnerSettingsRecord> => {
      const out = await db.call('ops.getPartnerSettings', () =>
        db.doc.send(
          new GetCommand({ TableName: table, Key: partnerOpsKeys.partnerSettings(), ConsistentRead: true }),
        ),
      )
      return {
        check: (out.Item?.['check'] as PartnerSettingsCheck | undefined) ?? null,
        failure: (out.Item?.['failure'] as PartnerSettingsFailure | undefined) ?? null,
      }
    },
  }
}

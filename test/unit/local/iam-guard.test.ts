import { describe, expect, it, vi } from 'vitest'
import { denial, guardSecrets, LocalAccessDeniedError, requiredAccess } from '../../../local/iam-guard'
import type { TableNames } from '../../../shared/adapters/dynamo/tables'
import { createEnvSecretSource } from '../../../shared/adapters/secrets'

const tables: TableNames = {
  clients: 't-clients',
  channels: 't-channels',
  events: 't-events',
  cancellations: 't-cancellations',
  audit: 't-audit',
  ops: 't-ops',
  channelKeys: 't-channel-keys',
}

describe('local IAM guard', () => {
  it('maps a command to the IAM action, table and index it needs', () => {
    expect(
      requiredAccess('QueryCommand', { TableName: 't-channels', IndexName: 'byClient' }, tables),
    ).toEqual({
      action: 'Query',
      table: 'channels',
      index: 'byClient',
    })
    expect(requiredAccess('PutItemCommand', { TableName: 'elsewhere' }, tables).table).toBeNull()
  })

  it('allows exactly what a function is granted', () => {
    expect(denial('api', { action: 'PutItem', table: 'audit', index: null })).toBeNull()
    expect(denial('api', { action: 'Query', table: 'channels', index: 'byLifecycle' })).toBeNull()
  })

  it('refuses an ungranted action, an updated audit entry, an ungranted index and a foreign table', () => {
    expect(denial('webhook', { action: 'Scan', table: 'channels', index: null })).toMatch(/Scan on channels/)
    expect(denial('api', { action: 'UpdateItem', table: 'audit', index: null })).toMatch(
      /UpdateItem on audit/,
    )
    expect(denial('webhook', { action: 'Query', table: 'channels', index: 'byLifecycle' })).toMatch(
      /byLifecycle/,
    )
    expect(denial('webhook', { action: 'GetItem', table: null, index: null })).toMatch(/not PartnerOps/)
  })

  it('lets a function read only its own secrets, and reports the refusal', async () => {
    const report = vi.fn()
    const secrets = guardSecrets(
      createEnvSecretSource({ partnerApi: 'k', platformSecret: 's' }),
      'webhook',
      report,
    )
    expect(await secrets.get('platformSecret')).toBe('s')
    await expect(secrets.get('partnerApi')).rejects.toBeInstanceOf(LocalAccessDeniedError)
    expect(report).toHaveBeenCalledWith(
      expect.stringContaining('webhook is not granted the partnerApi secret'),
    )
  })
})

import { describe, expect, it } from 'vitest'
import { TABLES } from '../../shared/adapters/dynamo/tables'
import { resourcesOf, synthesize } from './synth'

describe('stateful stack', () => {
  const s = synthesize()

  it('maps every table of the store definition, with its keys, indexes and TTL', () => {
    const tables = Object.entries(resourcesOf(s.stateful, 'AWS::DynamoDB::GlobalTable'))
    expect(tables).toHaveLength(TABLES.length)
    for (const spec of TABLES) {
      const entry = tables.find(([id]) => id.toLowerCase().startsWith(`${spec.key.toLowerCase()}table`))
      expect(entry, spec.key).toBeDefined()
      const p = entry?.[1].Properties ?? {}
      expect(p.KeySchema).toEqual([
        { AttributeName: spec.partitionKey.name, KeyType: 'HASH' },
        ...(spec.sortKey ? [{ AttributeName: spec.sortKey.name, KeyType: 'RANGE' }] : []),
      ])
      const indexes =
        (p.GlobalSecondaryIndexes as { IndexName: string; KeySchema: unknown; Projection: unknown }[]) ?? []
      expect(indexes.map((i) => i.IndexName).sort()).toEqual(spec.indexes.map((i) => i.indexName).sort())
      for (const index of spec.indexes) {
        const found = indexes.find((i) => i.IndexName === index.indexName)
        expect(found?.KeySchema).toEqual([
          { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
          ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' }] : []),
        ])
        expect(found?.Projection).toEqual({
          ProjectionType: index.projection === 'KEYS_ONLY' ? 'KEYS_ONLY' : 'ALL',
        })
      }
      expect(p.TimeToLiveSpecification).toEqual(
        spec.ttlAttribute ? { AttributeName: spec.ttlAttribute, Enabled: true } : undefined,
      )
    }
  })

  it('streams new images of the events table, both images of the state tables, and nothing of the others', () => {
    const streams = Object.entries(resourcesOf(s.stateful, 'AWS::DynamoDB::GlobalTable')).map(([id, t]) => [
      id.replace(/[0-9A-F]{8}$/, ''),
      t.Properties.StreamSpecification,
    ])
    expect(Object.fromEntries(streams.filter(([, spec]) => spec !== undefined))).toEqual({
      EventsTable: { StreamViewType: 'NEW_IMAGE' },
      ClientsTable: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      ChannelsTable: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      CancellationsTable: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    })
    expect(streams).toHaveLength(7)
  })

  it('makes every table on-demand, encrypted, point-in-time recoverable, deletion protected and retained', () => {
    for (const [id, table] of Object.entries(resourcesOf(s.stateful, 'AWS::DynamoDB::GlobalTable'))) {
      const p = table.Properties
      expect(p.BillingMode, id).toBe('PAY_PER_REQUEST')
      expect(p.SSESpecification, id).toEqual({ SSEEnabled: true, SSEType: 'KMS' })
      const replica = (p.Replicas as Record<string, unknown>[])[0]
      expect(replica?.PointInTimeRecoverySpecification, id).toEqual({ PointInTimeRecoveryEnabled: true })
      expect(replica?.DeletionProtectionEnabled, id).toBe(true)
      expect(table.DeletionPolicy, id).toBe('Retain')
      expect(table.UpdateReplacePolicy, id).toBe('Retain')
    }
  })

  it('creates the secrets without any value in the template', () => {
    const secrets = resourcesOf(s.stateful, 'AWS::SecretsManager::Secret')
    // Partner API key, platform secret, link signing key; no webhook token in signature mode.
    expect(
      Object.keys(secrets)
        .map((id) => id.replace(/[0-9A-F]{8}$/, ''))
        .sort(),
    ).toEqual(['LinkSigningKey', 'PartnerApiSecret', 'PlatformSecret'])
    for (const secret of Object.values(secrets)) {
      expect(secret.Properties.SecretString).toBeUndefined()
      expect(secret.Properties.GenerateSecretString).toBeDefined()
    }
  })

  it('adds a generated webhook token only when the auth mode uses one', () => {
    for (const mode of ['signature+token', 'token']) {
      const withToken = synthesize({ webhookAuth: mode })
      const ids = Object.keys(resourcesOf(withToken.stateful, 'AWS::SecretsManager::Secret'))
      expect(
        ids.some((id) => id.startsWith('WebhookToken')),
        mode,
      ).toBe(true)
      const fn = Object.values(resourcesOf(withToken.stateless, 'AWS::Lambda::Function')).find(
        (f) =>
          (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables
            .POWERTOOLS_SERVICE_NAME === 'webhook',
      )
      const vars =
        (fn?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {}
      expect(vars.WEBHOOK_TOKEN_SECRET_ID).toBeDefined()
      expect(vars.WEBHOOK_SIGNATURE).toBe(mode === 'token' ? 'off' : 'required')
    }
  })
})

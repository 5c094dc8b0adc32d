import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { NAMESPACE, POLLER, SERVICES, WEBHOOK } from '../../infra/metrics'
import { METRICS_NAMESPACE } from '../../shared/observability'
import { WEBHOOK_METRICS } from '../../shared/services/ingest-webhook'

describe('metric names the alarms and dashboard read', () => {
  it('match what the functions emit', () => {
    expect(NAMESPACE).toBe(METRICS_NAMESPACE)
    const emitted = new Set<string>(Object.values(WEBHOOK_METRICS))
    for (const name of Object.values(WEBHOOK)) expect(emitted.has(name), name).toBe(true)
    const poller = readFileSync('functions/poller/handler.ts', 'utf8')
    for (const name of Object.values(POLLER)) expect(poller, name).toContain(`'${name}'`)
  })

  it('use the service names the function entries pass to createAppDeps', () => {
    for (const service of Object.values(SERVICES)) {
      const entry = readFileSync(`functions/${service}/index.ts`, 'utf8')
      expect(entry).toContain(`'${service}'`)
    }
  })
})

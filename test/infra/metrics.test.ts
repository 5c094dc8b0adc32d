import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { HEALTH_METRICS } from '../../functions/health/handler'
import {
  HEALTH,
  NAMESPACE,
  PARTNER_SETTINGS,
  POLLER,
  WEBHOOK,
  WEBHOOK_OUTCOME_SERVICES,
  WEBHOOK_OUTCOMES,
} from '../../infra/metrics'
import { FUNCTION_KEYS, FUNCTIONS } from '../../shared/functions'
import { METRICS_NAMESPACE } from '../../shared/observability'
import { WEBHOOK_METRICS } from '../../shared/services/webhooks/apply-pending-event'

const source = (path: string): string => readFileSync(path, 'utf8')

describe('metric names the alarms and dashboard read', () => {
  it('match what the functions emit', () => {
    expect(NAMESPACE).toBe(METRICS_NAMESPACE)
    const poller = source('functions/poller/handler.ts')
    for (const name of Object.values(POLLER)) expect(poller, name).toContain(`'${name}'`)
    // The drift alarm's metric is the poller's 0/1 metric of the run warning partner_settings_drift.
    expect(poller).toContain(`partner_settings_drift: '${PARTNER_SETTINGS.drift}'`)
    expect(HEALTH_METRICS).toEqual(HEALTH)
  })

  it('read ingestion metrics where the request path emits them, and outcomes where events are completed', () => {
    // The request path: the edge (signature refusals) and the ingest service (stored, duplicate, failed).
    const ingest =
      source('shared/services/webhooks/ingest-webhook.ts') + source('shared/http/webhook-auth.ts')
    const apply = source('shared/services/webhooks/apply-pending-event.ts')
    for (const [key, name] of Object.entries(WEBHOOK)) {
      expect(WEBHOOK_METRICS[key as keyof typeof WEBHOOK_METRICS], key).toBe(name)
      expect(ingest, key).toContain(`WEBHOOK_METRICS.${key}`)
      expect(apply, key).not.toContain(`WEBHOOK_METRICS.${key}`)
    }
    for (const [key, name] of Object.entries(WEBHOOK_OUTCOMES)) {
      expect(WEBHOOK_METRICS[key as keyof typeof WEBHOOK_METRICS], key).toBe(name)
      expect(apply, key).toContain(`WEBHOOK_METRICS.${key}`)
      expect(ingest, key).not.toContain(`WEBHOOK_METRICS.${key}`)
    }
    // Every metric the code defines is read by the alarms or the dashboard.
    const read = new Set<string>([...Object.values(WEBHOOK), ...Object.values(WEBHOOK_OUTCOMES)])
    expect(Object.values(WEBHOOK_METRICS).filter((n) => !read.has(n))).toEqual([])
  })

  it('expect outcomes from the applier (stream) and the webhook function (a redelivery completing its event)', () => {
    expect([...WEBHOOK_OUTCOME_SERVICES].sort()).toEqual(['webhook', 'webhookApplier'])
    expect(source('functions/webhook-applier/handler.ts')).toContain('applyPendingEvents(')
    expect(source('shared/services/webhooks/ingest-webhook.ts')).toContain('applyPendingEvent(')
  })

  it('use the service names the function entries wire with (wireFunction takes it from FUNCTIONS)', () => {
    expect(FUNCTIONS.webhookApplier.service).toBe('webhook-applier')
    for (const fn of FUNCTION_KEYS) {
      const { entry, service } = FUNCTIONS[fn]
      expect(entry).toBe(`functions/${service}/index.ts`)
      expect(source(entry)).toContain(`wireFunction('${fn}',`)
    }
  })
})

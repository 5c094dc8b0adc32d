import { App, Stack, Validations } from 'aws-cdk-lib'
import * as sqs from 'aws-cdk-lib/aws-sqs'
import type { IConstruct } from 'constructs'
import { describe, expect, it } from 'vitest'
import { buildApp, cleanUp, nagViolations } from './synth'

const acknowledgements = (root: IConstruct): { path: string; kind: string; id: string; reason: string }[] =>
  root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) =>
        Object.entries(m.data as Record<string, string>).map(([id, reason]) => ({
          path: c.node.path,
          kind: Stack.isStack(c) ? 'stack' : App.isApp(c) ? 'app' : 'construct',
          id,
          reason,
        })),
      ),
  )

describe('cdk-nag AwsSolutions gate', () => {
  it('finds nothing unacknowledged in any webhook auth mode and partner API auth', () => {
    for (const context of [
      {},
      { webhookAuth: 'token', partnerApiAuth: 'bearer' },
      { webhookAuth: 'signature+token' },
    ]) {
      const built = buildApp(context, { nag: true })
      expect(nagViolations(built), JSON.stringify(context)).toEqual([])
      cleanUp(built)
    }
  })

  it('reports a non-compliant resource that nobody acknowledged', () => {
    const built = buildApp({}, { nag: true })
    new sqs.Queue(built.stacks.stateless, 'UnreviewedQueue')
    const found = nagViolations(built)
    cleanUp(built)
    expect(found.map((v) => v.rule)).toEqual(
      expect.arrayContaining(['AwsSolutions-SQS3', 'AwsSolutions-SQS4']),
    )
    expect(found.flatMap((v) => v.paths).every((p) => p.includes('UnreviewedQueue'))).toBe(true)
  })

  it('acknowledges findings on the resource itself, each with a specific reason', () => {
    const built = buildApp({ webhookAuth: 'signature+token' })
    cleanUp(built)
    const { app } = built
    const acks = acknowledgements(app).filter((a) => a.id.startsWith('AwsSolutions'))
    expect(acks.length).toBeGreaterThan(0)
    for (const a of acks) {
      expect(a.kind, `${a.id} on ${a.path}`).toBe('construct')
      expect(a.reason.length, `${a.id} on ${a.path}`).toBeGreaterThanOrEqual(80)
    }
    // Wildcard acknowledgements name the exact finding, never the whole rule.
    for (const a of acks.filter((x) => x.id.includes('IAM5'))) expect(a.id).toMatch(/IAM5\[Resource::.+\]$/)
    // The same reason is not pasted onto different rules.
    const byReason = new Map<string, Set<string>>()
    for (const a of acks)
      byReason.set(a.reason, new Set([...(byReason.get(a.reason) ?? []), a.id.replace(/\[.*$/, '')]))
    for (const rules of byReason.values()) expect(rules.size).toBe(1)
  })
})

import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DeployConfigError, loadDeployConfig } from '../../infra/config'

const from =
  (ctx: Record<string, unknown>) =>
  (key: string): unknown =>
    ctx[key]

describe('deployment settings', () => {
  it('names every missing required setting and how to provide it', () => {
    expect(() => loadDeployConfig(from({}))).toThrow(DeployConfigError)
    try {
      loadDeployConfig(from({ pollRateMinutes: '5' }))
    } catch (err: unknown) {
      const message = (err as Error).message
      expect(message).toContain('partnerId: missing')
      expect(message).toContain('alarmEmail: missing')
      expect(message).toContain('-c partnerId=')
    }
  })

  it('rejects bad values with the reason', () => {
    expect(() => loadDeployConfig(from({ partnerId: 'bad id!', alarmEmail: 'ops@example.com' }))).toThrow(
      /partnerId: must be a partner id/,
    )
    expect(() => loadDeployConfig(from({ partnerId: 'examplePA', alarmEmail: 'nope' }))).toThrow(/alarmEmail/)
    expect(() =>
      loadDeployConfig(from({ partnerId: 'examplePA', alarmEmail: 'ops@example.com', logRetentionDays: 45 })),
    ).toThrow(/logRetentionDays: must be one of/)
    expect(() =>
      loadDeployConfig(from({ partnerId: 'examplePA', alarmEmail: 'ops@example.com', webhookAuth: 'none' })),
    ).toThrow(/webhookAuth/)
  })

  it('applies defaults and coerces command-line strings', () => {
    const c = loadDeployConfig(
      from({ partnerId: 'examplePA', alarmEmail: 'ops@example.com', pollRateMinutes: '5' }),
    )
    expect(c).toMatchObject({
      stackPrefix: 'PartnerOps',
      pollRateMinutes: 5,
      webhookAuth: 'signature',
      partnerApiAuth: 'api_key',
      logRetentionDays: 90,
    })
  })

  it('fails the synth of the CDK app with the message when settings are missing', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'partnerops-synth-'))
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      encoding: 'utf8',
      env: { ...process.env, CDK_CONTEXT_JSON: '{}', CDK_OUTDIR: outdir },
      timeout: 60_000,
    })
    rmSync(outdir, { recursive: true, force: true })
    expect(run.status).toBe(1)
    expect(run.stderr).toContain('PartnerOps deployment settings are missing or invalid')
    expect(run.stderr).toContain('partnerId: missing')
  })
})

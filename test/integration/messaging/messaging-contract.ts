import { expect, it } from 'vitest'
import { UpstreamError } from '../../../shared/domain/errors'
import type { CloudHealthStatus, GatewayStatus, MessagingApiKind } from '../../../shared/domain/health'
import type { MessagingApi, MessagingTarget } from '../../../shared/ports'

/**
 * One side of the Messaging API contract: a MessagingApi, and a way to issue, change and revoke the
 * keys of numbers behind its back (what key provisioning and Meta do upstream).
 */
export interface MessagingSide {
  api: MessagingApi
  /** Issues a key for a new number of the given API; answers the target PartnerOps would use. */
  issue(opts: { kind: MessagingApiKind; phone: string }): Promise<MessagingTarget>
  /** Sets the health behind a key (a Cloud status or a gateway status). */
  setHealth(target: MessagingTarget, status: CloudHealthStatus | GatewayStatus): Promise<void>
  /** Revokes a key (a new key for its channel, or the permission withdrawn). */
  revoke(target: MessagingTarget): Promise<void>
  close(): Promise<void>
}

export type MessagingSideFactory = () => Promise<MessagingSide>

async function withSide(
  factory: MessagingSideFactory,
  run: (side: MessagingSide) => Promise<void>,
): Promise<void> {
  const side = await factory()
  try {
    await run(side)
  } finally {
    await side.close()
  }
}

async function refusal(run: () => Promise<unknown>): Promise<UpstreamError> {
  const err = await run().then(
    () => null,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UpstreamError)
  return err as UpstreamError
}

/**
 * What PartnerOps relies on from the 360dialog Messaging API's health endpoints (docs/partner-api-notes.md,
 * "Messaging API health"), run against the in-memory fake the unit tests use and against the simulator
 * through the real client, so the three cannot drift apart.
 */
export function messagingContract(factory: MessagingSideFactory): void {
  it('answers a new Cloud number AVAILABLE with no errors, and follows its status', () =>
    withSide(factory, async (side) => {
      const t = await side.issue({ kind: 'cloud', phone: '+4915112340001' })
      expect(t.kind).toBe('cloud')
      expect(await side.api.health(t)).toEqual({ status: 'AVAILABLE', errors: [] })
      await side.setHealth(t, 'BLOCKED')
      const blocked = await side.api.health(t)
      expect(blocked.status).toBe('BLOCKED')
      expect(blocked.errors.length).toBeGreaterThan(0)
      expect(blocked.errors[0]?.code).toMatch(/^meta_\d+$/)
      await side.setHealth(t, 'LIMITED')
      const limited = await side.api.health(t)
      expect(limited.status).toBe('LIMITED')
      expect(limited.errors.map((e) => e.code)).toContain('limited')
    }))

  it('answers an on-premise number with its gateway status', () =>
    withSide(factory, async (side) => {
      const t = await side.issue({ kind: 'onpremise', phone: '+4915112340002' })
      expect(t.kind).toBe('onpremise')
      expect(await side.api.health(t)).toEqual({ status: 'connected', errors: [] })
      await side.setHealth(t, 'disconnected')
      expect((await side.api.health(t)).status).toBe('disconnected')
    }))

  it('names the number behind a key, as digits, on both APIs', () =>
    withSide(factory, async (side) => {
      const cloud = await side.issue({ kind: 'cloud', phone: '+49 151 1234-0003' })
      const onPrem = await side.issue({ kind: 'onpremise', phone: '+4915112340004' })
      expect(await side.api.phoneNumber(cloud)).toBe('4915112340003')
      expect(await side.api.phoneNumber(onPrem)).toBe('4915112340004')
    }))

  it('refuses a key never issued and a revoked key with 401, never retried; the other API is not there', () =>
    withSide(factory, async (side) => {
      const t = await side.issue({ kind: 'cloud', phone: '+4915112340005' })
      const unknown = await refusal(() => side.api.health({ ...t, apiKey: 'never-issued-key' }))
      expect(unknown).toMatchObject({ upstreamStatus: 401, code: 'upstream_unauthorized', retryable: false })
      // The on-premise path on the Cloud API's address: not there.
      const other = await refusal(() => side.api.health({ ...t, kind: 'onpremise' }))
      expect(other).toMatchObject({ upstreamStatus: 404, retryable: false })
      await side.revoke(t)
      const callsBefore = side.api.stats().calls
      expect((await refusal(() => side.api.health(t))).upstreamStatus).toBe(401)
      expect((await refusal(() => side.api.phoneNumber(t))).upstreamStatus).toBe(401)
      expect(side.api.stats().calls - callsBefore).toBe(2)
    }))
}

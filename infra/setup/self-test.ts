import { createHmac, randomUUID } from 'node:crypto'
import { Sha256 } from '@aws-crypto/sha256-js'
import { SignatureV4 } from '@smithy/signature-v4'
import { SIGNATURE_HEADER, TOKEN_HEADER } from '../../shared/http/webhook-auth'

/**
 * The end-to-end check `npm run setup` finishes with: a signed synthetic event sent through the
 * webhook endpoint, then `GET /status` (SigV4) until the webhook counters show it was stored. The
 * event type is one PartnerOps does not know, so it is stored and counted but changes no client or
 * channel. The same code runs against the local runner (test/integration/setup) with the local pair.
 */

/** The synthetic event's type: unknown to PartnerOps on purpose (stored, counted, applied to nothing). */
export const SELF_TEST_EVENT = 'partnerops_setup_self_test'

export interface SelfTestTarget {
  /** The deployed webhook URL (output WebhookUrl). */
  webhookUrl: string
  /** The API base URL (output ApiUrl), ending in the stage, e.g. https://…/v1/ */
  apiUrl: string
  /** The Platform Secret (the first one, during a rotation). */
  platformSecret: string
  /** The webhook token, when the deployment requires x-webhook-token. */
  webhookToken?: string
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  region: string
}

export interface SelfTestOptions {
  fetch?: typeof fetch
  /** How long to wait for the status counters (ms). */
  timeoutMs?: number
  pollMs?: number
  now?: () => Date
}

export interface SelfTestResult {
  eventId: string
  webhookStatus: number
  receivedBefore: number
  receivedAfter: number
}

/** Thrown when the self-test fails; the message says which step and what was answered. */
export class SelfTestError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SelfTestError'
  }
}

async function signedGet(target: SelfTestTarget, url: URL, doFetch: typeof fetch): Promise<Response> {
  const query: Record<string, string> = {}
  for (const [k, v] of url.searchParams) query[k] = v
  const signer = new SignatureV4({
    credentials: target.credentials,
    region: target.region,
    service: 'execute-api',
    sha256: Sha256,
  })
  const signed = await signer.sign({
    method: 'GET',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { host: url.host },
  })
  return doFetch(url, { method: 'GET', headers: signed.headers as Record<string, string> })
}

async function receivedCount(target: SelfTestTarget, doFetch: typeof fetch): Promise<number> {
  const url = new URL('status', target.apiUrl.endsWith('/') ? target.apiUrl : `${target.apiUrl}/`)
  const res = await signedGet(target, url, doFetch)
  if (res.status !== 200) {
    const hint =
      res.status === 403 || res.status === 401
        ? ' (these credentials may not call GET /status: use the deploying identity or attach the ReadOnly policy)'
        : ''
    throw new SelfTestError(`GET /status answered ${res.status}${hint}`)
  }
  const body = (await res.json()) as { webhooks?: { received?: number } }
  const received = body.webhooks?.received
  if (typeof received !== 'number') throw new SelfTestError('GET /status has no webhooks.received count')
  return received
}

/** Sends one signed synthetic event and waits until GET /status counts it as received. */
export async function selfTest(target: SelfTestTarget, opts: SelfTestOptions = {}): Promise<SelfTestResult> {
  const doFetch = opts.fetch ?? fetch
  const now = opts.now ?? (() => new Date())
  const timeoutMs = opts.timeoutMs ?? 60_000
  const pollMs = opts.pollMs ?? 2_000
  const before = await receivedCount(target, doFetch)

  const eventId = `partnerops-setup-${randomUUID()}`
  const body = JSON.stringify({
    id: eventId,
    event: SELF_TEST_EVENT,
    timestamp: now().toISOString(),
    data: { note: 'synthetic event sent by npm run setup to check the webhook path' },
  })
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    [SIGNATURE_HEADER]: createHmac('sha256', target.platformSecret).update(body).digest('hex'),
  }
  if (target.webhookToken) headers[TOKEN_HEADER] = target.webhookToken
  const res = await doFetch(target.webhookUrl, { method: 'POST', headers, body })
  if (res.status !== 200) {
    const hint =
      res.status === 401
        ? ' (the stored Platform Secret or webhook token does not match what was used to sign)'
        : ''
    throw new SelfTestError(`the webhook endpoint answered ${res.status}${hint}`)
  }

  const deadline = Date.now() + timeoutMs
  for (;;) {
    const after = await receivedCount(target, doFetch)
    if (after >= before + 1)
      return { eventId, webhookStatus: res.status, receivedBefore: before, receivedAfter: after }
    if (Date.now() >= deadline) {
      throw new SelfTestError(
        `the webhook answered 200 but GET /status still counts ${after} received events (was ${before}) after ${Math.round(timeoutMs / 1000)} s`,
      )
    }
    await new Promise((r) => setTimeout(r, pollMs))
  }
}

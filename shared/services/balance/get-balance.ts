import { randomUUID } from 'node:crypto'
import type { AppDeps } from '../../deps'
import {
  type ErrorCode,
  NotFoundError,
  PartnerOpsError,
  UpstreamError,
  upstreamMessageOf,
} from '../../domain/errors'
import type { CallSlot } from '../../ports'

/** At most one upstream balance call per client per this window (the endpoint allows 5 per 30 s). */
export const BALANCE_WINDOW_MS = 30_000
/** Name of the balance cache's call slots in the ops table. */
export const BALANCE_SLOT = 'balance'
/** How often a caller waiting for another caller's upstream call re-reads the slot. */
const POLL_MS = 100
/** How long a caller waits past the upstream timeout for another caller's call before giving up. */
const WAIT_SLACK_MS = 2_000

/** `GET /clients/{clientId}/balance`. */
export interface BalanceView {
  clientId: string
  balance: number
  currency: string
  /** The last renewal of a direct-payment client's balance, when upstream reports one. */
  lastRenewal: { date: string | null; amount: number | null } | null
  /** When the Partner API answered this balance. */
  fetchedAt: string
}

/** What the balance read needs. */
export type BalanceDeps = Pick<AppDeps, 'config' | 'store' | 'partnerApi' | 'clock' | 'logger'>

/** Options (tests and the benchmark). */
export interface BalanceOptions {
  /** Owner id of a slot this caller takes (default: a random UUID). */
  owner?: string
  sleep?: (ms: number) => Promise<void>
}

/** An upstream failure as kept in the slot for the callers of its window: code, status, message. */
interface StoredFailure {
  code: ErrorCode
  upstreamStatus: number
  message: string
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function secondsUntil(at: number, now: number): number {
  return Math.max(1, Math.ceil((at - now) / 1000))
}

/** The failure a caller sees, for the whole window: never sooner than the next call can happen. */
function failureError(f: StoredFailure, nextCallAt: number, now: number): UpstreamError {
  return new UpstreamError(f.message, {
    code: f.code,
    upstreamStatus: f.upstreamStatus,
    retryable: f.code !== 'upstream_rejected' && f.code !== 'upstream_invalid_response',
    retryAfterSeconds: secondsUntil(nextCallAt, now),
  })
}

/**
 * What to keep of an upstream failure: upstream's refusal (a 4xx) is passed on with its own message
 * (502); a 429 is `upstream_rate_limited` (503); anything else keeps its code with a fixed message
 * (503s say nothing internal anyway).
 */
function storedFailure(err: unknown): StoredFailure {
  if (err instanceof UpstreamError) {
    if (err.code === 'upstream_rate_limited') {
      return { code: err.code, upstreamStatus: 429, message: 'The Partner API rate-limited the balance call' }
    }
    if (!err.retryable && err.code === 'upstream_rejected') {
      return {
        code: 'upstream_rejected',
        upstreamStatus: err.upstreamStatus,
        message: `The Partner API refused the balance call: ${upstreamMessageOf(err)}`,
      }
    }
    return {
      code: err.code,
      upstreamStatus: err.upstreamStatus,
      message: 'The Partner API balance call failed',
    }
  }
  if (err instanceof PartnerOpsError) return { code: err.code, upstreamStatus: 0, message: err.message }
  return { code: 'upstream_unavailable', upstreamStatus: 0, message: 'The Partner API balance call failed' }
}

function parseOutcome(slot: CallSlot): BalanceView | StoredFailure | null {
  if (slot.outcome === null) return null
  try {
    return JSON.parse(slot.outcome) as BalanceView | StoredFailure
  } catch {
    return null
  }
}

/**
 * Reads in flight per function instance and client: concurrent callers in one process (the local
 * runner serves every request from one process; a Lambda instance serves one at a time) share one
 * read of the slot instead of each polling DynamoDB. Keyed by the instance's deps object.
 */
const inFlight = new WeakMap<object, Map<string, Promise<BalanceView>>>()

/**
 * A client's balance from the Partner API, cached in the ops table so that at most one upstream call
 * per client is made per {@link BALANCE_WINDOW_MS}, whatever the number of callers and Lambda
 * instances (README, "Balance and partner settings").
 *
 * The cache is a call slot: one item per client. A caller that finds a slot still inside its window
 * answers from it (the balance, or the failure with `Retry-After` until the window ends). Otherwise it
 * tries to take the slot with one conditional write; exactly one caller wins, makes the one upstream
 * call (a single attempt: the endpoint's limit is 5 per 30 s) and stores the outcome; the others read
 * the slot every 100 ms until the outcome is there (bounded by the upstream timeout). An upstream 429
 * keeps the slot closed until upstream's `Retry-After` too. The slot is taken for the whole window
 * before the call, so a call that fails or whose caller dies still counts: the limit holds.
 *
 * Concurrent callers of one instance share one such read (single flight per process).
 *
 * Unknown client (not in state) → NotFoundError, nothing sent upstream.
 */
export function getBalance(
  deps: BalanceDeps,
  clientId: string,
  opts: BalanceOptions = {},
): Promise<BalanceView> {
  let flights = inFlight.get(deps)
  if (!flights) {
    flights = new Map()
    inFlight.set(deps, flights)
  }
  const joined = flights.get(clientId)
  if (joined) return joined
  const own = flights
  const read = readBalance(deps, clientId, opts).finally(() => own.delete(clientId))
  own.set(clientId, read)
  return read
}

/** One caller's read of the slot (and, when it takes the slot, the upstream call). */
async function readBalance(deps: BalanceDeps, clientId: string, opts: BalanceOptions): Promise<BalanceView> {
  const { store, clock } = deps
  if (!(await store.clients.get(clientId))) {
    throw new NotFoundError(`Client ${clientId} not found`, { code: 'client_not_found' })
  }
  const sleep = opts.sleep ?? defaultSleep
  const owner = opts.owner ?? randomUUID()
  const deadline = clock.now().getTime() + deps.config.UPSTREAM_TIMEOUT_MS + WAIT_SLACK_MS
  for (;;) {
    const now = clock.now().getTime()
    const slot = await store.ops.getCallSlot(BALANCE_SLOT, clientId)
    if (slot && slot.nextCallAt > now) {
      const outcome = slot.state === 'pending' ? null : parseOutcome(slot)
      if (outcome && slot.state === 'ok') return outcome as BalanceView
      if (outcome && slot.state === 'error')
        throw failureError(outcome as StoredFailure, slot.nextCallAt, now)
      // Another caller's call is in flight (or its holder died; then the window runs out).
      if (now >= deadline) {
        throw new UpstreamError('The balance is still being fetched', {
          code: 'upstream_unavailable',
          upstreamStatus: 0,
          retryable: true,
          retryAfterSeconds: 1,
        })
      }
      await sleep(POLL_MS)
      continue
    }
    if (await store.ops.takeCallSlot(BALANCE_SLOT, clientId, owner, new Date(now), now + BALANCE_WINDOW_MS)) {
      return callAndSettle(deps, clientId, owner, now)
    }
    // Someone else took it between the read and the write: read their slot.
  }
}

/** The one upstream call of a window, its outcome stored for everyone else. */
async function callAndSettle(
  deps: BalanceDeps,
  clientId: string,
  owner: string,
  takenAt: number,
): Promise<BalanceView> {
  const { store, partnerApi, clock, logger } = deps
  const windowEnd = takenAt + BALANCE_WINDOW_MS
  const settle = async (state: 'ok' | 'error', outcome: unknown, nextCallAt: number): Promise<void> => {
    try {
      const held = await store.ops.settleCallSlot(BALANCE_SLOT, clientId, owner, {
        state,
        outcome: JSON.stringify(outcome),
        nextCallAt,
      })
      if (!held) logger.warn('balance slot lost before its outcome was stored', { clientId })
    } catch (err: unknown) {
      // This caller still has its answer; the others wait for the window to end.
      logger.warn('balance outcome not stored', {
        clientId,
        error: err instanceof Error ? err.name : 'unknown',
      })
    }
  }
  try {
    const up = await partnerApi.getClientBalance(clientId)
    const view: BalanceView = {
      clientId,
      balance: up.balance,
      currency: up.currency,
      lastRenewal: up.last_renewal
        ? { date: up.last_renewal.date ?? null, amount: up.last_renewal.amount ?? null }
        : null,
      fetchedAt: clock.now().toISOString(),
    }
    await settle('ok', view, windowEnd)
    return view
  } catch (err: unknown) {
    const now = clock.now().getTime()
    const failure = storedFailure(err)
    // Upstream's own Retry-After can be longer than our window: no call before it either.
    const upstreamWait =
      err instanceof UpstreamError && err.code === 'upstream_rate_limited' && err.retryAfterSeconds
        ? now + err.retryAfterSeconds * 1000
        : 0
    const nextCallAt = Math.max(windowEnd, upstreamWait)
    await settle('error', failure, nextCallAt)
    throw failureError(failure, nextCallAt, now)
  }
}

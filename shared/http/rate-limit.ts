import { isIP } from 'node:net'
import type { APIGatewayProxyEvent } from 'aws-lambda'
import type { AppDeps } from '../deps'

/** One per-source limit: at most `limit` requests per fixed window of `windowMs`. */
export interface SourceLimit {
  /** Names the budget (e.g. `onboarding-callback`), so that routes do not share one. */
  scope: string
  limit: number
  windowMs: number
}

/** The verdict of {@link consumeSourceBudget}. */
export interface SourceBudget {
  allowed: boolean
  retryAfterSeconds: number
  /** The normalized source the budget was counted against. */
  source: string
}

/**
 * The caller's source address as API Gateway saw it (`requestContext.identity.sourceIp`; the local
 * server fills it from the socket), normalized for rate limiting: IPv4-mapped IPv6 becomes IPv4 and
 * IPv6 is reduced to its /64 (one subscriber usually holds a whole /64). Anything else is `unknown`,
 * one shared bucket.
 */
export function sourceAddress(event: Pick<APIGatewayProxyEvent, 'requestContext'>): string {
  const raw = event.requestContext?.identity?.sourceIp
  if (typeof raw !== 'string') return 'unknown'
  const ip = raw.trim().toLowerCase()
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip)
  if (mapped?.[1] && isIP(mapped[1]) === 4) return mapped[1]
  const kind = isIP(ip)
  if (kind === 4) return ip
  if (kind === 6) return `${ipv6Prefix64(ip)}::/64`
  return 'unknown'
}

function ipv6Prefix64(ip: string): string {
  const [head = '', tail] = ip.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  // An embedded IPv4 tail only affects the low 64 bits, which are dropped anyway.
  const groups =
    tail === undefined
      ? left
      : [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return groups
    .slice(0, 4)
    .map((g) => (g.includes('.') ? '0' : Number.parseInt(g || '0', 16).toString(16)))
    .join(':')
}

/**
 * Consumes one unit of the source's budget (fixed window in the store, so every Lambda instance
 * shares it), and returns the verdict with the source it counted.
 */
export async function consumeSourceBudget(
  deps: Pick<AppDeps, 'store' | 'clock'>,
  source: string,
  limit: SourceLimit,
): Promise<SourceBudget> {
  const verdict = await deps.store.ops.consumeBudget(
    `ratelimit#${limit.scope}#${source}`,
    deps.clock.now(),
    limit.windowMs,
    limit.limit,
  )
  return { ...verdict, source }
}

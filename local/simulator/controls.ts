import { notFound, wrongPayload } from './errors'
import type { Reply } from './http'
import { grantedFlag, paymentModeOf } from './keys'
import type { Simulator } from './server'
import type { GenerateOptions, OnboardOptions } from './state'
import type { ChannelPartial, ClientPartial, Faults } from './types'
import { isPlainObject } from './util'

/** One `/_sim` control route, for the index at `GET /_sim`. */
export interface ControlRoute {
  method: string
  path: string
  meaning: string
}

/** Every test control, in the order `GET /_sim` lists them. */
export const CONTROL_ROUTES: readonly ControlRoute[] = [
  { method: 'GET', path: '/_sim', meaning: 'this index (HTML for a browser, JSON otherwise)' },
  { method: 'POST', path: '/_sim/clients', meaning: 'add a client (partial object; the rest gets defaults)' },
  { method: 'POST', path: '/_sim/channels', meaning: 'add a channel (partial object with client_id)' },
  {
    method: 'PATCH',
    path: '/_sim/clients/{id}',
    meaning: 'deep-merge a patch into a client (e.g. its organisation), bump modified_at, no webhook',
  },
  {
    method: 'PATCH',
    path: '/_sim/channels/{id}',
    meaning: 'deep-merge a patch into a channel, bump modified_at',
  },
  { method: 'DELETE', path: '/_sim/channels/{id}', meaning: 'delete a channel upstream without a webhook' },
  {
    method: 'POST',
    path: '/_sim/channels/{id}/advance',
    meaning: 'move a channel one lifecycle step and deliver the matching webhook',
  },
  {
    method: 'POST',
    path: '/_sim/onboard',
    meaning:
      '{partner_payload?, channels?, name?}: a new client with draft channels (client_created, channel_created)',
  },
  {
    method: 'POST',
    path: '/_sim/generate',
    meaning: '{clients, channelsPerClient?, channels?}: bulk data for benchmarks',
  },
  { method: 'POST', path: '/_sim/tick', meaning: 'one demo-mode step now' },
  {
    method: 'POST',
    path: '/_sim/channels/{id}/permission',
    meaning:
      '{granted}: the client grants (channel_permission_granted) or withdraws (channel_permission_revoked, keys revoked) API-key permission',
  },
  {
    method: 'POST',
    path: '/_sim/clients/{id}/payment',
    meaning: '{mode: partner|direct}: Direct Payment clients must grant API-key permission per channel',
  },
  { method: 'GET', path: '/_sim/keys', meaning: 'how many channel API keys were created, per channel' },
  {
    method: 'GET',
    path: '/_sim/faults',
    meaning: 'the injected faults',
  },
  {
    method: 'POST',
    path: '/_sim/faults',
    meaning: '{latencyMs, errorRate, rateLimitPerMinute, dropAfterCommitRate}; {} clears',
  },
  { method: 'GET', path: '/_sim/requests', meaning: 'every Partner API request received' },
  { method: 'DELETE', path: '/_sim/requests', meaning: 'clear the request log' },
  { method: 'GET', path: '/_sim/deliveries', meaning: 'the webhook delivery log' },
  { method: 'POST', path: '/_sim/reset', meaning: 'back to the seed data, no faults, empty logs' },
  {
    method: 'GET',
    path: '/dashboard/app/{partnerId}/permissions',
    meaning: 'the Hub permission page an onboarding link opens (grant → client, channels, redirect)',
  },
]

function objectBody(body: unknown): Record<string, unknown> {
  if (body === undefined) return {}
  if (!isPlainObject(body)) throw wrongPayload('body: must be a JSON object')
  return body
}

/** Reads `{partner_payload?, channels?, name?}` of an onboarding, refusing wrong types. */
export function onboardOptions(o: Record<string, unknown>): OnboardOptions {
  const opts: OnboardOptions = {}
  const problems: string[] = []
  if (o['partner_payload'] !== undefined) {
    if (typeof o['partner_payload'] === 'string') opts.partner_payload = o['partner_payload']
    else problems.push('partner_payload: must be a string')
  }
  if (o['name'] !== undefined) {
    if (typeof o['name'] === 'string') opts.name = o['name']
    else problems.push('name: must be a string')
  }
  if (o['channels'] !== undefined) {
    const n = typeof o['channels'] === 'string' ? Number(o['channels']) : o['channels']
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) opts.channels = n
    else problems.push('channels: must be a non-negative integer')
  }
  if (problems.length > 0) throw wrongPayload(...problems)
  return opts
}

/**
 * The `/_sim` test controls (never part of the Partner API, no auth, no faults). `seg` are the
 * decoded path segments after `_sim`. Errors are thrown as SimApiError and answered as `meta` bodies.
 */
export async function controlRoute(
  sim: Simulator,
  method: string,
  seg: readonly string[],
  body: unknown,
): Promise<Reply> {
  const [a, b, c] = seg
  if (a === 'clients' && seg.length === 1 && method === 'POST') {
    return { status: 201, body: sim.addClient(objectBody(body) as ClientPartial) }
  }
  if (a === 'channels' && seg.length === 1 && method === 'POST') {
    const partial = objectBody(body)
    if (typeof partial['client_id'] !== 'string') throw wrongPayload('client_id: required')
    return { status: 201, body: sim.addChannel(partial as ChannelPartial) }
  }
  if (a === 'channels' && b !== undefined && seg.length === 3 && c === 'permission' && method === 'POST') {
    return { status: 200, body: await sim.setPermission(b, grantedFlag(body)) }
  }
  if (a === 'clients' && b !== undefined && seg.length === 3 && c === 'payment' && method === 'POST') {
    sim.setPaymentMode(b, paymentModeOf(body))
    return { status: 204 }
  }
  if (a === 'keys' && seg.length === 1 && method === 'GET') {
    return { status: 200, body: { created: sim.keys.createdCount() } }
  }
  if (a === 'channels' && b !== undefined && seg.length === 3 && c === 'advance' && method === 'POST') {
    return { status: 200, body: await sim.advance(b) }
  }
  if (a === 'clients' && b !== undefined && seg.length === 2 && method === 'PATCH') {
    return { status: 200, body: sim.mutateClient(b, objectBody(body)) }
  }
  if (a === 'channels' && b !== undefined && seg.length === 2) {
    if (method === 'PATCH') return { status: 200, body: sim.mutateChannel(b, objectBody(body)) }
    if (method === 'DELETE') {
      sim.removeChannel(b)
      return { status: 204 }
    }
  }
  if (a === 'faults' && seg.length === 1) {
    if (method === 'GET') return { status: 200, body: sim.faults() }
    if (method === 'POST') {
      sim.setFaults(objectBody(body) as Faults)
      return { status: 200, body: sim.faults() }
    }
  }
  if (a === 'requests' && seg.length === 1) {
    if (method === 'GET') return { status: 200, body: sim.requests() }
    if (method === 'DELETE') {
      sim.clearRequests()
      return { status: 204 }
    }
  }
  if (a === 'deliveries' && seg.length === 1 && method === 'GET')
    return { status: 200, body: sim.deliveries() }
  if (a === 'reset' && seg.length === 1 && method === 'POST') {
    sim.reset()
    return { status: 200, body: { status: 'reset' } }
  }
  if (a === 'onboard' && seg.length === 1 && method === 'POST') {
    return { status: 201, body: await sim.onboard(onboardOptions(objectBody(body))) }
  }
  if (a === 'generate' && seg.length === 1 && method === 'POST') {
    const o = objectBody(body)
    const clients = Number(o['clients'] ?? 0)
    const gen: GenerateOptions = { clients }
    if (o['channelsPerClient'] !== undefined) gen.channelsPerClient = Number(o['channelsPerClient'])
    if (o['channels'] !== undefined) gen.channels = Number(o['channels'])
    if (
      ![clients, gen.channelsPerClient ?? 0, gen.channels ?? 0].every((n) => Number.isInteger(n) && n >= 0)
    ) {
      throw wrongPayload('clients, channelsPerClient, channels: non-negative integers')
    }
    return { status: 200, body: sim.generate(gen) }
  }
  if (a === 'tick' && seg.length === 1 && method === 'POST') {
    await sim.tick()
    return { status: 200, body: { status: 'ticked' } }
  }
  throw notFound('Not found')
}

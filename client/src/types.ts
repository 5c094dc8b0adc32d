import type { components, operations } from './openapi-types'

/**
 * The API's types, taken from docs/openapi.yaml through the generated `openapi-types.ts`
 * (`npm run types -w @partnerops/client` regenerates it; a test fails when it is out of step).
 */
type Schemas = components['schemas']
type JsonOf<R> = R extends { content: { 'application/json': infer T } } ? T : never

export type Id = Schemas['Id']
export type Lifecycle = Schemas['Lifecycle']
export type Client = Schemas['Client']
export type ClientWithChannels = Schemas['ClientWithChannels']
export type Channel = Schemas['Channel']
export type Cancellation = Schemas['Cancellation']
export type Status = Schemas['Status']
export type LifecycleCounts = Schemas['LifecycleCounts']
export type ErrorBody = Schemas['Error']

/** One page of a list route. */
export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

type ListClientsQuery = NonNullable<operations['listClients']['parameters']['query']>
type ListChannelsQuery = NonNullable<operations['listChannels']['parameters']['query']>

/** Filters of `GET /clients` (page size `limit`, 1–100; `cursor` to start from; `q` searches). */
export type ClientFilters = ListClientsQuery

/** Quality ratings the channel filter takes. */
export type Quality = NonNullable<ListChannelsQuery['quality']>

/** Filters of `GET /channels` (quality, messagingLimit, accountMode, health, q …); they combine with AND. */
export type ChannelFilters = ListChannelsQuery

export type ClientSettings = JsonOf<operations['patchClient']['requestBody']>
export type OnboardingLinkRequest = JsonOf<operations['createOnboardingLink']['requestBody']>
export type OnboardingLink = JsonOf<operations['createOnboardingLink']['responses'][200]>
export type CancellationRequest = Schemas['CancellationBody']

/** `GET /clients/{clientId}/balance`: the client's balance from the Partner API (cached ≤ 30 s). */
export type Balance = Schemas['Balance']
/** One URL 360dialog has on file against the one this deployment expects. */
export type UrlCheck = Schemas['UrlCheck']
/** `GET /partner`: the partner's settings at 360dialog against this deployment's. */
export type PartnerSettings = Schemas['PartnerSettings']

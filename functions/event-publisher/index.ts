import { loadConfig } from '../../shared/env'
import { wireFunction } from '../../shared/wiring/core'
import { events } from '../../shared/wiring/events'
import { buildEventPublisherHandler } from './handler'

/** Lambda entry of the change-event publisher (the state tables' DynamoDB streams): wired once per cold start. */
export const handler = buildEventPublisherHandler(wireFunction('eventPublisher', loadConfig(), { events }))

import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildEventPublisherHandler } from './handler'

/** Lambda entry of the change-event publisher (the state tables' DynamoDB streams): wired once per cold start. */
export const handler = buildEventPublisherHandler(createAppDeps(loadConfig(), 'event-publisher'))

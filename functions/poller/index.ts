import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildPollerHandler } from './handler'

/** Lambda entry of the reconciliation poller (EventBridge Scheduler target). */
export const handler = buildPollerHandler(createAppDeps(loadConfig(), 'poller'))

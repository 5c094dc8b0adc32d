import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildApiHandler } from './handler'

/** Lambda entry of the management API function: dependencies wired once per cold start. */
export const handler = buildApiHandler(createAppDeps(loadConfig(), 'api'))

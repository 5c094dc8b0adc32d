import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildExportHandler } from './handler'

/**
 * Lambda entry of the export function: dependencies wired once per cold start. The handler is a
 * response-streaming one (middy `streamifyResponse`, the runtime's `awslambda.streamifyResponse`).
 */
export const handler = buildExportHandler(createAppDeps(loadConfig(), 'export'))

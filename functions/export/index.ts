import { loadConfig } from '../../shared/env'
import { wireFunction } from '../../shared/wiring/core'
import { buildExportHandler } from './handler'

/**
 * Lambda entry of the export function: the base parts only (FUNCTIONS.export.adapters is empty),
 * wired once per cold start. The handler is a response-streaming one (middy `streamifyResponse`, the
 * runtime's `awslambda.streamifyResponse`).
 */
export const handler = buildExportHandler(wireFunction('export', loadConfig(), {}))

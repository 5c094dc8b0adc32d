import type { Logger } from '@aws-lambda-powertools/logger'
import type middy from '@middy/core'
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda'
import { PartnerOpsError } from '../domain/errors'
import { errorAnswer } from './answers'

/**
 * The HTTP error handler, registered last in every HTTP function's middy chain: it turns a thrown
 * error into its answer (./answers.ts) and logs 5xx (with the error, never the request body).
 */
export function httpErrorHandler(
  logger: Logger,
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      const err = request.error
      const response = errorAnswer(err)
      if (response.statusCode >= 500) {
        logger.error('request failed', { error: err, status: response.statusCode })
      } else if (err instanceof PartnerOpsError) {
        logger.info('request refused', { code: err.code, status: response.statusCode })
      }
      request.response = response
    },
  }
}

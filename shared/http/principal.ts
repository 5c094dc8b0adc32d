import type { APIGatewayProxyEvent } from 'aws-lambda'
import { UnauthorizedError } from '../domain/errors'

// IAM ARNs are at most 2048 characters; anything longer or with control characters is not one.
const PRINCIPAL = /^[\x21-\x7e]{1,2048}$/

/**
 * The caller's principal of a SigV4-authenticated management request: the IAM ARN that API Gateway
 * (AWS_IAM auth) or the local server put in `requestContext.identity.userArn`. Fails closed: a
 * request without one never reaches a service.
 */
export function principalFromEvent(event: APIGatewayProxyEvent): string {
  const arn = event.requestContext?.identity?.userArn
  if (typeof arn !== 'string' || !PRINCIPAL.test(arn)) {
    throw new UnauthorizedError('The request carries no authenticated principal')
  }
  return arn
}

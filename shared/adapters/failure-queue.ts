import type { SQSClient } from '@aws-sdk/client-sqs'
import { DependencyUnavailableError, errorName } from '../domain/errors'
import type { FailureQueue } from '../ports'

/**
 * The change-event publisher's on-failure queue in SQS: its depth is ApproximateNumberOfMessages
 * (visible messages; each is one batch of stream records the publisher gave up on). Only GET /status
 * reads it, so the SDK module is loaded, and the client built, on the first read (a dynamic import).
 */
export function createSqsFailureQueue(opts: { queueUrl: string; client?: SQSClient }): FailureQueue {
  let client: SQSClient | undefined = opts.client
  return {
    async depth() {
      try {
        const { GetQueueAttributesCommand, SQSClient } = await import('./sdk/sqs')
        client ??= new SQSClient({})
        const out = await client.send(
          new GetQueueAttributesCommand({
            QueueUrl: opts.queueUrl,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        )
        return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0)
      } catch (err) {
        throw new DependencyUnavailableError(`SQS GetQueueAttributes failed (${errorName(err)})`, {
          cause: err,
        })
      }
    },
  }
}

/** No queue configured (tests, a local runner without the change stream): the depth is unknown. */
export const noFailureQueue: FailureQueue = { depth: async () => null }

import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'
import { createSqsFailureQueue } from '../../../shared/adapters/failure-queue'
import { DependencyUnavailableError } from '../../../shared/domain/errors'

const sqs = mockClient(SQSClient)
afterEach(() => sqs.reset())

describe('SQS failure queue', () => {
  it('reads the depth as ApproximateNumberOfMessages, building its client on the first read', async () => {
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } })
    // No client given: the adapter loads the SDK and builds its own on first use (the mock patches it).
    const queue = createSqsFailureQueue({ queueUrl: 'https://sqs.example/q' })
    expect(sqs.commandCalls(GetQueueAttributesCommand)).toHaveLength(0)
    expect(await queue.depth()).toBe(3)
    expect(await queue.depth()).toBe(3)
    expect(sqs.commandCalls(GetQueueAttributesCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: 'https://sqs.example/q', AttributeNames: ['ApproximateNumberOfMessages'] },
      { QueueUrl: 'https://sqs.example/q', AttributeNames: ['ApproximateNumberOfMessages'] },
    ])
  })

  it('answers a failed call as the dependency being unavailable', async () => {
    sqs.on(GetQueueAttributesCommand).rejects(new Error('AccessDenied'))
    const queue = createSqsFailureQueue({ queueUrl: 'https://sqs.example/q' })
    await expect(queue.depth()).rejects.toBeInstanceOf(DependencyUnavailableError)
  })
})

import { createSqsFailureQueue, noFailureQueue } from '../adapters/failure-queue'
import type { AdapterBuilder } from './core'

/** `failureQueue`: the change-event failure queue in SQS (its client is loaded on the first read). */
export const failureQueue: AdapterBuilder<'failureQueue'> = ({ config }) =>
  config.CHANGE_FAILURES_QUEUE_URL
    ? createSqsFailureQueue({ queueUrl: config.CHANGE_FAILURES_QUEUE_URL })
    : noFailureQueue

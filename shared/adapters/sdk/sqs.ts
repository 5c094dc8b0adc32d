// Loaded with a dynamic import by ../failure-queue.ts, so that the SQS client is evaluated on first use
// only. A module of its own, because a dynamic import keeps every export of what it names: importing the
// package itself would keep all of its commands in the bundle.
export { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs'

import type { DynamoDBStreamEvent } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { createStreamQueue } from '../../../local/stream-queue'

function queue(held: boolean) {
  const seen: string[][] = []
  const q = createStreamQueue({
    handler: async (event: DynamoDBStreamEvent) => {
      seen.push(event.Records.map((r) => r.dynamodb?.Keys?.eventKey?.S ?? ''))
      return { batchItemFailures: [] }
    },
    keyAttribute: 'eventKey',
    eventSourceARN: 'arn:local',
    concurrency: 2,
    batchSize: 2,
    held,
  })
  return { q, seen }
}

describe('local stream stand-in', () => {
  it('hands inserted keys to the handler in batches as KEYS_ONLY INSERT records', async () => {
    const { q, seen } = queue(false)
    for (const k of ['a', 'b', 'c']) q.push(k)
    await q.settle()
    expect(seen.flat().sort()).toEqual(['a', 'b', 'c'])
    expect(Math.max(...seen.map((b) => b.length))).toBeLessThanOrEqual(2)
  })

  it('holds records until settle() when asked to, then delivers all of them', async () => {
    const { q, seen } = queue(true)
    for (const k of ['a', 'b', 'c']) q.push(k)
    await new Promise((r) => setTimeout(r, 20))
    expect(seen).toEqual([])
    await q.settle()
    expect(seen.flat().sort()).toEqual(['a', 'b', 'c'])
    await q.close()
  })
})

import type { DynamoDBStreamEvent } from 'aws-lambda'
import { describe, expect, it } from 'vitest'
import { createStreamQueue } from '../../../local/stream-queue'

const item = (key: string) => ({ key, newImage: { eventKey: { S: key }, body: { S: `{"k":"${key}"}` } } })

function queue(held: boolean) {
  const seen: string[][] = []
  const images: unknown[] = []
  const q = createStreamQueue({
    handler: async (event: DynamoDBStreamEvent) => {
      seen.push(event.Records.map((r) => r.dynamodb?.Keys?.eventKey?.S ?? ''))
      for (const r of event.Records) {
        images.push({ name: r.eventName, view: r.dynamodb?.StreamViewType, image: r.dynamodb?.NewImage })
      }
      return { batchItemFailures: [] }
    },
    keyAttribute: 'eventKey',
    eventSourceARN: 'arn:local',
    concurrency: 2,
    batchSize: 2,
    held,
  })
  return { q, seen, images }
}

describe('local stream stand-in', () => {
  it('hands inserted items to the handler in batches as NEW_IMAGE INSERT records', async () => {
    const { q, seen, images } = queue(false)
    for (const k of ['a', 'b', 'c']) q.push(item(k))
    await q.settle()
    expect(seen.flat().sort()).toEqual(['a', 'b', 'c'])
    expect(Math.max(...seen.map((b) => b.length))).toBeLessThanOrEqual(2)
    expect(images).toContainEqual({ name: 'INSERT', view: 'NEW_IMAGE', image: item('b').newImage })
  })

  it('holds records until settle() when asked to, then delivers all of them', async () => {
    const { q, seen } = queue(true)
    for (const k of ['a', 'b', 'c']) q.push(item(k))
    await new Promise((r) => setTimeout(r, 20))
    expect(seen).toEqual([])
    await q.settle()
    expect(seen.flat().sort()).toEqual(['a', 'b', 'c'])
    await q.close()
  })
})

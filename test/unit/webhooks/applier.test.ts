import { describe, expect, it, vi } from 'vitest'
import { WEBHOOK_METRICS } from '../../../shared/services/webhooks/apply-pending-event'
import {
  bodyOf,
  createHarness,
  FIXTURE_EVENTS,
  type Harness,
  insertRecord,
  lambdaContext,
  streamEvent,
} from './support'

const fixture = (name: string): string => JSON.stringify(FIXTURE_EVENTS[name])

async function stored(h: Harness, names: string[]): Promise<string[]> {
  const keys: string[] = []
  for (const name of names) keys.push(bodyOf(await h.post(fixture(name))).eventKey as string)
  return keys
}

describe('webhook applier (DynamoDB stream consumer)', () => {
  it('applies every INSERT of a batch, counts the outcomes in one write and emits their metrics', async () => {
    const h = createHarness()
    const metric = vi.spyOn(h.deps.metrics, 'addMetric')
    const keys = await stored(h, ['channel_live', 'waba_template_status_changed', 'channel_running'])
    const writes = h.store.stats.writes
    expect(await h.stream(keys)).toEqual({ batchItemFailures: [] })
    expect(h.store.allEvents().map((e) => [e.eventKey, e.status])).toEqual([
      ['id:evt_06', 'applied'],
      [keys[1], 'unknown_type'],
      ['id:evt_05', 'stale'],
    ])
    // two channel facts (one written, the stale one refused: no reads), three outcomes, one counter write
    expect(h.store.stats.writes - writes).toBe(6)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({
      received: 3,
      applied: 1,
      unknown: 1,
      stale: 1,
    })
    expect(metric).toHaveBeenCalledWith(WEBHOOK_METRICS.applied, 'Count', 1)
    expect(metric).toHaveBeenCalledWith(WEBHOOK_METRICS.unknown, 'Count', 1)
    expect(metric).toHaveBeenCalledWith(WEBHOOK_METRICS.stale, 'Count', 1)
  })

  it('reports only the records it could not complete, by sequence number, and completes them on retry', async () => {
    const h = createHarness()
    const keys = await stored(h, ['channel_created', 'channel_live', 'client_created'])
    const batch = streamEvent([
      { ...insertRecord(h.store, keys[0] as string), sequence: '100' },
      { ...insertRecord(h.store, keys[1] as string), sequence: '200' },
      { ...insertRecord(h.store, keys[2] as string), sequence: '300' },
    ])
    const realWrite = h.store.channels.writeFact.bind(h.store.channels)
    vi.spyOn(h.store.channels, 'writeFact').mockImplementation(async (channel, spec) => {
      if (channel.channelId === 'Pq7Wx2CH') throw new Error('throttled')
      return realWrite(channel, spec)
    })
    expect(await h.applier(batch, lambdaContext())).toEqual({
      batchItemFailures: [{ itemIdentifier: '200' }],
    })
    expect(h.store.allEvents().map((e) => e.status)).toEqual(['applied', 'pending', 'applied'])
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 2, applied: 2 })

    // The stream retries from the failed record; what was completed is skipped, not applied twice.
    vi.restoreAllMocks()
    const published = h.changes().length
    const retry = streamEvent([
      { ...insertRecord(h.store, keys[1] as string), sequence: '200' },
      { ...insertRecord(h.store, keys[2] as string), sequence: '300' },
    ])
    expect(await h.applier(retry, lambdaContext())).toEqual({ batchItemFailures: [] })
    expect(h.store.allEvents().map((e) => e.status)).toEqual(['applied', 'applied', 'applied'])
    expect(h.changes().length - published).toBe(1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 3, applied: 3 })
  })

  it('reports every record of a key that failed, when the key appears more than once', async () => {
    const h = createHarness()
    const [key] = await stored(h, ['channel_live'])
    vi.spyOn(h.store.events, 'get').mockRejectedValue(new Error('unavailable'))
    const batch = streamEvent([
      { key: key as string, sequence: '7' },
      { key: key as string, sequence: '9' },
    ])
    expect(await h.applier(batch, lambdaContext())).toEqual({
      batchItemFailures: [{ itemIdentifier: '7' }, { itemIdentifier: '9' }],
    })
  })

  it('changes nothing and counts nothing for an INSERT whose event was completed meanwhile', async () => {
    const h = createHarness()
    const [key] = await stored(h, ['channel_live'])
    await h.stream([key as string])
    const writes = h.store.stats.writes
    const read = vi.spyOn(h.store.events, 'get')
    // The record's image still says pending (the stream keeps the INSERT as it was): the event is
    // applied again without a read, which changes no state (guarded writes), and its outcome write
    // is refused because the event is no longer pending, so it is not counted twice.
    expect(await h.stream([key as string])).toEqual({ batchItemFailures: [] })
    expect(read).not.toHaveBeenCalled()
    expect(h.store.stats.writes - writes).toBeLessThanOrEqual(2)
    expect(h.store.allEvents()[0]).toMatchObject({ status: 'applied' })
    expect(h.changes()).toHaveLength(1)
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 1, applied: 1 })
  })

  it('applies a key-only record (streamed before the view type was NEW_IMAGE) after reading it', async () => {
    const h = createHarness()
    const [key] = await stored(h, ['channel_live'])
    const read = vi.spyOn(h.store.events, 'get')
    expect(await h.applier(streamEvent([key as string]), lambdaContext())).toEqual({ batchItemFailures: [] })
    expect(read).toHaveBeenCalledWith(key)
    expect(h.store.allEvents()[0]).toMatchObject({ status: 'applied' })
    expect(await h.store.ops.getCounters('webhooks')).toEqual({ received: 1, applied: 1 })
  })

  it('skips an INSERT for a key that no longer exists (expired), writing nothing', async () => {
    const h = createHarness()
    const writes = h.store.stats.writes
    expect(await h.stream(['id:expired-long-ago'])).toEqual({ batchItemFailures: [] })
    expect(h.store.stats.writes).toBe(writes)
    expect(h.store.allEvents()).toEqual([])
  })

  it('ignores MODIFY and REMOVE records and records without a key, without reading', async () => {
    const h = createHarness()
    const [key] = await stored(h, ['channel_live'])
    const get = vi.spyOn(h.store.events, 'get')
    const batch = streamEvent([
      { key: key as string, eventName: 'MODIFY' },
      { key: key as string, eventName: 'REMOVE' },
    ])
    const keyless = streamEvent(['x'])
    const record = keyless.Records[0]
    if (record?.dynamodb) record.dynamodb.Keys = {}
    batch.Records.push(...keyless.Records)
    expect(await h.applier(batch, lambdaContext())).toEqual({ batchItemFailures: [] })
    expect(get).not.toHaveBeenCalled()
    expect(h.store.allEvents()[0]?.status).toBe('pending')
  })

  it('applies what was stored first, whatever a later delivery with the same id carries', async () => {
    const h = createHarness()
    const first = fixture('channel_live')
    const [key] = await stored(h, ['channel_live'])
    const changed = JSON.stringify({ ...JSON.parse(first), data: { bogus: true } })
    expect(bodyOf(await h.post(changed))).toMatchObject({ eventKey: key, duplicate: true })
    await h.stream([key as string])
    expect(h.store.allEvents()[0]?.status).toBe('applied')
    expect((await h.store.channels.get('Pq7Wx2CH'))?.lifecycle).toBe('live')
  })
})

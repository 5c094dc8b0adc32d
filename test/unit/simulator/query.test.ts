import { describe, expect, it } from 'vitest'
import { SimApiError } from '../../../local/simulator/errors'
import { parseListQuery } from '../../../local/simulator/query'

/** The HTTP status of the SimApiError `run` throws (fails the test when it throws nothing else). */
function statusOf(run: () => unknown): number {
  try {
    run()
  } catch (err) {
    expect(err).toBeInstanceOf(SimApiError)
    return (err as SimApiError).status
  }
  throw new Error('expected a SimApiError')
}

describe('parseListQuery', () => {
  it('reads filters, comma-separated and repeated sort keys, limit and offset', () => {
    const params = new URLSearchParams()
    params.set('filters', JSON.stringify({ client_id: 'Kd82nQ1zCL' }))
    params.append('sort', 'name,-created_at')
    params.append('sort', 'id')
    params.set('limit', '10')
    params.set('offset', '20')
    expect(parseListQuery(params, 1000, 100)).toEqual({
      filters: { client_id: 'Kd82nQ1zCL' },
      sort: ['name', '-created_at', 'id'],
      limit: 10,
      offset: 20,
    })
  })

  it('uses the default page size when limit is absent and clamps a large limit', () => {
    expect(parseListQuery(new URLSearchParams(), 1000, 100).limit).toBe(100)
    expect(parseListQuery(new URLSearchParams('limit=5000'), 1000, 100).limit).toBe(1000)
  })

  it('rejects filters that are not a JSON object with a wrong-payload error', () => {
    const bad = () => parseListQuery(new URLSearchParams('filters={nope'), 1000, 100)
    expect(statusOf(bad)).toBe(400)
    expect(bad).toThrow('Wrong payload')
    expect(statusOf(() => parseListQuery(new URLSearchParams('filters=[1]'), 1000, 100))).toBe(400)
  })

  it('rejects a negative offset and a non-integer limit', () => {
    for (const bad of ['offset=-1', 'limit=abc', 'limit=0']) {
      expect(statusOf(() => parseListQuery(new URLSearchParams(bad), 1000, 100))).toBe(400)
    }
  })
})

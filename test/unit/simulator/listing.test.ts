import { describe, expect, it } from 'vitest'
import { matchesFilters, sortItems } from '../../../local/simulator/listing'

describe('filters', () => {
  const item = { id: 'a', setup_info: { phone_number: '4930111222' }, terminated_at: null, n: 3 }

  it('matches dotted paths by equality and ANDs the keys', () => {
    expect(matchesFilters(item, { 'setup_info.phone_number': '4930111222', id: 'a' })).toBe(true)
    expect(matchesFilters(item, { 'setup_info.phone_number': '4930111222', id: 'b' })).toBe(false)
  })

  it('lets a null filter match a null or absent field', () => {
    expect(matchesFilters(item, { terminated_at: null })).toBe(true)
    expect(matchesFilters(item, { 'project.id': null })).toBe(true)
    expect(matchesFilters(item, { id: null })).toBe(false)
  })
})

describe('sorting', () => {
  it('sorts by several keys, descending with a leading dash, ties broken by id', () => {
    const items = [
      { id: 'c', g: 1, t: 'x' },
      { id: 'a', g: 2, t: 'x' },
      { id: 'b', g: 2, t: 'y' },
      { id: 'd', g: 2, t: 'x' },
    ]
    expect(sortItems(items, ['-g', 't']).map((i) => i.id)).toEqual(['a', 'd', 'b', 'c'])
  })

  it('puts nulls first ascending and compares timestamps with and without milliseconds as times', () => {
    const items = [
      { id: 'a', modified_at: '2025-01-01T00:00:00.500Z' },
      { id: 'b', modified_at: '2025-01-01T00:00:00Z' },
      { id: 'c', modified_at: null },
    ]
    expect(sortItems(items, ['modified_at']).map((i) => i.id)).toEqual(['c', 'b', 'a'])
    expect(sortItems(items, ['-modified_at']).map((i) => i.id)).toEqual(['a', 'b', 'c'])
  })
})

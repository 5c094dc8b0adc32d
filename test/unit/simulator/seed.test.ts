import { describe, expect, it } from 'vitest'
import seedFixtures from '../../../local/simulator/seed-fixtures.json' with { type: 'json' }
import fixtures from '../../fixtures/partner-api.json' with { type: 'json' }

describe('simulator seed fixtures', () => {
  it('are the clients and channels of the test fixture file, unchanged', () => {
    // The simulator keeps its own copy so it imports nothing from test/; this keeps the two equal.
    expect(seedFixtures.clients).toEqual(fixtures.clients)
    expect(seedFixtures.channels).toEqual(fixtures.channels)
  })
})

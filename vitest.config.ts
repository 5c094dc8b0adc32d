import { defineConfig } from 'vitest/config'

// Four suites: fast unit tests with fakes, integration over real loopback HTTP and embedded
// DynamoDB, the client library and CLI (client/, against the local runner), and CDK template
// assertions. `npm test` runs them one after another.
export default defineConfig({
  test: {
    setupFiles: ['test/setup.ts'],
    projects: [
      // A timeout is a hang detector, not a timing assertion: property tests with hundreds of runs
      // take a second alone and many times that on a loaded machine.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'client',
          include: ['client/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
})

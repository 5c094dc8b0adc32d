import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

// The library's types are generated from docs/openapi.yaml by openapi-typescript and committed
// (client/src/openapi-types.ts), so they are readable and need no build step. This keeps them in
// step: change the document, then run `npm run types -w @partnerops/client`.

describe('client/src/openapi-types.ts', () => {
  it('is exactly what openapi-typescript generates from docs/openapi.yaml', async () => {
    const bin = join(process.cwd(), 'node_modules', '.bin', 'openapi-typescript')
    const { stdout } = await promisify(execFile)(bin, ['docs/openapi.yaml'], { timeout: 60_000 })
    const committed = readFileSync(join(process.cwd(), 'client', 'src', 'openapi-types.ts'), 'utf8')
    expect(committed, 'run `npm run types -w @partnerops/client` and commit the result').toBe(stdout)
  })
})

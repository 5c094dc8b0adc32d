import { join } from 'node:path'
import { build, type Metafile } from 'esbuild'
import { beforeAll, describe, expect, it } from 'vitest'
import { BUNDLE, REPO_ROOT } from '../../infra/bundling'
import type { AdapterName } from '../../shared/deps'
import { FUNCTION_KEYS, FUNCTIONS, type FunctionKey } from '../../shared/functions'

/**
 * What each function's bundle holds, read from esbuild's metafile with the stack's options (no write):
 * an SDK client or a library that only one adapter needs is in a bundle only when the function lists
 * that adapter in FUNCTIONS (docs/wiring.md). This is the rule the per-function wiring exists for: the
 * cold start of a function does not pay for clients it never calls.
 */

/** The packages each adapter brings in beyond what every function has (the DynamoDB store, Powertools). */
const ADAPTER_PACKAGES: Record<AdapterName, readonly string[]> = {
  secrets: ['@aws-sdk/client-secrets-manager', '@aws-lambda-powertools/parameters'],
  partnerApi: [],
  events: ['@aws-sdk/client-eventbridge'],
  failureQueue: ['@aws-sdk/client-sqs'],
  channelKeys: ['@aws-sdk/client-kms'],
  messaging: [],
}

/** Packages every function may hold: the state store's client and what its handler chain uses. */
const BASE_CLIENTS = ['@aws-sdk/client-dynamodb']

/** The SDK clients and adapter-only libraries a bundle holds (package names). */
function heldPackages(meta: Metafile): string[] {
  const out = new Set<string>()
  for (const output of Object.values(meta.outputs)) {
    for (const input of Object.keys(output.inputs)) {
      const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)
      if (!m?.[1]) continue
      const pkg = m[1]
      if (pkg.startsWith('@aws-sdk/client-') || pkg === '@aws-lambda-powertools/parameters') out.add(pkg)
    }
  }
  return [...out].sort()
}

describe('function bundles', () => {
  const held = {} as Record<FunctionKey, string[]>

  beforeAll(async () => {
    for (const fn of FUNCTION_KEYS) {
      const result = await build({
        entryPoints: [join(REPO_ROOT, FUNCTIONS[fn].entry)],
        bundle: true,
        write: false,
        metafile: true,
        outfile: join(REPO_ROOT, 'cdk.out', 'bundle-contents', fn, 'index.mjs'),
        format: BUNDLE.format,
        platform: BUNDLE.platform,
        target: BUNDLE.target,
        minify: BUNDLE.minify,
        mainFields: [...BUNDLE.mainFields],
        logLevel: 'silent',
      })
      held[fn] = heldPackages(result.metafile)
    }
  })

  it('hold an SDK client only when the function lists the adapter that uses it', () => {
    for (const fn of FUNCTION_KEYS) {
      const allowed = new Set([
        ...BASE_CLIENTS,
        ...FUNCTIONS[fn].adapters.flatMap((a) => ADAPTER_PACKAGES[a]),
      ])
      expect(
        held[fn].filter((p) => !allowed.has(p)),
        `${fn} bundles packages of adapters it does not list`,
      ).toEqual([])
    }
  })

  it('hold the clients of the adapters they list (the check above is not vacuous)', () => {
    expect(held.eventPublisher).toContain('@aws-sdk/client-eventbridge')
    expect(held.api).toContain('@aws-sdk/client-sqs')
    expect(held.webhook).toContain('@aws-sdk/client-secrets-manager')
    // The applier creates channel keys on permission events: KMS and the Partner API secret.
    expect(held.webhookApplier).toContain('@aws-sdk/client-kms')
    expect(held.channelKeys).toContain('@aws-sdk/client-kms')
  })
})

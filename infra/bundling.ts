import { fileURLToPath } from 'node:url'
import { type BundlingOptions, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs'

/**
 * How every function is bundled, in one place: the stack passes it to NodejsFunction (which runs the
 * local esbuild, no Docker) and the cold-start benchmark runs esbuild with the same options.
 */

/** Repository root (infra/..), for entry paths and the lock file. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

// ESM output cannot `require` the CommonJS dependencies esbuild inlines; this gives them one.
const REQUIRE_BANNER =
  "import { createRequire as __partnerOpsCreateRequire } from 'node:module';const require = __partnerOpsCreateRequire(import.meta.url);"

/** The esbuild settings shared by the stack and the benchmark. */
export const BUNDLE = {
  format: 'esm',
  platform: 'node',
  // Node 20 is the floor of the local toolchain (tests, benchmark); Lambda runs nodejs24.x.
  target: 'node20',
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  banner: REQUIRE_BANNER,
} as const

/** NodejsFunction bundling options built from BUNDLE. The pinned AWS SDK is bundled, not the runtime's. */
export function nodejsBundling(): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: BUNDLE.target,
    minify: BUNDLE.minify,
    sourceMap: BUNDLE.sourcemap,
    sourceMapMode: SourceMapMode.DEFAULT,
    sourcesContent: BUNDLE.sourcesContent,
    mainFields: [...BUNDLE.mainFields],
    banner: BUNDLE.banner,
    bundleAwsSDK: true,
    externalModules: [],
  }
}

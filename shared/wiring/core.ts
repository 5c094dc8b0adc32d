import { systemClock } from '../adapters/clock'
import { createDynamoStore, dynamoClientFor, tableNamesFromConfig } from '../adapters/dynamo/dynamo-store'
import { ADAPTER_NAMES, type AdapterName, type AppDeps, type BasePart } from '../deps'
import type { Config } from '../env'
import { FUNCTIONS, type FunctionKey } from '../functions'
import { createLogger, createMetrics } from '../observability'
import { mapStackTracesOnDemand } from '../source-maps'

/**
 * Wiring, the part every function shares: the base dependencies (built at init) and the lazily built
 * adapters (built on first use, and only those a function declares). docs/wiring.md explains the rule.
 *
 * This module imports no adapter but the DynamoDB store: each adapter's builder lives in a file of its
 * own under shared/wiring/, and a function's entry (functions/<name>/index.ts) imports exactly the
 * builders of the adapters FUNCTIONS lists for it. So a function's bundle holds only the SDK clients it
 * uses (test/infra/bundle-contents.test.ts checks it).
 */

/** What a builder may use: the configuration, the function's service name and the other parts. */
export interface WiringContext {
  config: Config
  service: string
  /** The deps being built; reading another adapter here builds that one (on this first use). */
  deps: AppDeps
}

/** Builds one adapter. Called on the adapter's first use, at most once per cold start. */
export type AdapterBuilder<A extends AdapterName> = (ctx: WiringContext) => AppDeps[A]

/** One builder per adapter of `A`. */
export type AdapterBuilders<A extends AdapterName = AdapterName> = { readonly [K in A]: AdapterBuilder<K> }

/** The adapters FUNCTIONS lists for function `F`. */
export type AdaptersOf<F extends FunctionKey> = (typeof FUNCTIONS)[F]['adapters'][number]

/**
 * An adapter a function did not declare: any use throws at once, naming the fix, instead of building
 * (and bundling) a client the function was not meant to have. Spreading or passing the deps around
 * does not touch it; only reading one of its members does.
 */
function notWired(fn: string, name: AdapterName): never {
  return new Proxy(
    {},
    {
      get(_target, prop) {
        if (typeof prop === 'symbol' || prop === 'then') return undefined
        throw new Error(
          `${fn} does not wire the ${name} adapter: list it in FUNCTIONS.${fn}.adapters (shared/functions.ts) and pass its builder in the function's entry (docs/wiring.md)`,
        )
      },
    },
  ) as never
}

/**
 * A property built on first read and kept: the part is constructed only when (and if) some code path
 * of the function uses it.
 */
function defineLazy<K extends keyof AppDeps>(deps: AppDeps, key: K, build: () => AppDeps[K]): void {
  let value: AppDeps[K] | undefined
  Object.defineProperty(deps, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      value ??= build()
      return value
    },
    set: (v: AppDeps[K]) => {
      value = v
    },
  })
}

/** The base parts, built now: every invocation of every function logs, counts and reads state. */
function baseDeps(config: Config, service: string, overrides: Partial<AppDeps>): Pick<AppDeps, BasePart> {
  const logger = overrides.logger ?? createLogger(service)
  const store =
    overrides.store ??
    createDynamoStore({
      client: dynamoClientFor(config),
      tables: tableNamesFromConfig(config),
      cursorSecret: config.CURSOR_SECRET,
    })
  return {
    config,
    store,
    clock: overrides.clock ?? systemClock,
    logger,
    metrics: overrides.metrics ?? createMetrics(service, logger),
  }
}

/**
 * Dependencies with the base parts built and the adapters in `wired` defined lazily (an override, else
 * the builder, on first use); every other adapter is not wired (any use throws).
 */
export function wireDeps(
  config: Config,
  service: string,
  wired: readonly AdapterName[],
  builders: Partial<AdapterBuilders>,
  overrides: Partial<AppDeps> = {},
  owner: string = service,
): AppDeps {
  // The adapters are defined right below, before anyone can read them.
  const deps = baseDeps(config, service, overrides) as AppDeps
  const ctx: WiringContext = { config, service, deps }
  for (const name of ADAPTER_NAMES) {
    if (!wired.includes(name)) {
      Object.defineProperty(deps, name, {
        value: notWired(owner, name),
        enumerable: true,
        writable: true,
        configurable: true,
      })
      continue
    }
    const override = overrides[name]
    const build = builders[name] as AdapterBuilder<typeof name> | undefined
    if (override === undefined && build === undefined) {
      throw new Error(`${owner} lists the ${name} adapter but was given no builder for it`)
    }
    defineLazy(deps, name, () => (override ?? (build as AdapterBuilder<typeof name>)(ctx)) as never)
  }
  return deps
}

/**
 * The dependencies of one function, as its Lambda entry builds them: the base parts at init, and the
 * adapters FUNCTIONS lists for it (`builders` must hold exactly those: a missing or extra one does not
 * compile), each built on first use. `overrides` replace parts (the local runner, tests).
 */
export function wireFunction<F extends FunctionKey>(
  fn: F,
  config: Config,
  builders: AdapterBuilders<AdaptersOf<F>>,
  overrides: Partial<AppDeps> = {},
): AppDeps {
  const spec = FUNCTIONS[fn]
  // Stack traces name the TypeScript sources, with the map read only when one is first printed.
  mapStackTracesOnDemand()
  return wireDeps(config, spec.service, spec.adapters, builders as Partial<AdapterBuilders>, overrides, fn)
}

import { loadConfig } from '../../shared/env'
import { createAppDeps } from '../../shared/wiring'
import { buildOnboardingHandler } from './handler'

/** Lambda entry of the onboarding function: dependencies wired once per cold start. */
export const handler = buildOnboardingHandler(createAppDeps(loadConfig(), 'onboarding'))

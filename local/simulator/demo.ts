import type { SimEvent, SimState } from './state'
import { seededRandom } from './util'

/** New draft channels demo mode may create once nothing is left onboarding. */
export const MAX_AUTO_CREATED = 100

/**
 * Demo mode (the `autoAdvanceMs` timer): each step processes due cancellations, then moves one
 * channel that is still onboarding one lifecycle step; when none is left, a new draft channel
 * appears (at most {@link MAX_AUTO_CREATED}). Choices come from a seeded PRNG, so a run is
 * reproducible for a given sequence of steps.
 */
export class DemoMode {
  private random: () => number
  private autoCreated = 0
  private timer: NodeJS.Timeout | null = null

  constructor(
    private readonly state: SimState,
    private readonly seed = 360,
  ) {
    this.random = seededRandom(seed)
  }

  /** One step; answers the webhooks it calls for, in order. */
  step(): SimEvent[] {
    const events = this.state.processDueCancellations()
    const candidates = this.state.onboardingChannelIds()
    const pick = candidates[Math.floor(this.random() * candidates.length)]
    if (pick !== undefined) return [...events, ...this.state.advance(pick).events]
    const clientIds = this.state.clientIds()
    const clientId = clientIds[Math.floor(this.random() * clientIds.length)]
    if (clientId !== undefined && this.autoCreated < MAX_AUTO_CREATED) {
      this.autoCreated++
      const channel = this.state.addChannel({ client_id: clientId })
      events.push({ event: 'channel_created', data: channel })
    }
    return events
  }

  /** Calls `run` every `everyMs` (unref'd: it never keeps the process alive). */
  start(everyMs: number, run: () => void): void {
    this.stop()
    this.timer = setInterval(run, everyMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }

  /** Back to the first step's choices (simulator reset). */
  reset(): void {
    this.random = seededRandom(this.seed)
    this.autoCreated = 0
  }
}

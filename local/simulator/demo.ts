import type { SimEvent, SimState } from './state'
import { seededRandom } from './util'

/** New draft channels demo mode may create once nothing is left onboarding. */
export const MAX_AUTO_CREATED = 100

/**
 * Every this many steps demo mode also moves a signal of one live channel (at the default 20 s a step:
 * a quality change at 1 minute, a tier raise at 2, then one of each every 2 minutes).
 */
export const SIGNAL_EVERY_STEPS = 6
/** A quality rating's next value: a drop (GREEN → YELLOW → RED), then a recovery (RED → GREEN). */
export const NEXT_QUALITY: Readonly<Record<string, string>> = { GREEN: 'YELLOW', YELLOW: 'RED', RED: 'GREEN' }
/** Meta's messaging tiers in order; a raise moves one up, the top stays. */
export const TIERS = ['TIER_250', 'TIER_1K', 'TIER_10K', 'TIER_100K', 'TIER_UNLIMITED'] as const

/** The change of a quality or tier signal made by a demo step. */
export interface SignalChange {
  channelId: string
  field: 'current_quality_rating' | 'current_limit'
  from: string | null
  to: string
}

/**
 * Demo mode (the `autoAdvanceMs` timer): each step moves a quality or tier signal now and then
 * (signalStep), processes due cancellations, then moves one channel that is still onboarding one
 * lifecycle step; when none is left, a new draft channel
 * appears (at most {@link MAX_AUTO_CREATED}). Choices come from a seeded PRNG, so a run is
 * reproducible for a given sequence of steps.
 */
export class DemoMode {
  private random: () => number
  /** A PRNG of its own, so the lifecycle choices stay what they were without the signals. */
  private signalRandom: () => number
  private steps = 0
  private autoCreated = 0
  private timer: NodeJS.Timeout | null = null
  /** The signal changes made so far, newest last (at most 100 kept; tests and the /_sim index read them). */
  readonly signalChanges: SignalChange[] = []

  constructor(
    private readonly state: SimState,
    private readonly seed = 360,
  ) {
    this.random = seededRandom(seed)
    this.signalRandom = seededRandom(seed + 1)
  }

  /**
   * On every {@link SIGNAL_EVERY_STEPS}th step (offset by half), one live channel's quality rating
   * moves (GREEN → YELLOW → RED → GREEN); on the steps in between, one live channel's tier rises.
   * Upstream documents no webhook for either, so none is sent: the next reconciliation run reads the
   * change, which publishes `Channel Quality Changed` / `Channel Messaging Limit Changed`.
   */
  private signalStep(): void {
    const phase = this.steps % SIGNAL_EVERY_STEPS
    if (phase !== SIGNAL_EVERY_STEPS / 2 && phase !== 0) return
    const live = this.state.liveChannelIds()
    const id = live[Math.floor(this.signalRandom() * live.length)]
    if (id === undefined) return
    const channel = this.state.getChannel(id)
    if (phase === 0) {
      const from = channel.current_limit
      const at = TIERS.indexOf((from ?? 'TIER_250') as (typeof TIERS)[number])
      const to = TIERS[Math.min(TIERS.length - 1, Math.max(0, at) + 1)] as string
      if (to === from) return
      this.state.mutateChannel(id, { current_limit: to })
      this.record({ channelId: id, field: 'current_limit', from, to })
    } else {
      const from = channel.current_quality_rating
      const to = NEXT_QUALITY[from ?? 'GREEN'] ?? 'YELLOW'
      this.state.mutateChannel(id, { current_quality_rating: to })
      this.record({ channelId: id, field: 'current_quality_rating', from, to })
    }
  }

  private record(change: SignalChange): void {
    this.signalChanges.push(change)
    if (this.signalChanges.length > 100) this.signalChanges.shift()
  }

  /** One step; answers the webhooks it calls for, in order. */
  step(): SimEvent[] {
    this.steps++
    this.signalStep()
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
    this.signalRandom = seededRandom(this.seed + 1)
    this.steps = 0
    this.autoCreated = 0
    this.signalChanges.length = 0
  }
}

import type { Clock } from '../../shared/ports'

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  private t: number
  constructor(start: string | number = '2026-01-15T10:00:00.000Z') {
    this.t = typeof start === 'number' ? start : Date.parse(start)
  }
  now(): Date {
    return new Date(this.t)
  }
  advance(ms: number): void {
    this.t += ms
  }
  set(iso: string): void {
    this.t = Date.parse(iso)
  }
}

/** Time comes through this seam so windows, lingers and timeouts can be tested without sleeps. */
export interface Clock {
  /** Milliseconds since the epoch, UTC. */
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** A clock that moves only when told to; for tests and for replay, where time follows the events. */
export class ManualClock implements Clock {
  #now: number

  constructor(startMs = 0) {
    this.#now = startMs
  }

  now(): number {
    return this.#now
  }

  set(ms: number): void {
    this.#now = ms
  }

  advance(ms: number): void {
    this.#now += ms
  }
}

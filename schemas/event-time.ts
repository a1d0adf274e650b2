import type { FieldIssue } from '../platform/errors.ts'

/** How far from the processor's clock an event time may be and still be audited. */
export interface EventTimeWindow {
  /** Older events would fall out of the audit's retention at once (its TTL is 2 years). */
  maxAgeMs: number
  /** Clocks drift; a time further ahead than this is a bug in the emitter. */
  maxFutureMs: number
}

const DAY = 24 * 60 * 60 * 1000

/** 729 days: one day inside the audit's two-year TTL, however the leap years fall. */
export const DEFAULT_EVENT_TIME_WINDOW: EventTimeWindow = { maxAgeMs: 729 * DAY, maxFutureMs: DAY }

/** The issue with an event time relative to now, or undefined when it is acceptable. */
export function eventTimeIssue(
  occurredAt: number,
  now: number,
  window: EventTimeWindow,
): FieldIssue | undefined {
  if (occurredAt < now - window.maxAgeMs) {
    return {
      path: 'occurred_at',
      message: `is older than the audit retention allows (${Math.floor(window.maxAgeMs / DAY)} days); replay it with \`spendguard replay\` instead`,
    }
  }
  if (occurredAt > now + window.maxFutureMs) {
    return {
      path: 'occurred_at',
      message: `is more than ${Math.round(window.maxFutureMs / 60_000)} minutes in the future`,
    }
  }
  return undefined
}

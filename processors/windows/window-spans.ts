/**
 * The windows of SPEC section 5, by event time: sliding views made of whole 1-minute buckets
 * ending at the minute of `asOf`, and the UTC day and UTC month that hold `asOf`.
 */
export const WINDOWS = ['1m', '15m', '1h', '24h', 'day', 'month'] as const
export type WindowName = (typeof WINDOWS)[number]

export const MINUTE_MS = 60_000
export const DAY_MS = 24 * 60 * MINUTE_MS

const SLIDING_MINUTES: Partial<Record<WindowName, number>> = {
  '1m': 1,
  '15m': 15,
  '1h': 60,
  '24h': 1440,
}

/** The minutes the longest sliding view spans. */
export const LONGEST_SLIDING_MINUTES = 1440

export const minuteStart = (ms: number): number => ms - (((ms % MINUTE_MS) + MINUTE_MS) % MINUTE_MS)
export const dayStart = (ms: number): number => ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS)
export function monthStart(ms: number): number {
  const date = new Date(ms)
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1)
}

/** The event-time span [from, to) a window covers at `asOf`. */
export function windowSpan(window: WindowName, asOf: number): { from: number; to: number } {
  const minutes = SLIDING_MINUTES[window]
  if (minutes !== undefined) {
    const to = minuteStart(asOf) + MINUTE_MS
    return { from: to - minutes * MINUTE_MS, to }
  }
  if (window === 'day') {
    const from = dayStart(asOf)
    return { from, to: from + DAY_MS }
  }
  const from = monthStart(asOf)
  const date = new Date(from)
  return { from, to: Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) }
}

export function isWindowName(value: string): value is WindowName {
  return (WINDOWS as readonly string[]).includes(value)
}

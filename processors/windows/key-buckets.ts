import { SpendMeasures } from './spend-measures.ts'
import {
  DAY_MS,
  LONGEST_SLIDING_MINUTES,
  MINUTE_MS,
  dayStart,
  minuteStart,
  monthStart,
  windowSpan,
  type WindowName,
} from './window-spans.ts'

/** The spans a key's buckets cover. */
export type Granularity = 'minute' | 'day' | 'month'

/** One key's buckets: minutes of the last 24 hours, and the current and previous day and month. */
export class KeyState {
  readonly minutes: SpendMeasures[] = []
  readonly days: SpendMeasures[] = []
  readonly months: SpendMeasures[] = []

  /** Whether a bucket changed since the last `drainChanges` (change tracking only). */
  changed = false

  get empty(): boolean {
    return this.minutes.length === 0 && this.days.length === 0 && this.months.length === 0
  }
}

/** The oldest bucket start each granularity keeps at `now`. */
export interface Horizon {
  minute: number
  day: number
  month: number
}

export function horizonAt(now: number): Horizon {
  const thisMonth = monthStart(now)
  return {
    minute: minuteStart(now) - LONGEST_SLIDING_MINUTES * MINUTE_MS,
    day: dayStart(now) - DAY_MS,
    month: monthStart(thisMonth - 1),
  }
}

/** The bucket starting at `start` in an ascending list, created in order. */
export function bucketAt(buckets: SpendMeasures[], start: number): SpendMeasures {
  let at = buckets.length
  // Events come mostly in order: the newest bucket is the usual hit.
  while (at > 0 && buckets[at - 1]!.start > start) at--
  let bucket = at > 0 ? buckets[at - 1] : undefined
  if (bucket?.start !== start) {
    bucket = new SpendMeasures(start)
    buckets.splice(at, 0, bucket)
  }
  return bucket
}

export function trim(buckets: SpendMeasures[], oldest: number): void {
  let drop = 0
  while (drop < buckets.length && buckets[drop]!.start < oldest) drop++
  if (drop > 0) buckets.splice(0, drop)
}

export function merged(
  state: KeyState,
  window: WindowName,
  asOf: number,
): SpendMeasures | undefined {
  const span = windowSpan(window, asOf)
  const buckets = window === 'day' ? state.days : window === 'month' ? state.months : state.minutes
  let total: SpendMeasures | undefined
  for (const bucket of buckets) {
    if (bucket.start < span.from || bucket.start >= span.to) continue
    total ??= new SpendMeasures(span.from)
    total.merge(bucket)
  }
  return total
}

export function bucketsOf(state: KeyState, granularity: Granularity): SpendMeasures[] {
  return granularity === 'minute'
    ? state.minutes
    : granularity === 'day'
      ? state.days
      : state.months
}

/** The oldest start a bucket of this granularity may have at `horizon`. */
export function oldestStart(horizon: Horizon, granularity: Granularity): number {
  return horizon[granularity]
}

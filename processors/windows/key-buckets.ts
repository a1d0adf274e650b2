import { DAY, MINUTE, MONTH, SpendMeasures, type Rank, type TotalsSum } from './spend-measures.ts'
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

export const RANKS: Record<Granularity, Rank> = { month: MONTH, day: DAY, minute: MINUTE }
export const GRANULARITIES: Record<Rank, Granularity> = {
  [MONTH]: 'month',
  [DAY]: 'day',
  [MINUTE]: 'minute',
}

/**
 * One key's buckets in one array, ordered by granularity (months, days, then minutes) and
 * start: the current and previous month and day, and the minutes of the last 24 hours. One
 * exact-size array per key keeps a million short-lived keys (sessions) small.
 */
export class KeyState {
  buckets: SpendMeasures[] = []
  /**
   * The newest minute bucket, while its calls are not yet in its day and month buckets: a call
   * of the current minute updates one bucket, not three. It is folded into its day and month
   * when a newer minute starts or it leaves the kept span; views add it in meanwhile.
   */
  open: SpendMeasures | undefined = undefined
  /** Whether a bucket changed since the last `drainChanges` (change tracking only). */
  changed = false
}

/** The oldest bucket start each granularity keeps at `now`, by rank. */
export type Horizon = Record<Rank, number>

export function horizonAt(now: number): Horizon {
  return {
    [MONTH]: monthStart(monthStart(now) - 1),
    [DAY]: dayStart(now) - DAY_MS,
    [MINUTE]: minuteStart(now) - LONGEST_SLIDING_MINUTES * MINUTE_MS,
  }
}

const before = (bucket: SpendMeasures, rank: Rank, start: number): boolean =>
  bucket.rank < rank || (bucket.rank === rank && bucket.start < start)

/** The bucket of a rank and start, created in order when missing. */
export function bucketAt(state: KeyState, rank: Rank, start: number): SpendMeasures {
  const buckets = state.buckets
  // Minutes come mostly in order and sit at the end; months and days at the front.
  let at: number
  if (rank === MINUTE) {
    at = buckets.length
    while (at > 0 && !before(buckets[at - 1]!, rank, start)) at--
  } else {
    at = 0
    while (at < buckets.length && before(buckets[at]!, rank, start)) at++
  }
  const found = buckets[at]
  if (found?.rank === rank && found.start === start) return found
  const bucket = new SpendMeasures(start, rank)
  const next = new Array<SpendMeasures>(buckets.length + 1)
  for (let i = 0; i < at; i++) next[i] = buckets[i]!
  next[at] = bucket
  for (let i = at; i < buckets.length; i++) next[i + 1] = buckets[i]!
  state.buckets = next
  return bucket
}

/** Replaces a bucket (same rank and start) by another. */
export function replaceBucket(state: KeyState, current: SpendMeasures, next: SpendMeasures): void {
  state.buckets[state.buckets.indexOf(current)] = next
}

/** The UTC day and month of a minute bucket. */
export function spansOf(minute: number): { day: number; month: number } {
  const day = dayStart(minute)
  return { day, month: monthStart(day) }
}

/** The end of a day or month bucket's span. */
function endOf(bucket: { rank: Rank; start: number }): number {
  if (bucket.rank === DAY) return bucket.start + DAY_MS
  if (bucket.rank === MINUTE) return bucket.start + MINUTE_MS
  const date = new Date(bucket.start)
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
}

/**
 * Adds the open minute to its day and month buckets and closes it; returns the buckets it
 * changed.
 */
export function foldOpen(state: KeyState, horizon: Horizon, month?: number): SpendMeasures[] {
  const open = state.open
  if (!open) return []
  state.open = undefined
  const spans = spansOf(open.start)
  const touched: SpendMeasures[] = []
  if (spans.day >= horizon[DAY]) touched.push(bucketAt(state, DAY, spans.day))
  touched.push(bucketAt(state, MONTH, month ?? spans.month))
  for (const bucket of touched) bucket.merge(open)
  return touched
}

/**
 * The full value of a day or month span: its bucket (if any) plus the open minute when it
 * falls in the span. A new object; the buckets are not changed.
 */
export function materialize(state: KeyState, rank: Rank, start: number): SpendMeasures {
  const total = new SpendMeasures(start, rank)
  const bucket = state.buckets.find((b) => b.rank === rank && b.start === start)
  if (bucket) total.merge(bucket)
  const open = state.open
  if (open && open.start >= start && open.start < endOf(total)) total.merge(open)
  return total
}

/** Drops the buckets older than the horizon; false when none is left. */
export function trim(state: KeyState, horizon: Horizon): boolean {
  if (state.open && state.open.start < horizon[MINUTE]) foldOpen(state, horizon)
  const kept = state.buckets.filter((bucket) => bucket.start >= horizon[bucket.rank])
  if (kept.length !== state.buckets.length) state.buckets = kept
  return kept.length > 0
}

/**
 * Adds a key's calls, cost and tokens in one window at `asOf` to `sum`: what `merged` gives
 * without the sketches and without allocating, for detectors that read on every call.
 */
export function addTotals(state: KeyState, window: WindowName, asOf: number, sum: TotalsSum): void {
  const span = windowSpan(window, asOf)
  const rank = window === 'month' ? MONTH : window === 'day' ? DAY : MINUTE
  const buckets = state.buckets
  if (rank === MINUTE) {
    // Minutes sit at the end in order: walk back from the newest.
    for (let i = buckets.length - 1; i >= 0; i--) {
      const bucket = buckets[i]!
      if (bucket.rank !== MINUTE || bucket.start < span.from) break
      if (bucket.start < span.to) bucket.addTotalsTo(sum)
    }
    return
  }
  for (const bucket of buckets) {
    if (bucket.rank > rank) break
    if (bucket.rank === rank && bucket.start >= span.from && bucket.start < span.to)
      bucket.addTotalsTo(sum)
  }
  const open = state.open
  if (open && open.start >= span.from && open.start < span.to) open.addTotalsTo(sum)
}

/** The sum of a key's buckets in one window at `asOf`. */
export function merged(
  state: KeyState,
  window: WindowName,
  asOf: number,
): SpendMeasures | undefined {
  const span = windowSpan(window, asOf)
  const rank = window === 'month' ? MONTH : window === 'day' ? DAY : MINUTE
  let total: SpendMeasures | undefined
  for (const bucket of state.buckets) {
    if (bucket.rank !== rank || bucket.start < span.from || bucket.start >= span.to) continue
    total ??= new SpendMeasures(span.from, rank)
    total.merge(bucket)
  }
  // The open minute's calls are in no day or month bucket yet.
  const open = state.open
  if (rank !== MINUTE && open && open.start >= span.from && open.start < span.to) {
    total ??= new SpendMeasures(span.from, rank)
    total.merge(open)
  }
  return total
}

import {
  SpendMeasures,
  type CallGroup,
  type CallMeasures,
  type SpendItem,
} from './spend-measures.ts'
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

/** The dimensions of SPEC section 5, and the pair agent x feature. */
export const DIMENSIONS = [
  'agent',
  'feature',
  'user',
  'session',
  'team',
  'tenant',
  'model',
  'task_category',
  'agent_feature',
] as const
export type Dimension = (typeof DIMENSIONS)[number]

export function isDimension(value: string): value is Dimension {
  return (DIMENSIONS as readonly string[]).includes(value)
}

/** The attribution of one call, as the windows key it. */
export interface CallKeys {
  tenant: string
  agent: string
  feature?: string | undefined
  user?: string | undefined
  session?: string | undefined
  team?: string | undefined
  model: string
  taskCategory?: string | undefined
}

/** The key of a call in a dimension; undefined when the call has none there (no user id). */
export function keyOf(dimension: Dimension, keys: CallKeys): string | undefined {
  switch (dimension) {
    case 'agent':
      return keys.agent
    case 'feature':
      return keys.feature
    case 'user':
      return keys.user
    case 'session':
      return keys.session
    case 'team':
      return keys.team
    case 'tenant':
      return keys.tenant
    case 'model':
      return keys.model
    case 'task_category':
      return keys.taskCategory
    case 'agent_feature':
      return keys.feature === undefined ? undefined : `${keys.agent}/${keys.feature}`
  }
}

export interface SpendView {
  dimension: Dimension
  window: WindowName
  as_of: string
  items: Array<SpendItem & { tenant: string }>
}

export interface ViewQuery {
  dimension: Dimension
  window: WindowName
  asOf: number
  tenant?: string | undefined
  key?: string | undefined
  /** Items returned at most, most expensive first; all when undefined. */
  limit?: number | undefined
}

/** One key's buckets: minutes of the last 24 hours, and the current and previous day and month. */
class KeyState {
  readonly minutes: SpendMeasures[] = []
  readonly days: SpendMeasures[] = []
  readonly months: SpendMeasures[] = []

  get empty(): boolean {
    return this.minutes.length === 0 && this.days.length === 0 && this.months.length === 0
  }
}

/** The oldest bucket start each granularity keeps at `now`. */
interface Horizon {
  minute: number
  day: number
  month: number
}

function horizonAt(now: number): Horizon {
  const thisMonth = monthStart(now)
  return {
    minute: minuteStart(now) - LONGEST_SLIDING_MINUTES * MINUTE_MS,
    day: dayStart(now) - DAY_MS,
    month: monthStart(thisMonth - 1),
  }
}

/** The bucket starting at `start` in an ascending list, created in order. */
function bucketAt(buckets: SpendMeasures[], start: number): SpendMeasures {
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

function trim(buckets: SpendMeasures[], oldest: number): void {
  let drop = 0
  while (drop < buckets.length && buckets[drop]!.start < oldest) drop++
  if (drop > 0) buckets.splice(0, drop)
}

/**
 * Event-time spend per key of every dimension: 1-minute buckets kept for 24 hours (plus the
 * current minute), rolled into sliding 1-minute to 24-hour views when read, and UTC day and
 * month totals (current and previous, so late events around midnight still count). An event
 * older than what is kept is audited but not counted here (`tooOld`).
 *
 * `now` is the caller's clock: the processing clock live, event time in replay.
 */
export class SpendWindows {
  readonly #state = new Map<Dimension, Map<string, Map<string, KeyState>>>()
  #tooOld = 0

  constructor() {
    for (const dimension of DIMENSIONS) this.#state.set(dimension, new Map())
  }

  /** Calls not counted because their minute, day and month were all past what is kept. */
  get tooOld(): number {
    return this.#tooOld
  }

  /** Counts one call that occurred at `occurredAt`. */
  add(keys: CallKeys, occurredAt: number, call: CallMeasures, now: number): void {
    this.#update(keys, occurredAt, now, 1, (bucket) => bucket.add(call))
  }

  /** Counts a group of calls of one key and time (a window rebuilt from the audit). */
  addGroup(keys: CallKeys, occurredAt: number, group: CallGroup, now: number): void {
    this.#update(keys, occurredAt, now, group.calls, (bucket) => bucket.addGroup(group))
  }

  #update(
    keys: CallKeys,
    occurredAt: number,
    now: number,
    calls: number,
    apply: (bucket: SpendMeasures) => void,
  ): void {
    const horizon = horizonAt(now)
    const minute = minuteStart(occurredAt)
    const day = dayStart(occurredAt)
    const month = monthStart(occurredAt)
    if (month < horizon.month) {
      this.#tooOld += calls
      return
    }
    for (const dimension of DIMENSIONS) {
      const key = keyOf(dimension, keys)
      if (key === undefined) continue
      const byTenant = this.#state.get(dimension)!
      let tenantKeys = byTenant.get(keys.tenant)
      if (!tenantKeys) {
        tenantKeys = new Map()
        byTenant.set(keys.tenant, tenantKeys)
      }
      let state = tenantKeys.get(key)
      if (!state) {
        state = new KeyState()
        tenantKeys.set(key, state)
      }
      if (minute >= horizon.minute) apply(bucketAt(state.minutes, minute))
      if (day >= horizon.day) apply(bucketAt(state.days, day))
      apply(bucketAt(state.months, month))
    }
  }

  /** The measures of one key in one window, or undefined when it has none. */
  measures(
    dimension: Dimension,
    tenant: string,
    key: string,
    window: WindowName,
    asOf: number,
  ): SpendMeasures | undefined {
    const state = this.#state.get(dimension)!.get(tenant)?.get(key)
    return state && merged(state, window, asOf)
  }

  /** The keys of a dimension in a window, most expensive first (ties by tenant, key). */
  view(query: ViewQuery): SpendView {
    const found: Array<{ tenant: string; key: string; measures: SpendMeasures }> = []
    const byTenant = this.#state.get(query.dimension)!
    const tenants = query.tenant === undefined ? [...byTenant.keys()] : [query.tenant]
    for (const tenant of tenants) {
      const keys = byTenant.get(tenant)
      if (!keys) continue
      const entries: Iterable<[string, KeyState | undefined]> =
        query.key === undefined ? keys : [[query.key, keys.get(query.key)]]
      for (const [key, state] of entries) {
        const measures = state && merged(state, query.window, query.asOf)
        if (measures && measures.calls > 0) found.push({ tenant, key, measures })
      }
    }
    found.sort(
      (a, b) =>
        compare(b.measures.cost, a.measures.cost) ||
        compare(a.tenant, b.tenant) ||
        compare(a.key, b.key),
    )
    const shown = query.limit === undefined ? found : found.slice(0, query.limit)
    return {
      dimension: query.dimension,
      window: query.window,
      as_of: new Date(query.asOf).toISOString(),
      items: shown.map(({ tenant, key, measures }) => ({ tenant, ...measures.toItem(key) })),
    }
  }

  /** Drops buckets no view can reach at `now`, and keys left empty. */
  sweep(now: number): void {
    const horizon = horizonAt(now)
    for (const byTenant of this.#state.values()) {
      for (const [tenant, keys] of byTenant) {
        for (const [key, state] of keys) {
          trim(state.minutes, horizon.minute)
          trim(state.days, horizon.day)
          trim(state.months, horizon.month)
          if (state.empty) keys.delete(key)
        }
        if (keys.size === 0) byTenant.delete(tenant)
      }
    }
  }

  /** Keys held per dimension. */
  keyCounts(): Record<Dimension, number> {
    const counts = {} as Record<Dimension, number>
    for (const [dimension, byTenant] of this.#state) {
      let total = 0
      for (const keys of byTenant.values()) total += keys.size
      counts[dimension] = total
    }
    return counts
  }
}

function merged(state: KeyState, window: WindowName, asOf: number): SpendMeasures | undefined {
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

function compare<T extends bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0
}

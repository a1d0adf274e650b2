import {
  SpendMeasures,
  type CallGroup,
  type CallMeasures,
  type SpendItem,
} from './spend-measures.ts'
import {
  bucketAt,
  bucketsOf,
  horizonAt,
  KeyState,
  merged,
  trim,
  type Granularity,
} from './key-buckets.ts'
import { dayStart, minuteStart, monthStart, type WindowName } from './window-spans.ts'

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

/** A bucket that changed, with what it belongs to (for publishing its full value). */
export interface BucketChange {
  dimension: Dimension
  tenant: string
  key: string
  granularity: Granularity
  bucket: SpendMeasures
}

/** Which keys of which dimensions a windows object holds (scale-out ownership). */
export type KeyFilter = (dimension: Dimension, tenant: string, key: string) => boolean

export interface SpendWindowsOptions {
  /** Remember which buckets change, for `drainChanges` (the input side of scale-out). */
  trackChanges?: boolean
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
  readonly #trackChanges: boolean
  #changed: Array<{ dimension: Dimension; tenant: string; key: string; state: KeyState }> = []
  #tooOld = 0

  constructor(options: SpendWindowsOptions = {}) {
    this.#trackChanges = options.trackChanges ?? false
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

  /**
   * Counts a group of calls of one key and time (a window rebuilt from the audit), in the
   * dimensions `owns` accepts (all by default).
   */
  addGroup(
    keys: CallKeys,
    occurredAt: number,
    group: CallGroup,
    now: number,
    owns?: KeyFilter,
  ): void {
    this.#update(keys, occurredAt, now, group.calls, (bucket) => bucket.addGroup(group), owns)
  }

  #update(
    keys: CallKeys,
    occurredAt: number,
    now: number,
    calls: number,
    apply: (bucket: SpendMeasures) => void,
    owns?: KeyFilter,
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
      if (key === undefined || (owns && !owns(dimension, keys.tenant, key))) continue
      const state = this.#stateOf(dimension, keys.tenant, key)
      if (minute >= horizon.minute) this.#touch(bucketAt(state.minutes, minute), apply)
      if (day >= horizon.day) this.#touch(bucketAt(state.days, day), apply)
      this.#touch(bucketAt(state.months, month), apply)
      if (this.#trackChanges && !state.changed) {
        state.changed = true
        this.#changed.push({ dimension, tenant: keys.tenant, key, state })
      }
    }
  }

  #touch(bucket: SpendMeasures, apply: (bucket: SpendMeasures) => void): void {
    apply(bucket)
    if (this.#trackChanges) bucket.changed = true
  }

  #stateOf(dimension: Dimension, tenant: string, key: string): KeyState {
    const byTenant = this.#state.get(dimension)!
    let tenantKeys = byTenant.get(tenant)
    if (!tenantKeys) {
      tenantKeys = new Map()
      byTenant.set(tenant, tenantKeys)
    }
    let state = tenantKeys.get(key)
    if (!state) {
      state = new KeyState()
      tenantKeys.set(key, state)
    }
    return state
  }

  /** The buckets changed since the last call, each once; their change marks are cleared. */
  drainChanges(): BucketChange[] {
    const changes: BucketChange[] = []
    for (const { dimension, tenant, key, state } of this.#changed) {
      state.changed = false
      for (const granularity of ['minute', 'day', 'month'] as const)
        for (const bucket of bucketsOf(state, granularity)) {
          if (!bucket.changed) continue
          bucket.changed = false
          changes.push({ dimension, tenant, key, granularity, bucket })
        }
    }
    this.#changed = []
    return changes
  }

  /**
   * Sets a bucket to a full value published by the instance that counts it (scale-out). A
   * bucket's value only grows (calls are added, never removed), so of two values for the same
   * bucket the one with more calls is the newer: a late, repeated or replayed value never
   * replaces a newer one, and nothing is counted twice. Buckets past what is kept are ignored.
   */
  setBucket(change: Omit<BucketChange, 'bucket'> & { bucket: SpendMeasures }, now: number): void {
    if (change.bucket.start < horizonAt(now)[change.granularity]) return
    const buckets = bucketsOf(
      this.#stateOf(change.dimension, change.tenant, change.key),
      change.granularity,
    )
    const current = bucketAt(buckets, change.bucket.start)
    if (change.bucket.calls <= current.calls) return
    buckets[buckets.indexOf(current)] = change.bucket
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
    return combinedView([this], query)
  }

  /** Adds this object's measures of the query's keys to `into` (tenant NUL key -> measures). */
  collect(query: ViewQuery, into: Map<string, Found>): void {
    const byTenant = this.#state.get(query.dimension)!
    const tenants = query.tenant === undefined ? [...byTenant.keys()] : [query.tenant]
    for (const tenant of tenants) {
      const keys = byTenant.get(tenant)
      if (!keys) continue
      const entries: Iterable<[string, KeyState | undefined]> =
        query.key === undefined ? keys : [[query.key, keys.get(query.key)]]
      for (const [key, state] of entries) {
        const measures = state && merged(state, query.window, query.asOf)
        if (!measures) continue
        const id = `${tenant}\u0000${key}`
        const found = into.get(id)
        if (found) found.measures.merge(measures)
        else into.set(id, { tenant, key, measures })
      }
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

interface Found {
  tenant: string
  key: string
  measures: SpendMeasures
}

/**
 * One view over several windows objects holding parts of the same keys (an owner's share of
 * each input partition): their measures are summed per key, then ordered by cost.
 */
export function combinedView(sources: readonly SpendWindows[], query: ViewQuery): SpendView {
  const collected = new Map<string, Found>()
  for (const source of sources) source.collect(query, collected)
  const found = [...collected.values()].filter((f) => f.measures.calls > 0)
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

function compare<T extends bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0
}

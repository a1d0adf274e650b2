import type { Femtos } from '../../platform/money.ts'
import {
  DAY,
  MINUTE,
  MONTH,
  prepareCost,
  type PreparedCost,
  type Rank,
  SpendMeasures,
  type CallGroup,
  type CallMeasures,
  type SpendItem,
  type TotalsSum,
} from './spend-measures.ts'
import {
  addTotals,
  bucketAt,
  foldOpen,
  GRANULARITIES,
  horizonAt,
  KeyState,
  materialize,
  merged,
  spansOf,
  RANKS,
  replaceBucket,
  trim,
  type Granularity,
  type Horizon,
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

const DIMENSION_INDEX = Object.fromEntries(DIMENSIONS.map((d, i) => [d, i])) as Record<
  Dimension,
  number
>

export function isDimension(value: string): value is Dimension {
  return (DIMENSIONS as readonly string[]).includes(value)
}

/** The attribution of one call, as the windows key it. */
export interface CallKeys {
  tenant_id: string
  agent_id: string
  feature_id?: string | undefined
  user_id?: string | undefined
  session_id?: string | undefined
  team_id?: string | undefined
  model: string
  task_category?: string | undefined
}

/** What the windows read of a call (an llm_call event has all of it). */
export type WindowCall = CallKeys & CallMeasures & { occurred_at: number }

/** Agent x feature keys, made once per pair instead of once per call. */
const pairKeys = new Map<string, Map<string, string>>()
function pairKey(agent: string, feature: string): string {
  let byFeature = pairKeys.get(agent)
  if (!byFeature) {
    // Bounded: agent ids made per run must not grow this for ever.
    if (pairKeys.size >= 10_000) pairKeys.clear()
    byFeature = new Map()
    pairKeys.set(agent, byFeature)
  }
  let key = byFeature.get(feature)
  if (key === undefined) {
    key = `${agent}/${feature}`
    // Bounded: a flood of distinct pairs makes keys as before instead of growing this.
    if (byFeature.size < 10_000) byFeature.set(feature, key)
  }
  return key
}

/** The key of a call in a dimension; undefined when the call has none there (no user id). */
export function keyOf(dimension: Dimension, keys: CallKeys): string | undefined {
  switch (dimension) {
    case 'agent':
      return keys.agent_id
    case 'feature':
      return keys.feature_id
    case 'user':
      return keys.user_id
    case 'session':
      return keys.session_id
    case 'team':
      return keys.team_id
    case 'tenant':
      return keys.tenant_id
    case 'model':
      return keys.model
    case 'task_category':
      return keys.task_category
    case 'agent_feature':
      return keys.feature_id === undefined ? undefined : pairKey(keys.agent_id, keys.feature_id)
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
  /** Per tenant, one map of keys per dimension (in DIMENSIONS order). */
  readonly #tenants = new Map<string, Array<Map<string, KeyState>>>()
  readonly #trackChanges: boolean
  #changed: Array<{ dimension: Dimension; tenant: string; key: string; state: KeyState }> = []
  #tooOld = 0

  constructor(options: SpendWindowsOptions = {}) {
    this.#trackChanges = options.trackChanges ?? false
  }

  /** Calls not counted because their minute, day and month were all past what is kept. */
  get tooOld(): number {
    return this.#tooOld
  }

  /** Counts one call; `cost` is undefined when it is unpriced. */
  add(call: WindowCall, cost: Femtos | undefined, late: boolean, now: number): void {
    // The cost's number form and sketch bin are worked out once, not once per bucket; the
    // applier is reused, so counting a call allocates nothing of its own.
    this.#callApplier.set(call, prepareCost(cost), late)
    this.#update(call, call.occurred_at, now, 1, this.#callApplier)
  }

  readonly #callApplier = new CallApplier()

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
    this.#update(keys, occurredAt, now, group.calls, new GroupApplier(group), owns)
  }

  #update(
    keys: CallKeys,
    occurredAt: number,
    now: number,
    calls: number,
    applier: Applier,
    owns?: KeyFilter,
  ): void {
    const horizon = this.#horizonAt(now)
    const minute = minuteStart(occurredAt)
    const day = dayStart(occurredAt)
    const month = this.#monthOf(day)
    if (month < horizon[MONTH]) {
      this.#tooOld += calls
      return
    }
    const tenant = keys.tenant_id
    const maps = this.#mapsOf(tenant)
    for (let index = 0; index < DIMENSIONS.length; index++) {
      const dimension = DIMENSIONS[index]!
      const key = keyOf(dimension, keys)
      if (key === undefined || (owns && !owns(dimension, tenant, key))) continue
      const map = maps[index]!
      let state = map.get(key)
      if (!state) {
        state = new KeyState()
        map.set(key, state)
      }
      const open = state.open
      if (open !== undefined && open.start === minute) {
        // The usual case: a call of the current minute updates one bucket.
        this.#touch(open, applier)
      } else if (minute >= horizon[MINUTE] && minute > newestMinute(state)) {
        // A new newest minute: the previous one goes into its day and month.
        for (const bucket of foldOpen(state, horizon)) this.#marked(bucket)
        const bucket = bucketAt(state, MINUTE, minute)
        this.#touch(bucket, applier)
        state.open = bucket
      } else {
        // An older minute (a late call), or the newest one already folded: every span at once.
        if (minute >= horizon[MINUTE]) this.#touch(bucketAt(state, MINUTE, minute), applier)
        if (day >= horizon[DAY]) this.#touch(bucketAt(state, DAY, day), applier)
        this.#touch(bucketAt(state, MONTH, month), applier)
      }
      if (this.#trackChanges && !state.changed) {
        state.changed = true
        this.#changed.push({ dimension, tenant, key, state })
      }
    }
  }

  // Calendar arithmetic (Date objects) once per minute of the clock and per day of event time,
  // not once per event.
  #horizonMinute = Number.NaN
  #horizon: Horizon | undefined
  #monthDay = Number.NaN
  #month = 0

  #horizonAt(now: number): Horizon {
    const minute = minuteStart(now)
    if (minute !== this.#horizonMinute || !this.#horizon) {
      this.#horizon = horizonAt(minute)
      this.#horizonMinute = minute
    }
    return this.#horizon
  }

  #monthOf(day: number): number {
    if (day !== this.#monthDay) {
      this.#month = monthStart(day)
      this.#monthDay = day
    }
    return this.#month
  }

  #touch(bucket: SpendMeasures, applier: Applier): void {
    applier.apply(bucket)
    if (this.#trackChanges) bucket.changed = true
  }

  #marked(bucket: SpendMeasures): void {
    if (this.#trackChanges) bucket.changed = true
  }

  #mapsOf(tenant: string): Array<Map<string, KeyState>> {
    let maps = this.#tenants.get(tenant)
    if (!maps) {
      maps = DIMENSIONS.map(() => new Map<string, KeyState>())
      this.#tenants.set(tenant, maps)
    }
    return maps
  }

  #stateOf(dimension: Dimension, tenant: string, key: string): KeyState {
    const map = this.#mapsOf(tenant)[DIMENSION_INDEX[dimension]]!
    let state = map.get(key)
    if (!state) {
      state = new KeyState()
      map.set(key, state)
    }
    return state
  }

  /**
   * The buckets changed since the last call, each once, as full values (a day or month
   * includes the open minute); their change marks are cleared.
   */
  drainChanges(): BucketChange[] {
    const changes: BucketChange[] = []
    for (const { dimension, tenant, key, state } of this.#changed) {
      state.changed = false
      const spans = new Map<string, { rank: Rank; start: number }>()
      const open = state.open
      if (open?.changed) {
        const { day, month } = spansOf(open.start)
        spans.set(`${DAY}:${day}`, { rank: DAY, start: day })
        spans.set(`${MONTH}:${month}`, { rank: MONTH, start: month })
      }
      for (const bucket of state.buckets) {
        if (!bucket.changed) continue
        bucket.changed = false
        if (bucket.rank === MINUTE)
          changes.push({ dimension, tenant, key, granularity: 'minute', bucket })
        else spans.set(`${bucket.rank}:${bucket.start}`, bucket)
      }
      for (const { rank, start } of spans.values())
        changes.push({
          dimension,
          tenant,
          key,
          granularity: GRANULARITIES[rank],
          bucket: materialize(state, rank, start),
        })
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
    const rank = RANKS[change.granularity]
    if (change.bucket.start < horizonAt(now)[rank]) return
    const state = this.#stateOf(change.dimension, change.tenant, change.key)
    // Published values are full values: an open minute of this copy is closed first.
    foldOpen(state, horizonAt(now))
    const current = bucketAt(state, rank, change.bucket.start)
    if (change.bucket.calls <= current.calls) return
    replaceBucket(state, current, change.bucket)
  }

  /** Adds one key's calls, cost and tokens in a window as of `asOf` to `sum` (detectors). */
  addTotals(
    dimension: Dimension,
    tenant: string,
    key: string,
    window: WindowName,
    asOf: number,
    sum: TotalsSum,
  ): void {
    const state = this.#tenants.get(tenant)?.[DIMENSION_INDEX[dimension]]?.get(key)
    if (state) addTotals(state, window, asOf, sum)
  }

  /** The keys of a dimension in a window, most expensive first (ties by tenant, key). */
  view(query: ViewQuery): SpendView {
    return combinedView([this], query)
  }

  /** Adds this object's measures of the query's keys to `into` (tenant NUL key -> measures). */
  collect(query: ViewQuery, into: Map<string, Found>): void {
    const index = DIMENSION_INDEX[query.dimension]
    const tenants = query.tenant === undefined ? [...this.#tenants.keys()] : [query.tenant]
    for (const tenant of tenants) {
      const keys = this.#tenants.get(tenant)?.[index]
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
    for (const [tenant, maps] of this.#tenants) {
      maps.forEach((keys, index) => {
        for (const [key, state] of keys) {
          const folding = state.open !== undefined && state.open.start < horizon[MINUTE]
          if (!trim(state, horizon)) keys.delete(key)
          else if (folding && this.#trackChanges) {
            // The day and month the minute went into are published again (same full values).
            for (const bucket of state.buckets) if (bucket.rank !== MINUTE) bucket.changed = true
            if (!state.changed) {
              state.changed = true
              this.#changed.push({ dimension: DIMENSIONS[index]!, tenant, key, state })
            }
          }
        }
      })
      if (maps.every((keys) => keys.size === 0)) this.#tenants.delete(tenant)
    }
  }

  /** Keys held per dimension. */
  keyCounts(): Record<Dimension, number> {
    const counts = Object.fromEntries(DIMENSIONS.map((d) => [d, 0])) as Record<Dimension, number>
    for (const maps of this.#tenants.values())
      maps.forEach((keys, index) => (counts[DIMENSIONS[index]!] += keys.size))
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
  // Each key's exact cost is made once, not once per comparison.
  const found = [...collected.values()]
    .filter((f) => f.measures.calls > 0)
    .map((f) => ({ ...f, cost: f.measures.cost }))
  found.sort(
    (a, b) => compare(b.cost, a.cost) || compare(a.tenant, b.tenant) || compare(a.key, b.key),
  )
  const shown = query.limit === undefined ? found : found.slice(0, query.limit)
  return {
    dimension: query.dimension,
    window: query.window,
    as_of: new Date(query.asOf).toISOString(),
    items: shown.map(({ tenant, key, measures }) => ({ tenant, ...measures.toItem(key) })),
  }
}

/** What a count adds to each bucket it reaches. */
interface Applier {
  apply(bucket: SpendMeasures): void
}

class CallApplier implements Applier {
  #call: CallMeasures | undefined
  #cost: PreparedCost | undefined
  #late = false

  set(call: CallMeasures, cost: PreparedCost, late: boolean): void {
    this.#call = call
    this.#cost = cost
    this.#late = late
  }

  apply(bucket: SpendMeasures): void {
    bucket.add(this.#call!, this.#cost!, this.#late)
  }
}

class GroupApplier implements Applier {
  readonly #group: CallGroup

  constructor(group: CallGroup) {
    this.#group = group
  }

  apply(bucket: SpendMeasures): void {
    bucket.addGroup(this.#group)
  }
}

/** The start of a key's newest minute bucket (minutes are last in its array). */
function newestMinute(state: KeyState): number {
  const last = state.buckets[state.buckets.length - 1]
  return last?.rank === MINUTE ? last.start : Number.NEGATIVE_INFINITY
}

function compare<T extends bigint | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0
}

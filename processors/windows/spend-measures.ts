import {
  FEMTOS_PER_USD,
  formatUsd,
  numberToDecimalString,
  parseUsd,
  type Femtos,
} from '../../platform/money.ts'
import { binOf, CostSketch, type SketchWire } from './cost-sketch.ts'

/** What one call (or a group of identical calls, `weight` of them) adds to a window. */
export interface CallMeasures {
  status: 'ok' | 'error' | 'timeout' | 'blocked'
  input_tokens: number
  output_tokens: number
  cache_read_tokens: number
  cache_write_tokens: number
  reasoning_tokens: number
  latency_ms?: number | undefined
}

/** Failures are calls that did not complete: errors and timeouts (a blocked call never ran). */
const isFailure = (status: CallMeasures['status']): boolean =>
  status === 'error' || status === 'timeout'

/**
 * Calls already summed (from the audit, when windows are rebuilt): totals over `calls` calls
 * that each cost `costPerCall` (undefined: unpriced).
 */
export interface CallGroup {
  calls: number
  failures: number
  late: number
  inputTokens: number
  outputTokens: number
  cacheReadTokens: number
  cacheWriteTokens: number
  reasoningTokens: number
  latencySum: number
  latencyCount: number
  latencyMax: number
  costPerCall: Femtos | undefined
}

/** The measures of one window of one key, as `/v1/spend` and `spendguard status` show them. */
export interface SpendItem {
  key: string
  calls: number
  failures: number
  late_calls: number
  unpriced_calls: number
  input_tokens: number
  output_tokens: number
  cache_read_tokens: number
  cache_write_tokens: number
  reasoning_tokens: number
  cost_usd: string
  avg_latency_ms: number | null
  max_latency_ms: number | null
  p50_cost_usd: string | null
  p95_cost_usd: string | null
  p99_cost_usd: string | null
}

const FEMTOS_IN_USD = 1e15

/** A bucket's full value as plain data (spend-deltas); the cost as an exact decimal string. */
export interface MeasuresWire {
  start: number
  calls: number
  failures: number
  late: number
  unpriced: number
  input: number
  output: number
  cache_read: number
  cache_write: number
  reasoning: number
  latency_sum: number
  latency_count: number
  latency_max: number
  cost_usd: string
  sketch: SketchWire
}

/** A call's cost prepared once for all the buckets it is counted in. */
/**
 * Calls, cost and tokens summed over buckets, for detectors: cost as whole dollars plus
 * femto-dollars (each a safe integer for any realistic number of buckets), no bigint per bucket.
 */
export interface TotalsSum {
  calls: number
  dollars: number
  femtos: number
  tokens: number
}

export interface PreparedCost {
  /** Exact femto-USD; undefined when the call is unpriced. */
  exact: Femtos | undefined
  /** The same as a number (exact while it is a safe integer). */
  each: number
  /** Its quantile-sketch bin. */
  bin: number
}

export function prepareCost(cost: Femtos | undefined): PreparedCost {
  if (cost === undefined) return { exact: undefined, each: 0, bin: 0 }
  const each = Number(cost)
  return { exact: cost, each, bin: binOf(each / 1e15) }
}

/** Bucket granularities, in the order a key's buckets are kept: months, days, minutes. */
export const MONTH = 0
export const DAY = 1
export const MINUTE = 2
export type Rank = typeof MONTH | typeof DAY | typeof MINUTE

/**
 * Running totals for one key over one span of event time (a minute, a UTC day or month), with
 * the quantile sketch of its cost per call in the same object (one allocation per bucket).
 * Cost is exact: a safe integer of femto-USD while it fits (no allocation per call on the hot
 * path), a bigint beyond.
 */
export class SpendMeasures extends CostSketch {
  /** Start of the span, epoch ms (a minute, day or month boundary). */
  readonly start: number
  readonly rank: Rank
  calls = 0
  failures = 0
  late = 0
  unpriced = 0
  inputTokens = 0
  outputTokens = 0
  cacheReadTokens = 0
  cacheWriteTokens = 0
  reasoningTokens = 0
  latencySum = 0
  latencyCount = 0
  latencyMax = 0
  /** Changed since its windows last drained their changes (scale-out input side). */
  changed = false
  /** Exact cost: whole dollars and the femto-dollars below one dollar, both safe integers. */
  #dollars = 0
  #femtos = 0
  constructor(start: number, rank: Rank = MINUTE) {
    super()
    this.start = start
    this.rank = rank
  }

  toWire(): MeasuresWire {
    return {
      start: this.start,
      calls: this.calls,
      failures: this.failures,
      late: this.late,
      unpriced: this.unpriced,
      input: this.inputTokens,
      output: this.outputTokens,
      cache_read: this.cacheReadTokens,
      cache_write: this.cacheWriteTokens,
      reasoning: this.reasoningTokens,
      latency_sum: this.latencySum,
      latency_count: this.latencyCount,
      latency_max: this.latencyMax,
      cost_usd: formatUsd(this.cost),
      sketch: this.sketchWire(),
    }
  }

  static fromWire(wire: MeasuresWire, rank: Rank): SpendMeasures {
    const measures = new SpendMeasures(wire.start, rank)
    measures.calls = wire.calls
    measures.failures = wire.failures
    measures.late = wire.late
    measures.unpriced = wire.unpriced
    measures.inputTokens = wire.input
    measures.outputTokens = wire.output
    measures.cacheReadTokens = wire.cache_read
    measures.cacheWriteTokens = wire.cache_write
    measures.reasoningTokens = wire.reasoning
    measures.latencySum = wire.latency_sum
    measures.latencyCount = wire.latency_count
    measures.latencyMax = wire.latency_max
    measures.#addCost(Number.NaN, parseUsd(wire.cost_usd))
    measures.loadSketch(wire.sketch)
    return measures
  }

  get cost(): Femtos {
    return BigInt(this.#dollars) * FEMTOS_PER_USD + BigInt(this.#femtos)
  }

  /** Counts one call; `cost` is its cost prepared once (`prepareCost`). */
  add(call: CallMeasures, cost: PreparedCost, late: boolean): void {
    this.calls++
    if (isFailure(call.status)) this.failures++
    if (late) this.late++
    this.inputTokens += call.input_tokens
    this.outputTokens += call.output_tokens
    this.cacheReadTokens += call.cache_read_tokens
    this.cacheWriteTokens += call.cache_write_tokens
    this.reasoningTokens += call.reasoning_tokens
    const latency = call.latency_ms
    if (latency !== undefined) {
      this.latencySum += latency
      this.latencyCount++
      if (latency > this.latencyMax) this.latencyMax = latency
    }
    if (cost.exact === undefined) {
      this.unpriced++
      return
    }
    this.#addCost(cost.each, cost.exact)
    this.recordBin(cost.bin)
  }

  addGroup(group: CallGroup): void {
    this.calls += group.calls
    this.failures += group.failures
    this.late += group.late
    this.inputTokens += group.inputTokens
    this.outputTokens += group.outputTokens
    this.cacheReadTokens += group.cacheReadTokens
    this.cacheWriteTokens += group.cacheWriteTokens
    this.reasoningTokens += group.reasoningTokens
    this.latencySum += group.latencySum
    this.latencyCount += group.latencyCount
    if (group.latencyMax > this.latencyMax) this.latencyMax = group.latencyMax
    this.#addCalls(group.costPerCall, group.calls)
  }

  merge(other: SpendMeasures): void {
    this.calls += other.calls
    this.failures += other.failures
    this.late += other.late
    this.unpriced += other.unpriced
    this.inputTokens += other.inputTokens
    this.outputTokens += other.outputTokens
    this.cacheReadTokens += other.cacheReadTokens
    this.cacheWriteTokens += other.cacheWriteTokens
    this.reasoningTokens += other.reasoningTokens
    this.latencySum += other.latencySum
    this.latencyCount += other.latencyCount
    if (other.latencyMax > this.latencyMax) this.latencyMax = other.latencyMax
    this.#dollars += other.#dollars
    this.#addCost(other.#femtos)
    this.mergeSketch(other)
  }

  /** Adds calls, exact cost and tokens to a running sum (no sketch, no allocation). */
  addTotalsTo(sum: TotalsSum): void {
    sum.calls += this.calls
    sum.dollars += this.#dollars
    sum.femtos += this.#femtos
    // Carried at once: a sum of many remainders would pass 2^53 and stop being exact.
    if (sum.femtos >= FEMTOS_IN_USD) {
      sum.femtos -= FEMTOS_IN_USD
      sum.dollars++
    }
    sum.tokens += this.inputTokens + this.outputTokens
  }

  toItem(key: string): SpendItem {
    return {
      key,
      calls: this.calls,
      failures: this.failures,
      late_calls: this.late,
      unpriced_calls: this.unpriced,
      input_tokens: this.inputTokens,
      output_tokens: this.outputTokens,
      cache_read_tokens: this.cacheReadTokens,
      cache_write_tokens: this.cacheWriteTokens,
      reasoning_tokens: this.reasoningTokens,
      cost_usd: formatUsd(this.cost),
      avg_latency_ms:
        this.latencyCount === 0 ? null : Math.round(this.latencySum / this.latencyCount),
      max_latency_ms: this.latencyCount === 0 ? null : this.latencyMax,
      p50_cost_usd: usdEstimate(this.quantile(0.5)),
      p95_cost_usd: usdEstimate(this.quantile(0.95)),
      p99_cost_usd: usdEstimate(this.quantile(0.99)),
    }
  }

  /** `count` calls of `perCall` each: the exact sum and the sketch. */
  #addCalls(perCall: Femtos | undefined, count: number): void {
    if (perCall === undefined) {
      this.unpriced += count
      return
    }
    const each = Number(perCall)
    this.#addCost(each * count, perCall * BigInt(count))
    this.recordValue(each / 1e15, count)
  }

  /**
   * Adds an amount of femto-USD: `amount` when it is a safe integer (the hot path, no bigint
   * arithmetic), otherwise `exact`. Both parts stay safe integers, so the sum is exact at any
   * size without allocating per call.
   */
  #addCost(amount: number, exact?: Femtos): void {
    let dollars: number
    let femtos: number
    if (Number.isSafeInteger(amount)) {
      dollars = Math.floor(amount / FEMTOS_IN_USD)
      femtos = amount - dollars * FEMTOS_IN_USD
      // The division is rounded; the remainder says which way.
      if (femtos < 0) {
        dollars--
        femtos += FEMTOS_IN_USD
      } else if (femtos >= FEMTOS_IN_USD) {
        dollars++
        femtos -= FEMTOS_IN_USD
      }
    } else {
      const value = exact ?? BigInt(amount)
      dollars = Number(value / FEMTOS_PER_USD)
      femtos = Number(value % FEMTOS_PER_USD)
    }
    this.#dollars += dollars
    this.#femtos += femtos
    if (this.#femtos >= FEMTOS_IN_USD) {
      this.#femtos -= FEMTOS_IN_USD
      this.#dollars++
    }
  }
}

/** A quantile estimate as a decimal USD string of six significant digits. */
function usdEstimate(value: number | undefined): string | null {
  if (value === undefined) return null
  return numberToDecimalString(Number(value.toPrecision(6)))
}

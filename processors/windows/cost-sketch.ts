/**
 * A mergeable quantile sketch with a relative-error guarantee (the DDSketch idea: values fall
 * into logarithmic bins whose width is a fixed fraction of their value). Any quantile it
 * returns is within `SKETCH_RELATIVE_ACCURACY` of the true value of that rank, for any data and
 * after any number of merges, so per-minute sketches can be summed into 15-minute, hour, day
 * and month views without losing the bound.
 *
 * Built for millions of small sketches (one per key and bucket): a sketch whose values share
 * one bin (the common case: a session's calls cost about the same) holds it in two fields; more
 * bins go to one array of (index, count) pairs. Values are USD per call, non-negative.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01

const GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY)
const LOG_GAMMA = Math.log(GAMMA)
/** Below this a value counts as zero: one femto-dollar, the smallest cost there is. */
const MIN_VALUE = 1e-15
/** The bin of zero values. */
export const ZERO_BIN = -0x80000000

/** The bin of a value; compute it once per call, then record it into every bucket. */
export function binOf(value: number): number {
  return value < MIN_VALUE ? ZERO_BIN : Math.ceil(Math.log(value) / LOG_GAMMA)
}

/** The value a bin answers with: the point of least relative error in (gamma^(k-1), gamma^k]. */
const valueOf = (bin: number): number => (bin === ZERO_BIN ? 0 : (2 * GAMMA ** bin) / (GAMMA + 1))

/** A sketch as plain data, for the spend-deltas topic. */
export interface SketchWire {
  z: number
  i: number[]
  n: number[]
}

export class CostSketch {
  /** The only bin while there is one (NaN otherwise), and its count. */
  #bin = Number.NaN
  #binCount = 0
  /** All bins once there are several: index, count, index, count..., ascending. */
  #bins: number[] | undefined = undefined

  /** Values recorded (counted when asked: one field less per sketch). */
  get sketched(): number {
    let total = 0
    this.#eachBin((_bin, count) => (total += count))
    return total
  }

  /** Records `weight` values of `bin` (from `binOf`). */
  recordBin(bin: number, weight = 1): void {
    if (this.#bins === undefined) {
      if (this.#binCount === 0 || this.#bin === bin) {
        this.#bin = bin
        this.#binCount += weight
        return
      }
      this.#bins = [this.#bin, this.#binCount]
      this.#bin = Number.NaN
      this.#binCount = 0
    }
    this.#bins = insertPair(this.#bins, bin, weight)
  }

  /** Records `weight` values of `value` USD. */
  recordValue(value: number, weight = 1): void {
    this.recordBin(binOf(value), weight)
  }

  mergeSketch(other: CostSketch): void {
    other.#eachBin((bin, count) => this.recordBin(bin, count))
  }

  /**
   * The value at rank `q * (count - 1)` (q in [0, 1]), within the relative accuracy;
   * undefined for an empty sketch.
   */
  quantile(q: number): number | undefined {
    const sketched = this.sketched
    if (sketched === 0) return undefined
    const rank = Math.floor(q * (sketched - 1))
    let seen = 0
    let answer: number | undefined
    this.#eachBin((bin, count) => {
      if (answer !== undefined) return
      seen += count
      if (rank < seen) answer = valueOf(bin)
    })
    return answer
  }

  /** Distinct bins held, for the memory benchmark. */
  get bins(): number {
    return this.#bins === undefined ? (this.#binCount > 0 ? 1 : 0) : this.#bins.length / 2
  }

  sketchWire(): SketchWire {
    const wire: SketchWire = { z: 0, i: [], n: [] }
    this.#eachBin((bin, count) => {
      if (bin === ZERO_BIN) wire.z += count
      else {
        wire.i.push(bin)
        wire.n.push(count)
      }
    })
    return wire
  }

  /** Adds the bins of a wire sketch to this one. */
  loadSketch(wire: SketchWire): void {
    if (wire.z > 0) this.recordBin(ZERO_BIN, wire.z)
    wire.i.forEach((bin, at) => this.recordBin(bin, wire.n[at]))
  }

  #eachBin(visit: (bin: number, count: number) => void): void {
    if (this.#bins === undefined) {
      if (this.#binCount > 0) visit(this.#bin, this.#binCount)
      return
    }
    for (let at = 0; at < this.#bins.length; at += 2) visit(this.#bins[at]!, this.#bins[at + 1]!)
  }
}

/** Adds `weight` to a bin of an ascending pair list, or inserts the bin (an exact-size copy). */
function insertPair(pairs: number[], bin: number, weight: number): number[] {
  const at = pairsAfter(pairs, bin)
  if (at > 0 && pairs[at - 2] === bin) {
    pairs[at - 1]! += weight
    return pairs
  }
  const next = new Array<number>(pairs.length + 2)
  for (let i = 0; i < at; i++) next[i] = pairs[i]!
  next[at] = bin
  next[at + 1] = weight
  for (let i = at; i < pairs.length; i++) next[i + 2] = pairs[i]!
  return next
}

/**
 * The position just past the last pair whose bin is at most `bin`. A short list is scanned
 * from its end (new costs of a key tend to fall in its newest bins); a long one, the minute
 * bucket of a busy key with a wide spread of costs, is searched by halves.
 */
function pairsAfter(pairs: number[], bin: number): number {
  const length = pairs.length
  if (length <= 16) {
    let at = length
    while (at > 0 && pairs[at - 2]! > bin) at -= 2
    return at
  }
  // Pairs [0, low) have bins <= bin, pairs [high, count) bins > bin (in pairs, not slots).
  let low = 0
  let high = length >> 1
  while (low < high) {
    const middle = (low + high) >> 1
    if (pairs[middle * 2]! <= bin) low = middle + 1
    else high = middle
  }
  return low * 2
}

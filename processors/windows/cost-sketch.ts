/**
 * A mergeable quantile sketch with a relative-error guarantee (the DDSketch idea: values fall
 * into logarithmic bins whose width is a fixed fraction of their value). Any quantile it
 * returns is within `relativeAccuracy` of the true value of that rank, for any data and after
 * any number of merges, so per-minute sketches can be summed into 15-minute, hour, day and
 * month views without losing the bound.
 *
 * Built for many small sketches (one per key and bucket): bins are two sorted number arrays,
 * and a sketch of a few calls holds a few bins. Values are USD per call, non-negative.
 */
export const SKETCH_RELATIVE_ACCURACY = 0.01

const GAMMA = (1 + SKETCH_RELATIVE_ACCURACY) / (1 - SKETCH_RELATIVE_ACCURACY)
const LOG_GAMMA = Math.log(GAMMA)
/** Below this a value counts as zero: one femto-dollar, the smallest cost there is. */
const MIN_VALUE = 1e-15

/** A sketch as plain data, for the spend-deltas topic. */
export interface SketchWire {
  z: number
  i: number[]
  n: number[]
}

export class CostSketch {
  /** Bin indexes, ascending; counts[i] values fell in bin indexes[i]. */
  #indexes: number[] = []
  #counts: number[] = []
  #zeros = 0
  #count = 0

  get count(): number {
    return this.#count
  }

  /** Adds `value` (USD) `weight` times. */
  add(value: number, weight = 1): void {
    this.#count += weight
    if (value < MIN_VALUE) {
      this.#zeros += weight
      return
    }
    this.#addToBin(Math.ceil(Math.log(value) / LOG_GAMMA), weight)
  }

  merge(other: CostSketch): void {
    this.#count += other.#count
    this.#zeros += other.#zeros
    for (let i = 0; i < other.#indexes.length; i++)
      this.#addToBin(other.#indexes[i]!, other.#counts[i]!)
  }

  /**
   * The value at rank `q * (count - 1)` (q in [0, 1]), within the relative accuracy;
   * undefined for an empty sketch.
   */
  quantile(q: number): number | undefined {
    if (this.#count === 0) return undefined
    const rank = Math.floor(q * (this.#count - 1))
    let seen = this.#zeros
    if (rank < seen) return 0
    for (let i = 0; i < this.#indexes.length; i++) {
      seen += this.#counts[i]!
      // The bin (gamma^(k-1), gamma^k] is answered by the point of least relative error in it.
      if (rank < seen) return (2 * GAMMA ** this.#indexes[i]!) / (GAMMA + 1)
    }
    return (2 * GAMMA ** this.#indexes[this.#indexes.length - 1]!) / (GAMMA + 1)
  }

  /** The sketch as plain data: zeros, bin indexes and their counts. */
  toWire(): SketchWire {
    return { z: this.#zeros, i: [...this.#indexes], n: [...this.#counts] }
  }

  static fromWire(wire: SketchWire): CostSketch {
    const sketch = new CostSketch()
    sketch.#zeros = wire.z
    sketch.#indexes = [...wire.i]
    sketch.#counts = [...wire.n]
    sketch.#count = wire.z + wire.n.reduce((sum, n) => sum + n, 0)
    return sketch
  }

  /** Bins held, for the memory benchmark. */
  get bins(): number {
    return this.#indexes.length + (this.#zeros > 0 ? 1 : 0)
  }

  #addToBin(index: number, weight: number): void {
    const indexes = this.#indexes
    // Costs of one key cluster in few bins; the last bin is the usual hit.
    let at = indexes.length
    if (at > 0 && indexes[at - 1]! >= index) {
      let lo = 0
      let hi = at - 1
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (indexes[mid]! < index) lo = mid + 1
        else hi = mid
      }
      at = lo
      if (indexes[at] === index) {
        this.#counts[at]! += weight
        return
      }
    }
    indexes.splice(at, 0, index)
    this.#counts.splice(at, 0, weight)
  }
}

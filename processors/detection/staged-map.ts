const DELETED = Symbol('deleted')

/** One batch's pending changes, across every staged map a detector keeps. */
export type Stage = object

/**
 * Which batch the detectors are judging a call of: set by the detection engine before each
 * call (judging is synchronous, so no other batch runs in between).
 */
export interface StageCursor {
  current: Stage
}

/**
 * Detector state changed by a batch of calls only once the batch is settled. Each batch has a
 * stage of its own (batches of several partitions are judged at the same time): its reads see
 * what is committed plus its own changes, `commit` keeps them, `discard` forgets them, so a
 * batch that fails and comes again is judged as the first time. Values are replaced, never
 * changed in place.
 */
export class StagedMap<K, V> {
  readonly #committed = new Map<K, V>()
  readonly #stages = new WeakMap<Stage, Map<K, V | typeof DELETED>>()

  constructor(private readonly cursor: StageCursor) {}

  #changes(stage: Stage): Map<K, V | typeof DELETED> {
    let changes = this.#stages.get(stage)
    if (!changes) {
      changes = new Map()
      this.#stages.set(stage, changes)
    }
    return changes
  }

  get(key: K): V | undefined {
    const staged = this.#stages.get(this.cursor.current)?.get(key)
    if (staged === DELETED) return undefined
    return staged ?? this.#committed.get(key)
  }

  set(key: K, value: V): void {
    this.#changes(this.cursor.current).set(key, value)
  }

  delete(key: K): void {
    this.#changes(this.cursor.current).set(key, DELETED)
  }

  commit(stage: Stage): void {
    const changes = this.#stages.get(stage)
    if (!changes) return
    for (const [key, value] of changes) {
      if (value === DELETED) this.#committed.delete(key)
      else this.#committed.set(key, value)
    }
    this.#stages.delete(stage)
  }

  discard(stage: Stage): void {
    this.#stages.delete(stage)
  }

  /** Drops committed entries that `stale` says no rule can need any more. */
  sweep(stale: (value: V, key: K) => boolean): void {
    for (const [key, value] of this.#committed) if (stale(value, key)) this.#committed.delete(key)
  }

  get size(): number {
    return this.#committed.size
  }
}

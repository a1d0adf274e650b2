const DELETED = Symbol('deleted')

/**
 * Detector state changed by a batch of calls only once the batch is settled: reads see the
 * batch's own changes, `commit` keeps them, `discard` forgets them (a batch that fails and comes
 * again is then judged exactly as the first time). Values are replaced, never changed in place.
 */
export class StagedMap<K, V> {
  readonly #committed = new Map<K, V>()
  readonly #staged = new Map<K, V | typeof DELETED>()

  get(key: K): V | undefined {
    const staged = this.#staged.get(key)
    if (staged === DELETED) return undefined
    return staged ?? this.#committed.get(key)
  }

  set(key: K, value: V): void {
    this.#staged.set(key, value)
  }

  delete(key: K): void {
    this.#staged.set(key, DELETED)
  }

  commit(): void {
    for (const [key, value] of this.#staged) {
      if (value === DELETED) this.#committed.delete(key)
      else this.#committed.set(key, value)
    }
    this.#staged.clear()
  }

  discard(): void {
    this.#staged.clear()
  }

  /** Drops committed entries that `stale` says no rule can need any more. */
  sweep(stale: (value: V, key: K) => boolean): void {
    for (const [key, value] of this.#committed) if (stale(value, key)) this.#committed.delete(key)
  }

  get size(): number {
    return this.#committed.size
  }
}

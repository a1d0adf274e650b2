/**
 * State per partition that is built once (from the audit) before it is used: a build in
 * flight is shared by everyone who asks for the partition meanwhile, and a failed build is
 * forgotten, so the next request builds again.
 */
export class PartitionStates<V> {
  readonly #ready = new Map<number, V>()
  readonly #building = new Map<number, Promise<void>>()

  /** Resolves once the partition's state is built; `build` runs only if it is not held yet. */
  ensure(partition: number, build: () => Promise<V>): Promise<void> {
    if (this.#ready.has(partition)) return Promise.resolve()
    let building = this.#building.get(partition)
    if (!building) {
      building = build().then(
        (state) => {
          this.#ready.set(partition, state)
          this.#building.delete(partition)
        },
        (error: unknown) => {
          this.#building.delete(partition)
          throw error
        },
      )
      this.#building.set(partition, building)
    }
    return building
  }

  get(partition: number): V | undefined {
    return this.#ready.get(partition)
  }

  delete(partition: number): void {
    this.#ready.delete(partition)
  }

  /** The partitions held, ascending. */
  partitions(): number[] {
    return [...this.#ready.keys()].sort((a, b) => a - b)
  }

  values(): IterableIterator<V> {
    return this.#ready.values()
  }
}

/**
 * A bounded set of recently seen ids, oldest evicted first. It lets the sink drop a repeated
 * event without asking the store; the store lookup remains the authority after eviction.
 */
export class RecentIds {
  readonly #capacity: number
  readonly #ids = new Set<string>()

  constructor(capacity: number) {
    this.#capacity = capacity
  }

  has(id: string): boolean {
    return this.#ids.has(id)
  }

  add(id: string): void {
    if (this.#ids.has(id)) return
    this.#ids.add(id)
    if (this.#ids.size > this.#capacity) {
      const oldest = this.#ids.values().next()
      if (!oldest.done) this.#ids.delete(oldest.value)
    }
  }

  get size(): number {
    return this.#ids.size
  }
}

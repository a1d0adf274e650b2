/**
 * A bounded set of recently seen ids, oldest evicted first. It lets the sink drop a repeated
 * event without asking the store; the store lookup remains the authority after eviction.
 *
 * The eviction order is kept in a ring of the ids, not read from the Set: taking the first
 * entry of a Set that has had many deletions walks over their holes, which made every add slow
 * once the set was full (ingest fell from 10k to 4k events/s after 200,000 ids).
 */
export class RecentIds {
  readonly #capacity: number
  readonly #ids = new Set<string>()
  readonly #ring: Array<string | undefined>
  #next = 0

  constructor(capacity: number) {
    this.#capacity = capacity
    this.#ring = new Array<string | undefined>(capacity)
  }

  has(id: string): boolean {
    return this.#ids.has(id)
  }

  add(id: string): void {
    if (this.#capacity === 0 || this.#ids.has(id)) return
    const evicted = this.#ring[this.#next]
    if (evicted !== undefined) this.#ids.delete(evicted)
    this.#ring[this.#next] = id
    this.#next = (this.#next + 1) % this.#capacity
    this.#ids.add(id)
  }

  get size(): number {
    return this.#ids.size
  }
}

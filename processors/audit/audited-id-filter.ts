import type { ClickHouseClient } from '@clickhouse/client'
import type { Logger } from '../../platform/logger.ts'
import type { AuditStore } from './audit-store.ts'

/**
 * A Bloom filter over the event ids of the embedded audit: "no" is certain, "maybe" is asked
 * of the store. Looking random ids up in `llm_call_ids` reads most of its granules whatever
 * the table's size (5,000 ids against 5 million rows: 64 % of them, about 100 ms of CPU), so
 * the lookup grew with the audit; with the filter only the few ids it cannot rule out are
 * looked up.
 *
 * Sound only where this process is the audit's one writer (embedded: chDB locks the data
 * directory); on a shared ClickHouse other processes write ids this filter never sees.
 */
export class AuditedIdFilter {
  /** Oldest first; ids go into the newest. A layer full to its capacity gets a successor. */
  readonly #layers: BloomLayer[]

  constructor(capacity: number) {
    this.#layers = [new BloomLayer(capacity)]
  }

  /** Ids added (repeats counted). */
  get added(): number {
    return this.#layers.reduce((sum, layer) => sum + layer.added, 0)
  }

  /** Ids the layers were sized for, in all; past it a new layer is made. */
  get capacity(): number {
    return this.#layers.reduce((sum, layer) => sum + layer.capacity, 0)
  }

  /** Bloom filters kept: one, plus one for each time the audit outgrew them (twice the size). */
  get layers(): number {
    return this.#layers.length
  }

  add(eventId: string): void {
    this.addHashes(murmurHash3_32(eventId), murmurHash3_32(eventId, true))
  }

  /**
   * Adds an id by its two hashes, as ClickHouse computes them over the id's text:
   * `murmurHash3_32(id)` picks its block, `murmurHash3_32(reverse(id))` its bits there. One
   * 32-bit hash alone lets a new id match one of n audited ids with a chance of n in 2^32
   * (one in 1,000 at 4 million), however many bits the filter has (ADR 0002).
   */
  addHashes(block: number, bits: number): void {
    let newest = this.#layers[this.#layers.length - 1]!
    if (newest.added >= newest.capacity) {
      // Each layer, full or filling, answers false "maybe" for a few ids in a million (an
      // audit 30 times what it was at start has 5 layers). A restart sizes one layer for the
      // whole audit again.
      newest = new BloomLayer(newest.capacity * 2)
      this.#layers.push(newest)
    }
    newest.add(block, bits)
  }

  /** False: the id was never added. True: it may have been. */
  mightHold(eventId: string): boolean {
    const block = murmurHash3_32(eventId)
    const bits = murmurHash3_32(eventId, true)
    for (const layer of this.#layers) if (layer.has(block, bits)) return true
    return false
  }
}

/**
 * One blocked Bloom filter: 32 bits per id of its capacity, 12 probes, all in one block of 512
 * bits (a cache line), so an id costs one memory miss to add or test. Full, it answers a
 * false "maybe" for about 6 new ids in a million, so a store lookup behind one is rare.
 */
class BloomLayer {
  readonly #words: Uint32Array
  readonly #blockMask: number
  readonly capacity: number
  added = 0

  constructor(capacity: number) {
    this.capacity = Math.max(1, Math.ceil(capacity))
    // A power of two, so a block's position is a mask.
    let bits = 1 << 20
    while (bits < this.capacity * BITS_PER_ID && bits < 2 ** 32) bits *= 2
    this.#words = new Uint32Array(bits / 32)
    this.#blockMask = bits / BLOCK_BITS - 1
  }

  add(block: number, bits: number): void {
    const base = (block & this.#blockMask) * BLOCK_WORDS
    for (let i = 0, at = bits; i < PROBES; i++) {
      at = nextProbe(at)
      const bit = at >>> 23
      this.#words[base + (bit >>> 5)]! |= 1 << (bit & 31)
    }
    this.added++
  }

  has(block: number, bits: number): boolean {
    const base = (block & this.#blockMask) * BLOCK_WORDS
    for (let i = 0, at = bits; i < PROBES; i++) {
      at = nextProbe(at)
      const bit = at >>> 23
      if ((this.#words[base + (bit >>> 5)]! & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

const BITS_PER_ID = 32
const PROBES = 12
const BLOCK_BITS = 512
const BLOCK_WORDS = BLOCK_BITS / 32

/** The next probe of an id within its block: its top 9 bits pick one of the block's 512. */
function nextProbe(at: number): number {
  const mixed = Math.imul(at ^ (at >>> 15), 0x2c1b3c6d)
  return Math.imul(mixed ^ (mixed >>> 12), 0x297a2d39) >>> 0
}

/**
 * MurmurHash3 (x86, 32-bit, seed 0) of an ASCII string's bytes, as ClickHouse's
 * `murmurHash3_32` computes it over a String (event ids are lower-case UUID text); with
 * `reversed`, of the string read backwards, as `murmurHash3_32(reverse(text))`.
 */
export function murmurHash3_32(text: string, reversed = false): number {
  const length = text.length
  const char = reversed
    ? (i: number) => text.charCodeAt(length - 1 - i)
    : (i: number) => text.charCodeAt(i)
  let h = 0
  let at = 0
  for (; at + 4 <= length; at += 4) {
    let k = char(at) | (char(at + 1) << 8) | (char(at + 2) << 16) | (char(at + 3) << 24)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  // The 1 to 3 bytes left, little-endian.
  const left = length & 3
  if (left > 0) {
    let k = 0
    for (let i = left - 1; i >= 0; i--) k = (k << 8) | char(at + i)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, 0x1b873593)
    h ^= k
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * A filter holding every id of the audit (`llm_call_ids`), sized for twice as many (at least
 * four million), with the two hashes computed by ClickHouse and read as 8 bytes an id.
 */
export async function loadAuditedIdFilter(
  client: ClickHouseClient,
  logger: Logger,
): Promise<AuditedIdFilter> {
  const began = Date.now()
  const counted = await client.query({
    query: 'SELECT count() AS n FROM llm_call_ids',
    format: 'JSONEachRow',
  })
  const [row] = await counted.json<{ n: string }>()
  const filter = new AuditedIdFilter(Math.max(4_000_000, 2 * Number(row?.n ?? 0)))
  const result = await client.exec({
    query: `SELECT murmurHash3_32(toString(event_id)), murmurHash3_32(reverse(toString(event_id)))
      FROM llm_call_ids FORMAT RowBinary`,
  })
  let carry: Buffer = Buffer.alloc(0)
  for await (const chunk of result.stream as AsyncIterable<Buffer>) {
    const bytes: Buffer = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
    const whole = bytes.length - (bytes.length % 8)
    for (let at = 0; at < whole; at += 8)
      filter.addHashes(bytes.readUInt32LE(at), bytes.readUInt32LE(at + 4))
    carry = bytes.subarray(whole)
  }
  logger.info(
    { ids: filter.added, capacity: filter.capacity, ms: Date.now() - began },
    'audited ids loaded into the id filter',
  )
  return filter
}

/**
 * The store with the filter in front: ids it rules out are not looked up, and every id is
 * added before its insert is tried (an insert that fails after it landed is looked up later,
 * not written twice).
 */
export function withAuditedIdFilter(store: AuditStore, filter: AuditedIdFilter): AuditStore {
  return {
    insertCalls(rows, dedupToken) {
      for (const row of rows) filter.add(row.event_id)
      return store.insertCalls(rows, dedupToken)
    },
    existingEventIds(eventIds) {
      const maybe = eventIds.filter((id) => filter.mightHold(id))
      return maybe.length === 0 ? Promise.resolve(new Set()) : store.existingEventIds(maybe)
    },
  }
}

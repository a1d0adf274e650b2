import type { ClickHouseClient } from '@clickhouse/client'
import {
  combinedView,
  SpendWindows,
  type SpendView,
  type ViewQuery,
} from '../windows/spend-windows.ts'
import { rebuildWindows } from '../windows/window-rebuild.ts'
import { PartitionStates } from './partition-states.ts'
import { changesOf, ownerPartition, type SpendDelta } from './spend-deltas.ts'

/** Rows not read from Kafka (none on a Kafka deployment) are kept under this share. */
const NO_PARTITION = -1

/** The share of one input partition among an owned partition's shares, made when missing. */
function shareOf(shares: Map<number, SpendWindows>, source: number): SpendWindows {
  let share = shares.get(source)
  if (!share) {
    share = new SpendWindows()
    shares.set(source, share)
  }
  return share
}

/**
 * The owner side of scale-out: for each spend-deltas partition this instance owns, the
 * windows of its keys, one share per input partition (their sum is the key's spend). Values
 * arrive as full bucket values; the larger of two values of a bucket wins (they only grow),
 * so replays and repeats change nothing. An owned partition is first built from the audit,
 * which holds every audited call, then follows the topic.
 */
export class OwnedWindows {
  readonly #client: ClickHouseClient
  readonly #deltaPartitions: number
  readonly #owned = new PartitionStates<Map<number, SpendWindows>>()
  readonly #caughtUp = new Set<number>()

  constructor(client: ClickHouseClient, deltaPartitions: number) {
    this.#client = client
    this.#deltaPartitions = deltaPartitions
  }

  /** Builds an owned partition from the audit unless this instance holds it already. */
  ensure(partition: number, now: number): Promise<void> {
    return this.#owned.ensure(partition, async () => {
      const shares = new Map<number, SpendWindows>()
      await rebuildWindows(this.#client, {
        now,
        into: (source) => shareOf(shares, source ?? NO_PARTITION),
        owns: (dimension, tenant, key) =>
          ownerPartition(dimension, tenant, key, this.#deltaPartitions) === partition,
      })
      return shares
    })
  }

  /** Applies published bucket values to an ensured partition. */
  apply(partition: number, delta: SpendDelta, now: number): void {
    const share = shareOf(this.#owned.get(partition)!, delta.source_partition)
    for (const change of changesOf(delta)) share.setBucket(change, now)
  }

  /** Marks an owned partition as having read its topic up to where it stood when assigned. */
  markCaughtUp(partition: number): void {
    this.#caughtUp.add(partition)
  }

  /** Owned partitions, and those whose state is complete (detectors may act on them). */
  status(): { owned: number[]; caughtUp: number[] } {
    const sorted = (values: Iterable<number>) => [...values].sort((a, b) => a - b)
    return { owned: this.#owned.partitions(), caughtUp: sorted(this.#caughtUp) }
  }

  revoke(partitions: Iterable<number>): void {
    for (const partition of partitions) {
      this.#owned.delete(partition)
      this.#caughtUp.delete(partition)
    }
  }

  /** The keys this instance owns, as one view. */
  view(query: ViewQuery): SpendView {
    const sources: SpendWindows[] = []
    for (const shares of this.#owned.values()) sources.push(...shares.values())
    return combinedView(sources, query)
  }

  sweep(now: number): void {
    for (const shares of this.#owned.values()) for (const share of shares.values()) share.sweep(now)
  }
}

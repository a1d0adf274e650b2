import type { ClickHouseClient } from '@clickhouse/client'
import { SpendWindows } from '../windows/spend-windows.ts'
import { rebuildWindows } from '../windows/window-rebuild.ts'
import { PartitionStates } from './partition-states.ts'
import { deltaMessages, type DeltaMessage } from './spend-deltas.ts'

/**
 * The input side of scale-out: for each input partition this instance reads, the windows of
 * the calls read from it and audited (its "share"), kept so the full value of each changed
 * bucket can be published. A share is built from the audit the first time its partition is
 * handled here (rows whose `source_partition` is that partition are exactly what that
 * partition contributed, whoever wrote them), and then published whole, since the instance
 * that held it before may have died between its audit write and its publish.
 */
export class InputShares {
  readonly #client: ClickHouseClient
  readonly #deltaPartitions: number
  readonly #shares = new PartitionStates<SpendWindows>()

  constructor(client: ClickHouseClient, deltaPartitions: number) {
    this.#client = client
    this.#deltaPartitions = deltaPartitions
  }

  /** Builds the share of `partition` from the audit unless this instance holds it already. */
  ensure(partition: number, now: number): Promise<void> {
    return this.#shares.ensure(partition, async () => {
      const share = new SpendWindows({ trackChanges: true })
      // Every bucket the rebuild fills is marked changed: the first drain publishes all.
      await rebuildWindows(this.#client, {
        now,
        into: () => share,
        sourcePartitions: [partition],
      })
      return share
    })
  }

  /** The share of a partition already ensured. */
  windowsOf(partition: number): SpendWindows {
    const share = this.#shares.get(partition)
    if (!share) throw new Error(`input partition ${partition} is not held by this instance`)
    return share
  }

  /**
   * The messages that publish what changed in a partition's share since the last call (its
   * whole content after a rebuild), tagged with the input offset they reflect.
   */
  drain(partition: number, nextOffset: string): DeltaMessage[] {
    return deltaMessages(
      this.windowsOf(partition).drainChanges(),
      partition,
      nextOffset,
      this.#deltaPartitions,
    )
  }

  /** Forgets partitions this instance no longer reads. */
  revoke(partitions: Iterable<number>): void {
    for (const partition of partitions) this.#shares.delete(partition)
  }

  all(): SpendWindows[] {
    return [...this.#shares.values()]
  }

  held(): number[] {
    return this.#shares.partitions()
  }

  sweep(now: number): void {
    for (const share of this.#shares.values()) share.sweep(now)
  }
}

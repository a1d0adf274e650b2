import type { ClickHouseClient } from '@clickhouse/client'
import type { Clock } from '../../platform/clock.ts'
import type { EventSource } from '../audit/audit-row.ts'
import type { EventProcessor, InputRecord } from '../ingest/event-processor.ts'
import type { SpendWindows, SpendView, ViewQuery } from '../windows/spend-windows.ts'
import { InputShares } from './input-shares.ts'
import { OwnedWindows } from './owned-windows.ts'
import type { DeltaMessage, SpendDelta } from './spend-deltas.ts'

export interface SpendInstanceOptions {
  /** Reads the audit to build shares and owned partitions. */
  client: ClickHouseClient
  clock: Clock
  /** Partitions of the spend-deltas topic. */
  deltaPartitions: number
  /** Sends spend-deltas messages; resolves when the brokers hold them. */
  publish(messages: DeltaMessage[]): Promise<void>
  /** Told of a background rebuild that failed (it is tried again with the next batch). */
  onError?: (error: unknown) => void
}

/**
 * One processor instance of a scaled-out deployment, with the transport left out: the Kafka
 * wiring and the deterministic multi-instance test harness both drive it through these calls,
 * so both run the same code. Input batches are audited, counted into the share of their input
 * partition, and the changed buckets published before the caller commits the input offset;
 * spend-deltas batches update the windows of the keys this instance owns.
 */
export interface SpendInstance {
  /** For the processor: the windows a record's call is counted in. */
  windowsOf(source: EventSource): SpendWindows
  /** Audits one input batch and publishes what it changed; the caller then commits. */
  handleInput(
    processor: EventProcessor,
    partition: number,
    records: InputRecord[],
    nextOffset: string,
  ): Promise<void>
  /** Applies one spend-deltas batch; `caughtUp` when it reaches the end the partition had when assigned. */
  handleDeltas(partition: number, deltas: SpendDelta[], caughtUp: boolean): Promise<void>
  /** Spend-deltas partitions assigned: their keys are built from the audit now, in the background. */
  own(partitions: Iterable<number>): void
  /** Partitions taken away by a rebalance (input and spend-deltas). */
  revoke(input: Iterable<number>, deltas: Iterable<number>): void
  /** Live spend of the keys this instance owns. */
  view(query: ViewQuery): SpendView
  /** The windows of the input partitions this instance holds (what its detectors read). */
  shares(): SpendWindows[]
  status(): { input: number[]; owned: number[]; caughtUp: number[] }
  sweep(): void
}

export function createSpendInstance(options: SpendInstanceOptions): SpendInstance {
  const shares = new InputShares(options.client, options.deltaPartitions)
  const owned = new OwnedWindows(options.client, options.deltaPartitions)
  return {
    shares: () => shares.all(),
    windowsOf(source) {
      if (source.partition === undefined)
        throw new Error(`a ${source.kind} record has no input partition`)
      return shares.windowsOf(source.partition)
    },
    async handleInput(processor, partition, records, nextOffset) {
      await shares.ensure(partition, options.clock.now())
      try {
        await processor.process(records)
        const messages = shares.drain(partition, nextOffset)
        if (messages.length > 0) await options.publish(messages)
      } catch (error) {
        // Rows may have landed without being counted, or counted without being published:
        // the share is rebuilt from the audit (and published whole) when the batch comes again.
        shares.revoke([partition])
        throw error
      }
    },
    async handleDeltas(partition, deltas, caughtUp) {
      const now = options.clock.now()
      await owned.ensure(partition, now)
      for (const delta of deltas) owned.apply(partition, delta, now)
      if (caughtUp) owned.markCaughtUp(partition)
    },
    own(partitions) {
      for (const partition of partitions)
        owned.ensure(partition, options.clock.now()).catch((error: unknown) => {
          // The first batch of the partition builds it again, and its failure is retried there.
          options.onError?.(error)
        })
    },
    revoke(input, deltas) {
      shares.revoke(input)
      owned.revoke(deltas)
    },
    view: (query) => owned.view(query),
    status: () => ({ input: shares.held(), ...owned.status() }),
    sweep() {
      const now = options.clock.now()
      shares.sweep(now)
      owned.sweep(now)
    },
  }
}

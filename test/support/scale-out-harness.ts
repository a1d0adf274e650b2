import type { ClickHouseClient } from '@clickhouse/client'
import type { Clock } from '../../platform/clock.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createAuditSink } from '../../processors/audit/audit-sink.ts'
import { createClickHouseAuditStore } from '../../processors/audit/audit-store.ts'
import type { DeadLetter } from '../../processors/ingest/dead-letters.ts'
import {
  createEventProcessor,
  type EventProcessor,
} from '../../processors/ingest/event-processor.ts'
import type { Pricer } from '../../processors/pricing/pricer.ts'
import type { DeltaMessage, SpendDelta } from '../../processors/scale-out/spend-deltas.ts'
import {
  createSpendInstance,
  type SpendInstance,
} from '../../processors/scale-out/spend-instance.ts'
import type { EventCodec } from '../../schemas/avro-codec.ts'

/**
 * A deterministic stand-in for a Kafka cluster and a consumer group, for what the test broker
 * cannot do (rebalance two members of one group): two topics of partitions held in memory,
 * committed offsets, and assignments the test changes when it wants. The instances are the
 * product's own (`createSpendInstance` with a real processor and audit sink); only the
 * transport is simulated.
 */
export class MemoryLog<T> {
  readonly partitions: T[][]
  readonly committed: number[]

  constructor(partitions: number) {
    this.partitions = Array.from({ length: partitions }, () => [])
    this.committed = Array.from({ length: partitions }, () => 0)
  }

  append(partition: number, value: T): void {
    this.partitions[partition]!.push(value)
  }

  end(partition: number): number {
    return this.partitions[partition]!.length
  }
}

export interface HarnessInstance {
  name: string
  instance: SpendInstance
  processor: EventProcessor
  /** When set, the next publish fails: the process dies between its audit write and publish. */
  dieAtNextPublish: boolean
  /** Where this instance's read of each owned spend-deltas partition started to count as caught up. */
  deltaEnds: Map<number, number>
}

export interface HarnessOptions {
  client: ClickHouseClient
  clock: Clock
  pricer: Pricer
  codec: EventCodec
  deltas: MemoryLog<SpendDelta>
  deadLetters: DeadLetter[]
}

/** A processor instance as `spendguard start` builds it on Kafka, over the memory log. */
export function startInstance(name: string, options: HarnessOptions): HarnessInstance {
  const harness: HarnessInstance = {
    name,
    dieAtNextPublish: false,
    deltaEnds: new Map(),
  } as HarnessInstance
  harness.instance = createSpendInstance({
    client: options.client,
    clock: options.clock,
    deltaPartitions: options.deltas.partitions.length,
    publish(messages: DeltaMessage[]) {
      if (harness.dieAtNextPublish) return Promise.reject(new Error(`${name} died`))
      for (const message of messages) options.deltas.append(message.partition, message.delta)
      return Promise.resolve()
    },
  })
  harness.processor = createEventProcessor({
    pricer: options.pricer,
    sink: createAuditSink({
      store: createClickHouseAuditStore(options.client),
      logger: silentLogger(),
    }),
    deadLetters: {
      publish(letters) {
        options.deadLetters.push(...letters)
        return Promise.resolve()
      },
    },
    logger: silentLogger(),
    clock: options.clock,
    codec: options.codec,
    allowedLatenessMs: 120_000,
    flushEachBatch: true,
    windowsOf: (source) => harness.instance.windowsOf(source),
  })
  return harness
}

/**
 * One input batch of up to `max` records from the committed offset, handled and (unless
 * `commit` is false: the process dies before it commits) committed.
 */
export async function pollInput(
  input: MemoryLog<Buffer>,
  partition: number,
  owner: HarnessInstance,
  max: number,
  commit = true,
): Promise<number> {
  const from = input.committed[partition]!
  const values = input.partitions[partition]!.slice(from, from + max)
  if (values.length === 0) return 0
  const records = values.map((bytes, i) => ({
    bytes,
    source: { kind: 'kafka' as const, partition, offset: String(from + i) },
  }))
  const next = from + values.length
  await owner.instance.handleInput(owner.processor, partition, records, String(next))
  if (commit) input.committed[partition] = next
  return values.length
}

/** Everything published to a spend-deltas partition since its commit, applied and committed. */
export async function pollDeltas(
  deltas: MemoryLog<SpendDelta>,
  partition: number,
  owner: HarnessInstance,
): Promise<void> {
  if (!owner.deltaEnds.has(partition)) owner.deltaEnds.set(partition, deltas.end(partition))
  const from = deltas.committed[partition]!
  const values = deltas.partitions[partition]!.slice(from)
  const next = from + values.length
  await owner.instance.handleDeltas(partition, values, next >= owner.deltaEnds.get(partition)!)
  deltas.committed[partition] = next
}

import { crc32 } from 'node:zlib'
import { z } from 'zod'
import { RANKS } from '../windows/key-buckets.ts'
import { SpendMeasures, type MeasuresWire } from '../windows/spend-measures.ts'
import { DIMENSIONS, type BucketChange, type Dimension } from '../windows/spend-windows.ts'

/**
 * The `spend-deltas` topic (docs/adr/0007-scale-out.md): the instance that reads an input
 * partition publishes, after each batch, the full value of every window bucket the batch
 * changed, per key and per input partition. A message goes to the partition that owns its
 * keys and carries many buckets, so the topic holds far fewer messages than the input.
 */

/** The spend-deltas partition that owns a key: CRC-32 (as ClickHouse's CRC32) modulo the count. */
export function ownerPartition(
  dimension: Dimension,
  tenant: string,
  key: string,
  partitions: number,
): number {
  return crc32(`${dimension}\u0000${tenant}\u0000${key}`) % partitions
}

/** The same as `ownerPartition`, as a ClickHouse expression over a key expression. */
export function ownerPartitionSql(dimension: Dimension, keyExpression: string): string {
  return `CRC32(concat('${dimension}', '\\0', tenant_id, '\\0', ${keyExpression}))`
}

const sketchWire = z.object({
  z: z.int().nonnegative(),
  i: z.array(z.int()),
  n: z.array(z.int().positive()),
})

const count = z.number().nonnegative()
const measuresWire = z.object({
  start: z.int(),
  calls: z.int().positive(),
  failures: z.int().nonnegative(),
  late: z.int().nonnegative(),
  unpriced: z.int().nonnegative(),
  input: count,
  output: count,
  cache_read: count,
  cache_write: count,
  reasoning: count,
  latency_sum: count,
  latency_count: count,
  latency_max: count,
  cost_usd: z.string().regex(/^\d+(\.\d+)?$/),
  sketch: sketchWire,
}) satisfies z.ZodType<MeasuresWire>

export const spendDeltaSchema = z.object({
  /** The input partition whose events these values count. */
  source_partition: z.int().nonnegative(),
  /** The next input offset of that partition once this batch is committed. */
  input_offset: z.string().regex(/^\d+$/),
  buckets: z.array(
    z.object({
      d: z.enum(DIMENSIONS),
      t: z.string(),
      k: z.string(),
      g: z.enum(['minute', 'day', 'month']),
      m: measuresWire,
    }),
  ),
})
export type SpendDelta = z.output<typeof spendDeltaSchema>

/** Buckets per message at most, so a message stays well under a broker's 1 MB default. */
const BUCKETS_PER_MESSAGE = 1000

export interface DeltaMessage {
  partition: number
  delta: SpendDelta
}

/** The messages that publish `changes` of one input partition, grouped by owner partition. */
export function deltaMessages(
  changes: readonly BucketChange[],
  sourcePartition: number,
  inputOffset: string,
  partitions: number,
): DeltaMessage[] {
  const byOwner = new Map<number, SpendDelta['buckets']>()
  for (const change of changes) {
    const owner = ownerPartition(change.dimension, change.tenant, change.key, partitions)
    let buckets = byOwner.get(owner)
    if (!buckets) {
      buckets = []
      byOwner.set(owner, buckets)
    }
    buckets.push({
      d: change.dimension,
      t: change.tenant,
      k: change.key,
      g: change.granularity,
      m: change.bucket.toWire(),
    })
  }
  const messages: DeltaMessage[] = []
  for (const [partition, buckets] of byOwner)
    for (let at = 0; at < buckets.length; at += BUCKETS_PER_MESSAGE)
      messages.push({
        partition,
        delta: {
          source_partition: sourcePartition,
          input_offset: inputOffset,
          buckets: buckets.slice(at, at + BUCKETS_PER_MESSAGE),
        },
      })
  return messages
}

/** The bucket changes a message carries, as windows take them. */
export function changesOf(delta: SpendDelta): BucketChange[] {
  return delta.buckets.map((bucket) => ({
    dimension: bucket.d,
    tenant: bucket.t,
    key: bucket.k,
    granularity: bucket.g,
    bucket: SpendMeasures.fromWire(bucket.m, RANKS[bucket.g]),
  }))
}

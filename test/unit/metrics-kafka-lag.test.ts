import type { Consumer, ConsumerRunConfig, EachBatchPayload } from 'kafkajs'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../platform/errors.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createMetrics } from '../../platform/metrics.ts'
import { createKafkaSource } from '../../processors/ingest/kafka-source.ts'

/** A consumer whose batches and rebalances the test hands over by hand. */
function fakeConsumer() {
  let run: ConsumerRunConfig | undefined
  const listeners = new Map<string, (event: { payload: unknown }) => void>()
  const consumer = {
    events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
    on: (name: string, listener: (event: { payload: unknown }) => void) => {
      listeners.set(name, listener)
      return () => listeners.delete(name)
    },
    subscribe: () => Promise.resolve(),
    run: (config: ConsumerRunConfig) => {
      run = config
      return Promise.resolve()
    },
    commitOffsets: () => Promise.resolve(),
    stop: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
  }
  /** A batch of `count` records from `first`, fetched when the partition ended at `end`. */
  const deliver = (partition: number, first: number, count: number, end: number) =>
    run!.eachBatch!({
      batch: {
        topic: 'llm-calls',
        partition,
        messages: Array.from({ length: count }, (_, i) => ({
          offset: String(first + i),
          value: Buffer.from('record'),
        })),
        lastOffset: () => String(first + count - 1),
        highWatermark: String(end),
      },
      pause: () => () => {},
      resolveOffset: () => {},
      heartbeat: () => Promise.resolve(),
    } as unknown as EachBatchPayload)
  const assign = (partitions: number[]) =>
    listeners.get('consumer.group_join')?.({
      payload: { memberId: 'member-1', memberAssignment: { 'llm-calls': partitions } },
    })
  return { consumer: consumer as unknown as Consumer, deliver, assign }
}

async function lagOf(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, string>> {
  const family = parsePrometheusTextFormat((await metrics.render()).text).find(
    (f) => f.name === 'spendguard_kafka_consumer_lag',
  )
  return Object.fromEntries(
    (family?.metrics ?? []).map((s) => [`${s.labels?.topic}:${s.labels?.partition}`, s.value!]),
  )
}

describe('consumer lag per partition', () => {
  it('is the partition end at fetch minus the committed offset, and goes with the partition', async () => {
    const metrics = createMetrics({
      process: false,
      spend: { windows: [], dimensions: [], maxKeys: 0 },
    })
    const { consumer, deliver, assign } = fakeConsumer()
    let refuse = false
    const source = createKafkaSource({
      consumer,
      topic: 'llm-calls',
      logger: silentLogger(),
      onLag: metrics.consumerLag,
      handle: () =>
        refuse ? Promise.reject(new ValidationError([], 'cannot be handled')) : Promise.resolve(),
    })
    await source.start()
    assign([0, 1])

    await deliver(0, 0, 100, 250)
    await deliver(1, 40, 10, 50)
    expect(await lagOf(metrics)).toEqual({ 'llm-calls:0': '150', 'llm-calls:1': '0' })

    // A batch that is not committed (the partition is paused) leaves the lag where it was.
    refuse = true
    await deliver(0, 100, 100, 400)
    expect(await lagOf(metrics)).toEqual({ 'llm-calls:0': '150', 'llm-calls:1': '0' })

    // Partition 0 goes to another instance: its lag is that instance's to report now.
    assign([1])
    expect(await lagOf(metrics)).toEqual({ 'llm-calls:1': '0' })
  })
})

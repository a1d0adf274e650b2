import type { Consumer } from 'kafkajs'
import type { Logger } from '../../platform/logger.ts'
import type { RetryPolicy } from '../../platform/retry-policy.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import type { EventBus } from './event-bus.ts'
import type { InputRecord } from './event-processor.ts'
import { createKafkaSource, type ConsumerLagListener, type KafkaSource } from './kafka-source.ts'

export interface KafkaBusOptions {
  /** Sends validated events to the input topic (the SDK's Kafka transport). */
  publisher: { send(events: LlmCall[]): Promise<void> }
  /** A connected consumer of the processor's group; the bus subscribes and runs it. */
  consumer: Consumer
  topic: string
  logger: Logger
  /** Partitions handled at the same time by this instance. */
  partitionsConsumedConcurrently?: number
  /** Input partitions gained and lost at a rebalance. */
  onAssignment?: (assigned: number[], revoked: number[]) => void
  /** Called once when the consumer has crashed for good (see KafkaSource). */
  onFatal?: (error: unknown) => void
  retry?: RetryPolicy
  sleep?: (ms: number) => Promise<void>
  /** Consumer lag per input partition (see KafkaSource). */
  onLag?: ConsumerLagListener
}

/**
 * The Kafka transport: events go to the input topic; its batches, one partition each, go to
 * the handler through the shared source runner, which commits a batch's offset only when the
 * handler has resolved (rows persisted, bad records dead-lettered).
 */
export function createKafkaBus(options: KafkaBusOptions): EventBus {
  let source: KafkaSource | undefined
  const notStarted = { ready: false, reason: 'not started' }
  return {
    publish: (events) => options.publisher.send([...events]),
    readiness: () => source?.readiness() ?? notStarted,
    async start(handler) {
      source = createKafkaSource({
        consumer: options.consumer,
        topic: options.topic,
        logger: options.logger,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
        ...(options.onAssignment ? { onAssignment: options.onAssignment } : {}),
        ...(options.onFatal ? { onFatal: options.onFatal } : {}),
        ...(options.retry ? { retry: options.retry } : {}),
        ...(options.sleep ? { sleep: options.sleep } : {}),
        ...(options.onLag ? { onLag: options.onLag } : {}),
        handle: async (batch) => {
          await handler(
            batch.records.map((record): InputRecord => ({
              bytes: record.value,
              source: { kind: 'kafka', partition: batch.partition, offset: record.offset },
            })),
          )
        },
      })
      await source.start()
    },
    async stop() {
      if (source) await source.stop()
      else await options.consumer.disconnect()
    },
  }
}

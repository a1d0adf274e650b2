import type { Consumer, EachBatchPayload } from 'kafkajs'
import type { Logger } from '../../platform/logger.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import type { EventBus } from './event-bus.ts'
import type { InputRecord } from './event-processor.ts'

const HEARTBEAT_MS = 3000

export interface KafkaBusOptions {
  /** Sends validated events to the input topic (the SDK's Kafka transport). */
  publisher: { send(events: LlmCall[]): Promise<void> }
  /** A connected consumer of the processor's group; the bus subscribes and runs it. */
  consumer: Consumer
  topic: string
  logger: Logger
  /** Partitions handled at the same time by this instance. */
  partitionsConsumedConcurrently?: number
  /**
   * Called once when the consumer has crashed for good (kafkajs gives up on a non-retriable
   * error): the service is no longer consuming and must say so and exit, not run on silently.
   */
  onFatal?: (error: unknown) => void
}

/**
 * The Kafka transport. Each fetched batch goes to the handler; only when the handler
 * resolves (rows persisted, bad records dead-lettered) is the batch's offset committed.
 * A handler failure commits nothing: the consumer restarts from the last commit, and the
 * sink's deduplication keeps rows exactly once.
 */
export function createKafkaBus(options: KafkaBusOptions): EventBus {
  const { consumer, topic, logger } = options
  const inFlight = new Set<Promise<void>>()
  let stopping = false
  let started = false
  let crashed: string | undefined
  let partitions: number[] = []

  // kafkajs restarts the consumer itself after a retriable error; after any other it stops for
  // good (restart: false) and says so only through this event.
  consumer.on(consumer.events.CRASH, (event) => {
    const { error, restart } = event.payload
    logger.error({ err: error, restart }, 'Kafka consumer crashed')
    if (restart || crashed) return
    crashed = `the Kafka consumer stopped after an error it cannot retry: ${error.message}`
    options.onFatal?.(error)
  })
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    partitions = Object.values(event.payload.memberAssignment)
      .flat()
      .sort((a, b) => a - b)
    logger.info({ partitions }, 'partitions assigned')
  })

  async function onBatch(
    payload: EachBatchPayload,
    handler: (records: InputRecord[]) => Promise<void>,
  ): Promise<void> {
    const { batch } = payload
    // Stopping: leave the batch uncommitted for the next instance rather than start it.
    if (stopping || batch.messages.length === 0) return
    const records: InputRecord[] = batch.messages.map((message) => ({
      bytes: message.value ?? Buffer.alloc(0),
      source: { kind: 'kafka', partition: batch.partition, offset: message.offset },
    }))
    // The handler may wait on a store that is down; keep the group membership alive meanwhile.
    const beat = setInterval(() => {
      payload.heartbeat().catch((error: unknown) => logger.warn({ err: error }, 'heartbeat failed'))
    }, HEARTBEAT_MS)
    try {
      await handler(records)
    } finally {
      clearInterval(beat)
    }
    const next = (BigInt(batch.lastOffset()) + 1n).toString()
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }])
    payload.resolveOffset(batch.lastOffset())
    await payload.heartbeat()
    logger.debug(
      { partition: batch.partition, records: records.length, committed: next },
      'batch committed',
    )
  }

  return {
    publish: (events) => options.publisher.send([...events]),
    readiness() {
      if (crashed) return { ready: false, reason: crashed, partitions: [] }
      if (!started || stopping)
        return { ready: false, reason: stopping ? 'stopping' : 'not started', partitions }
      return { ready: true, partitions }
    },
    async start(handler) {
      started = true
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => {
          const work = onBatch(payload, handler)
          inFlight.add(work)
          const done = () => inFlight.delete(work)
          work.then(done, done)
          return work
        },
      })
    },
    async stop() {
      // kafkajs's stop() makes commitOffsets a silent no-op for the batches still running, so
      // they are finished and committed here first; new batches are left alone meanwhile.
      stopping = true
      await Promise.allSettled([...inFlight])
      await consumer.stop()
      await consumer.disconnect()
    },
  }
}

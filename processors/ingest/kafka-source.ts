import type { Consumer, EachBatchPayload } from 'kafkajs'
import { isRetriable } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { retrying, type RetryPolicy } from '../../platform/retry-policy.ts'
import type { Readiness } from './event-bus.ts'

const HEARTBEAT_MS = 3000

/** One fetched batch of one partition. */
export interface SourceBatch {
  topic: string
  partition: number
  records: Array<{ value: Buffer; offset: string }>
  /** The offset committed once the batch is handled: after its last record. */
  nextOffset: string
  /** The partition's end when the batch was fetched: reaching it means caught up. */
  highWatermark: string
}

export interface KafkaSourceOptions {
  /** A connected consumer; the source subscribes it to `topic` and runs it. */
  consumer: Consumer
  topic: string
  logger: Logger
  /** Handles one batch; resolves when what it covers is persisted. */
  handle(batch: SourceBatch): Promise<void>
  /** Partitions gained and lost at a rebalance. */
  onAssignment?(assigned: number[], revoked: number[]): void
  /** Called once when the consumer has crashed for good: the service must say so and exit. */
  onFatal?(error: unknown): void
  partitionsConsumedConcurrently?: number
  retry?: RetryPolicy
  sleep?: (ms: number) => Promise<void>
  /** Told of each partition's lag after a commit, and of partitions no longer held (metrics). */
  onLag?: ConsumerLagListener
}

/**
 * A partition's consumer lag: records between its committed offset and its end as the last
 * batch was fetched (so a lower bound while records keep arriving); `undefined` once the
 * partition is no longer held.
 */
export type ConsumerLagListener = (
  topic: string,
  partition: number,
  lag: number | undefined,
) => void

export interface KafkaSource {
  start(): Promise<void>
  /** Finishes and commits the batches in flight, then stops and disconnects. */
  stop(): Promise<void>
  readiness(): Readiness
}

const DEFAULT_RETRY: RetryPolicy = { baseMs: 500, maxMs: 30_000 }
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * The partition-aware runner every SpendGuard consumer uses (input, spend-deltas, and later
 * control and alerts). Each fetched batch goes to `handle`; only when it resolves is the
 * offset after the batch committed. A retriable failure is retried in place with backoff (the
 * batch is delivered again; the group membership is kept alive meanwhile). A failure that
 * will not pass by retrying pauses that partition, uncommitted, and makes the service not
 * ready with the reason; the other partitions go on. A consumer crash kafkajs will not
 * restart from is reported through `onFatal`.
 */
export function createKafkaSource(options: KafkaSourceOptions): KafkaSource {
  const { consumer, topic, logger } = options
  const inFlight = new Set<Promise<void>>()
  const paused = new Map<number, string>()
  const sleep = options.sleep ?? defaultSleep
  let stopping = false
  let started = false
  let crashed: string | undefined
  let partitions: number[] = []

  let memberId: string | undefined
  /** Everything held is given up: the group may have moved it while this member was away. */
  function revokeAll(): void {
    const revoked = partitions
    partitions = []
    paused.clear()
    for (const partition of revoked) options.onLag?.(topic, partition, undefined)
    if (revoked.length > 0) options.onAssignment?.([], revoked)
  }

  consumer.on(consumer.events.CRASH, (event) => {
    const { error, restart } = event.payload
    logger.error({ err: error, restart, topic }, 'Kafka consumer crashed')
    if (restart) {
      revokeAll()
      return
    }
    if (crashed) return
    crashed = `the Kafka consumer of ${topic} stopped after an error it cannot retry: ${error.message}`
    options.onFatal?.(error)
  })
  consumer.on(consumer.events.GROUP_JOIN, (event) => {
    // A new member id: this consumer left the group (a stall, a restart) and its partitions may
    // have been someone else's meanwhile, even if it gets the same ones back.
    if (memberId !== undefined && event.payload.memberId !== memberId) revokeAll()
    memberId = event.payload.memberId
    const next = (event.payload.memberAssignment[topic] ?? []).slice().sort((a, b) => a - b)
    const assigned = next.filter((p) => !partitions.includes(p))
    const revoked = partitions.filter((p) => !next.includes(p))
    partitions = next
    for (const partition of revoked) {
      paused.delete(partition)
      options.onLag?.(topic, partition, undefined)
    }
    logger.info({ topic, partitions, assigned, revoked }, 'partitions assigned')
    if (assigned.length > 0 || revoked.length > 0) options.onAssignment?.(assigned, revoked)
  })

  async function onBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload
    // Stopping: leave the batch uncommitted for the next instance rather than start it.
    if (stopping || batch.messages.length === 0) return
    const nextOffset = (BigInt(batch.lastOffset()) + 1n).toString()
    const work: SourceBatch = {
      topic: batch.topic,
      partition: batch.partition,
      records: batch.messages.map((message) => ({
        value: message.value ?? Buffer.alloc(0),
        offset: message.offset,
      })),
      nextOffset,
      highWatermark: batch.highWatermark,
    }
    // The handler may wait on a store that is down; keep the group membership alive meanwhile.
    const beat = setInterval(() => {
      payload.heartbeat().catch((error: unknown) => logger.warn({ err: error }, 'heartbeat failed'))
    }, HEARTBEAT_MS)
    try {
      await retrying(() => options.handle(work), {
        policy: options.retry ?? DEFAULT_RETRY,
        sleep,
        giveUp: () => stopping,
        onRetry: (error, attempt, delayMs) =>
          logger.warn(
            { err: error, topic, partition: batch.partition, attempt: attempt + 1, delayMs },
            'batch failed; delivering it again',
          ),
      })
    } catch (error) {
      if (isRetriable(error)) throw error
      const reason = `partition ${batch.partition} of ${topic} is paused at offset ${batch.messages[0]!.offset}: ${error instanceof Error ? error.message : String(error)}`
      paused.set(batch.partition, reason)
      logger.error({ err: error, topic, partition: batch.partition }, reason)
      payload.pause()
      return
    } finally {
      clearInterval(beat)
    }
    await consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: nextOffset },
    ])
    payload.resolveOffset(batch.lastOffset())
    options.onLag?.(
      batch.topic,
      batch.partition,
      Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(nextOffset))),
    )
    await payload.heartbeat()
  }

  return {
    readiness() {
      if (crashed) return { ready: false, reason: crashed, partitions: [] }
      if (!started || stopping)
        return { ready: false, reason: stopping ? 'stopping' : 'not started', partitions }
      const [reason] = paused.values()
      if (reason !== undefined) return { ready: false, reason, partitions }
      return { ready: true, partitions }
    },
    async start() {
      started = true
      await consumer.subscribe({ topic, fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: (payload) => {
          const work = onBatch(payload)
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

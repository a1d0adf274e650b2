import type { LlmCall } from '../../schemas/llm-call.ts'
import type { EventSource } from '../audit/audit-row.ts'
import type { InputRecord } from './event-processor.ts'

/**
 * The transport between ingest (HTTP, SDK emitters) and the processor. Two implementations:
 * Kafka (topic `llm-calls`, consumer group, offsets committed after the handler resolves)
 * and in-process (a bounded queue, for the embedded single-process product).
 */
export interface EventBus {
  /**
   * Makes validated events durable; resolves once they are: acknowledged by the brokers on
   * Kafka, settled by the handler (audited) in-process, where the queue itself is not durable.
   */
  publish(events: readonly LlmCall[], origin?: EventSource['kind']): Promise<PublishOutcome | void>
  /**
   * Starts delivering batches to `handler`. A batch counts as done, and its input is
   * committed, only when the handler resolves; a rejected batch is delivered again.
   */
  start(handler: (records: InputRecord[]) => Promise<BatchOutcome | void>): Promise<void>
  /** Stops taking new input, lets the handler finish what is in flight or queued, then stops. */
  stop(): Promise<void>
  /**
   * False when a bounded bus is full, so a request can be turned away before its body is even
   * read; absent when the bus has no bound of its own (Kafka).
   */
  hasRoom?(): boolean
  /** Whether the bus is delivering input; why not, when it is not (never a file path). */
  readiness(): Readiness
}

/** What the handler learnt of a batch: the event ids that were already audited. */
export interface BatchOutcome {
  duplicateIds: readonly string[]
}

/**
 * What a bus that waits for the processor (in-process) knows when `publish` resolves: which
 * of the events were duplicates of audited ones. A bus that does not wait (Kafka) says nothing.
 */
export interface PublishOutcome {
  duplicates: ReadonlySet<string>
}

export interface Readiness {
  ready: boolean
  reason?: string
  /** Input partitions this instance holds (Kafka); undefined in-process. */
  partitions?: number[]
}

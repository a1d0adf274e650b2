import type { CompressionTypes, Message, Producer } from 'kafkajs'
import { SpendGuardError } from '../platform/errors.ts'
import type { EventCodec } from '../schemas/avro-codec.ts'
import type { LlmCall } from '../schemas/llm-call.ts'
import type { EmitterTransport } from './emitter.ts'

export interface KafkaTransportOptions {
  /** A connected kafkajs producer; the caller owns its creation, the transport disconnects it. */
  producer: Pick<Producer, 'send' | 'disconnect'>
  codec: Pick<EventCodec, 'encode'>
  /** The llm-calls topic, prefix included. */
  topic: string
  /** Acknowledgements required; -1 (all in-sync replicas) by default. */
  acks?: number
  /** Batch compression; none by default. */
  compression?: 'none' | 'gzip'
}

/**
 * kafkajs's CompressionTypes as plain numbers, checked against its enum by the compiler: the
 * enum is a runtime value, and this module needs kafkajs for its types only: the caller brings
 * the producer, and the SDK's Kafka entry does not load kafkajs itself.
 */
const COMPRESSION = { none: 0, gzip: 1 } as const satisfies {
  none: CompressionTypes.None
  gzip: CompressionTypes.GZIP
}

/**
 * Key of every event of one agent: all of an agent's state lands on one partition, so the
 * processors see its calls in order.
 */
export function eventKey(event: Pick<LlmCall, 'tenant_id' | 'agent_id'>): string {
  return `${event.tenant_id}/${event.agent_id}`
}

/** Produces batches of events to Kafka as framed Avro, one message per event. */
export function createKafkaTransport(options: KafkaTransportOptions): EmitterTransport {
  const { producer, codec, topic } = options
  const acks = options.acks ?? -1
  const compression = COMPRESSION[options.compression ?? 'none']

  return {
    async send(events) {
      const messages: Message[] = events.map((event) => ({
        key: eventKey(event),
        value: codec.encode(event),
        headers: { event_id: event.event_id },
      }))
      try {
        await producer.send({ topic, acks, messages, compression })
      } catch (error) {
        throw toSendError(error, topic, events.length)
      }
    },
    async close() {
      await producer.disconnect()
    },
  }
}

/**
 * Maps a kafkajs failure onto the error tree. kafkajs marks transient failures (broker down,
 * leader moved, timeouts) `retriable`; when its own retries run out it wraps the last one in
 * KafkaJSNumberOfRetriesExceeded, which is not retriable for kafkajs but is for the emitter:
 * the broker may come back, and the events are still buffered.
 */
export function toSendError(error: unknown, topic: string, count: number): SpendGuardError {
  if (error instanceof SpendGuardError) return error
  const retriable =
    retriableFlag(error) ||
    (nameOf(error) === 'KafkaJSNumberOfRetriesExceeded' && retriableFlag(causeOf(error)))
  const reason = error instanceof Error ? error.message : String(error)
  return new SpendGuardError(`producing ${count} events to ${topic} failed: ${reason}`, {
    code: 'KAFKA_SEND_FAILED',
    retriable,
    cause: error,
  })
}

function retriableFlag(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && 'retriable' in error && error.retriable === true
  )
}

function nameOf(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined
}

function causeOf(error: unknown): unknown {
  return error instanceof Error ? error.cause : undefined
}

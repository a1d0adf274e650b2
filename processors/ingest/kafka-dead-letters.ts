import type { Producer } from 'kafkajs'
import { toSendError } from '../../producers/kafka-transport.ts'
import type { DeadLetterSink } from './dead-letters.ts'

/**
 * Dead letters on the `dlq` topic: the value is the original bytes, untouched, and the
 * headers say why (code, reason, field issues as JSON) and where it came from.
 */
export function createKafkaDeadLetterSink(producer: Producer, topic: string): DeadLetterSink {
  return {
    async publish(letters) {
      if (letters.length === 0) return
      await sendDeadLetters(producer, topic, letters)
    },
  }
}

async function sendDeadLetters(
  producer: Producer,
  topic: string,
  letters: Parameters<DeadLetterSink['publish']>[0],
): Promise<void> {
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: letters.map((letter) => ({
        key:
          letter.eventId ??
          `${letter.source.kind}:${letter.source.partition ?? ''}:${letter.source.offset ?? ''}`,
        value: letter.original,
        headers: {
          'spendguard.code': letter.code,
          'spendguard.reason': letter.reason,
          'spendguard.issues': JSON.stringify(letter.issues),
          'spendguard.source': letter.source.kind,
          'spendguard.source_partition': String(letter.source.partition ?? ''),
          'spendguard.source_offset': letter.source.offset ?? '',
          'spendguard.failed_at': new Date(letter.failedAt).toISOString(),
        },
      })),
    })
  } catch (error) {
    throw toSendError(error, topic, letters.length)
  }
}

import { appendFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { FieldIssue } from '../../platform/errors.ts'
import type { EventSource } from '../audit/audit-row.ts'

/** An input that could not be processed, kept with its reason and its original bytes. */
export interface DeadLetter {
  /** Stable reason code: DECODE_FAILED, VALIDATION_FAILED, ... */
  code: string
  reason: string
  issues: readonly FieldIssue[]
  original: Buffer
  source: EventSource
  /** The event id when it could be read. */
  eventId?: string
  failedAt: number
}

/**
 * The dead letter of an input record: it keeps the Kafka value as received, or the event as
 * JSON when the record came in already parsed (HTTP, embedded).
 */
export function deadLetterOf(
  record: { source: EventSource } & ({ bytes: Buffer } | { event: { event_id: string } }),
  why: { code: string; reason: string; issues?: readonly FieldIssue[]; eventId?: string },
  failedAt: number,
): DeadLetter {
  const parsed = 'event' in record ? record.event : undefined
  return {
    code: why.code,
    reason: why.reason,
    issues: why.issues ?? [],
    original: 'bytes' in record ? record.bytes : Buffer.from(JSON.stringify(parsed)),
    source: record.source,
    eventId: why.eventId ?? parsed?.event_id,
    failedAt,
  }
}

/** Where dead letters go: the `dlq` Kafka topic, or a file for the embedded pipeline. */
export interface DeadLetterSink {
  publish(letters: readonly DeadLetter[]): Promise<void>
}

/** Appends dead letters as JSON lines (original bytes in base64) to a file. */
export function createFileDeadLetterSink(path: string): DeadLetterSink {
  return {
    async publish(letters) {
      if (letters.length === 0) return
      await mkdir(dirname(path), { recursive: true })
      const lines = letters.map((letter) =>
        JSON.stringify({
          code: letter.code,
          reason: letter.reason,
          issues: letter.issues,
          event_id: letter.eventId ?? null,
          source: letter.source,
          failed_at: new Date(letter.failedAt).toISOString(),
          original_base64: letter.original.toString('base64'),
        }),
      )
      await appendFile(path, lines.join('\n') + '\n')
    },
  }
}

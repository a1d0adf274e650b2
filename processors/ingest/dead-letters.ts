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

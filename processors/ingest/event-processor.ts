import type { Clock } from '../../platform/clock.ts'
import { SpendGuardError, type FieldIssue } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { EventCodec } from '../../schemas/avro-codec.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { checkLlmCall } from '../../schemas/validate.ts'
import { toAuditRow, type EventSource } from '../audit/audit-row.ts'
import type { AuditSink } from '../audit/audit-sink.ts'
import type { Pricer } from '../pricing/pricer.ts'
import type { DeadLetter, DeadLetterSink } from './dead-letters.ts'
import { createPipelineMetrics, type PipelineMetrics } from './pipeline-metrics.ts'

/** One input record: Avro bytes from Kafka, or an event validated at the HTTP boundary. */
export type InputRecord =
  { bytes: Buffer; source: EventSource } | { event: LlmCall; source: EventSource }

export interface ProcessResult {
  accepted: number
  duplicates: number
  deadLettered: number
}

/**
 * The live pipeline's per-batch work: decode, validate, price, flag late events, audit.
 * Bad records go to the dead-letter sink with their reason and bytes, never stop the batch.
 * `process` resolves when every record of the batch is either audited or dead-lettered, so
 * its caller may then commit the input.
 */
export interface EventProcessor {
  process(records: readonly InputRecord[]): Promise<ProcessResult>
  readonly metrics: PipelineMetrics
}

export interface EventProcessorOptions {
  pricer: Pricer
  sink: AuditSink
  deadLetters: DeadLetterSink
  logger: Logger
  clock: Clock
  /** Needed for byte records. */
  codec?: EventCodec
  /** Event-time lateness tolerated before an event counts as late. */
  allowedLatenessMs: number
  metrics?: PipelineMetrics
}

export function createEventProcessor(options: EventProcessorOptions): EventProcessor {
  const { pricer, sink, deadLetters, logger, clock, codec } = options
  const metrics = options.metrics ?? createPipelineMetrics()
  const unpricedLogged = new Set<string>()
  let maxEventTime = Number.NEGATIVE_INFINITY

  async function decode(record: InputRecord): Promise<{ call: LlmCall } | { letter: DeadLetter }> {
    if ('event' in record) return { call: record.event }
    const letter = (code: string, reason: string, issues: FieldIssue[], eventId?: string) => ({
      letter: {
        code,
        reason,
        issues,
        original: record.bytes,
        source: record.source,
        eventId,
        failedAt: clock.now(),
      },
    })
    if (!codec) return letter('NO_CODEC', 'byte record but no codec configured', [])
    let candidate: Record<string, unknown>
    try {
      candidate = await codec.decode(record.bytes)
    } catch (error) {
      if (error instanceof SpendGuardError && !error.retriable) {
        return letter(error.code, error.message, [])
      }
      throw error
    }
    const checked = checkLlmCall(candidate)
    if (!checked.ok) {
      const eventId = typeof candidate.event_id === 'string' ? candidate.event_id : undefined
      return letter(
        'VALIDATION_FAILED',
        'event breaks the llm_call contract',
        checked.issues,
        eventId,
      )
    }
    return { call: checked.value }
  }

  return {
    metrics,
    async process(records) {
      const letters: DeadLetter[] = []
      const rows = []
      const ingestedAt = clock.now()
      for (const record of records) {
        metrics.received++
        const decoded = await decode(record)
        if ('letter' in decoded) {
          letters.push(decoded.letter)
          continue
        }
        const call = decoded.call
        const late = call.occurred_at < maxEventTime - options.allowedLatenessMs
        if (late) metrics.late++
        maxEventTime = Math.max(maxEventTime, call.occurred_at)
        const price = pricer.price(call)
        if (price.status === 'unpriced') {
          metrics.unpriced++
          if (!unpricedLogged.has(price.pricedModelId)) {
            unpricedLogged.add(price.pricedModelId)
            logger.warn({ model: price.pricedModelId, reason: price.reason }, 'unpriced model')
          }
        }
        rows.push(toAuditRow(call, { price, source: record.source, late, ingestedAt }))
      }
      if (letters.length > 0) {
        await deadLetters.publish(letters)
        metrics.deadLettered += letters.length
        for (const letter of letters) {
          logger.warn(
            { code: letter.code, issues: letter.issues, source: letter.source },
            'dead-lettered record',
          )
        }
      }
      const written = await sink.write(rows)
      metrics.audited += written.written
      metrics.duplicates += written.duplicates
      return {
        accepted: written.written,
        duplicates: written.duplicates,
        deadLettered: letters.length,
      }
    },
  }
}

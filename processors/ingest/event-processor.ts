import type { Clock } from '../../platform/clock.ts'
import { SpendGuardError, type FieldIssue } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { EventCodec } from '../../schemas/avro-codec.ts'
import {
  DEFAULT_EVENT_TIME_WINDOW,
  eventTimeIssue,
  type EventTimeWindow,
} from '../../schemas/event-time.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { checkLlmCall } from '../../schemas/validate.ts'
import { toAuditRow, type AuditRow, type EventSource } from '../audit/audit-row.ts'
import type { AuditSink } from '../audit/audit-sink.ts'
import type { Pricer } from '../pricing/pricer.ts'
import { deadLetterOf, type DeadLetter, type DeadLetterSink } from './dead-letters.ts'
import { Watermarks } from '../windows/watermarks.ts'
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
 * The live pipeline's per-batch work: decode, validate, check the event time, price, flag
 * late events, audit. A record that cannot be audited (undecodable, breaking the contract,
 * outside the retention window, refused by the store) goes to the dead-letter sink with its
 * reason and original bytes; it never stops the batch. `process` resolves when every record
 * is audited, a known duplicate or dead-lettered, so its caller may then commit the input;
 * it rejects, and the caller commits nothing, when the store stays unavailable.
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
  eventTimeWindow?: EventTimeWindow
  metrics?: PipelineMetrics
}

interface Prepared {
  row: AuditRow
  record: InputRecord
  late: boolean
  unpricedModel?: string
  unpricedReason?: string
}

/** The watermark key of a record: its Kafka partition, or the in-process queue. */
function partitionOf(source: EventSource): string {
  return source.partition === undefined ? source.kind : `${source.kind}:${source.partition}`
}

export function createEventProcessor(options: EventProcessorOptions): EventProcessor {
  const { pricer, sink, deadLetters, logger, clock, codec } = options
  const window = options.eventTimeWindow ?? DEFAULT_EVENT_TIME_WINDOW
  const metrics = options.metrics ?? createPipelineMetrics()
  const unpricedLogged = new Set<string>()
  const watermarks = new Watermarks({ allowedLatenessMs: options.allowedLatenessMs })

  function letter(
    record: InputRecord,
    code: string,
    reason: string,
    issues: FieldIssue[],
    eventId?: string,
  ): DeadLetter {
    return deadLetterOf(record, { code, reason, issues, eventId }, clock.now())
  }

  async function decode(record: InputRecord): Promise<{ call: LlmCall } | { dead: DeadLetter }> {
    if ('event' in record) return { call: record.event }
    if (!codec)
      return { dead: letter(record, 'NO_CODEC', 'byte record but no codec configured', []) }
    let candidate: Record<string, unknown>
    try {
      candidate = await codec.decode(record.bytes)
    } catch (error) {
      if (error instanceof SpendGuardError && !error.retriable)
        return { dead: letter(record, error.code, error.message, []) }
      throw error
    }
    const checked = checkLlmCall(candidate)
    if (checked.ok) return { call: checked.value }
    const eventId = typeof candidate.event_id === 'string' ? candidate.event_id : undefined
    return {
      dead: letter(
        record,
        'VALIDATION_FAILED',
        'event breaks the llm_call contract',
        checked.issues,
        eventId,
      ),
    }
  }

  return {
    metrics,
    async process(records) {
      const letters: DeadLetter[] = []
      const prepared: Prepared[] = []
      const now = clock.now()
      // Watermarks move only when the batch is settled, so a retried batch counts the same.
      const marks = watermarks.batch()
      for (const record of records) {
        const decoded = await decode(record)
        if ('dead' in decoded) {
          letters.push(decoded.dead)
          continue
        }
        const call = decoded.call
        const timeIssue = eventTimeIssue(call.occurred_at, now, window)
        if (timeIssue) {
          letters.push(
            letter(
              record,
              'EVENT_TIME_OUT_OF_RANGE',
              'event time outside the accepted window',
              [timeIssue],
              call.event_id,
            ),
          )
          continue
        }
        const late = marks.isLate(partitionOf(record.source), call.occurred_at, now)
        const price = pricer.price(call)
        prepared.push({
          row: toAuditRow(call, { price, source: record.source, late, ingestedAt: now }),
          record,
          late,
          ...(price.status === 'unpriced'
            ? { unpricedModel: price.pricedModelId, unpricedReason: price.reason }
            : {}),
        })
      }

      const written = await sink.write(prepared.map((p) => p.row))
      for (const { eventId, reason } of written.refused) {
        const item = prepared.find((p) => p.row.event_id === eventId)!
        letters.push(
          letter(
            item.record,
            'AUDIT_REFUSED',
            `the audit store refused the row: ${reason}`,
            [],
            eventId,
          ),
        )
      }
      if (letters.length > 0) await deadLetters.publish(letters)

      // Counted once the batch is settled: a batch that fails and comes again counts once.
      marks.commit()
      metrics.received += records.length
      metrics.audited += written.written
      metrics.duplicates += written.duplicates
      metrics.deadLettered += letters.length
      // Late and unpriced count the rows this batch wrote, each once.
      const uncounted = new Set(written.writtenIds)
      for (const item of prepared) {
        if (!uncounted.delete(item.row.event_id)) continue
        if (item.late) metrics.late++
        if (item.unpricedModel !== undefined) {
          metrics.unpriced++
          if (!unpricedLogged.has(item.unpricedModel)) {
            unpricedLogged.add(item.unpricedModel)
            logger.warn(
              { model: item.unpricedModel, reason: item.unpricedReason },
              'unpriced model',
            )
          }
        }
      }
      for (const dead of letters)
        logger.warn(
          { code: dead.code, issues: dead.issues, source: dead.source },
          'dead-lettered record',
        )
      return {
        accepted: written.written,
        duplicates: written.duplicates,
        deadLettered: letters.length,
      }
    },
  }
}

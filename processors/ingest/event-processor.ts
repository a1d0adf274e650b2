import type { Alert } from '../../alerts/alert.ts'
import type { Clock } from '../../platform/clock.ts'
import { SpendGuardError, type FieldIssue } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { EventCodec } from '../../schemas/avro-codec.ts'
import { DEFAULT_EVENT_TIME_WINDOW, type EventTimeWindow } from '../../schemas/event-time.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { toAuditRow, type AuditRow, type EventSource } from '../audit/audit-row.ts'
import type { AuditSink } from '../audit/audit-sink.ts'
import type { Pricer } from '../pricing/pricer.ts'
import { deadLetterOf, type DeadLetter, type DeadLetterSink } from './dead-letters.ts'
import {
  createEvaluationCore,
  type Candidate,
  type EvaluatedCall,
} from '../evaluation/evaluation-core.ts'
import type { SpendWindows } from '../windows/spend-windows.ts'
import { isEmpty, type DecisionSink } from '../detection/decision-store.ts'
import type { Decisions } from '../detection/detection.ts'
import type { DetectionEngine, Judgement } from '../detection/detection-engine.ts'
import type { MeasureSource } from '../detection/detector.ts'
import type { Rules } from '../detection/rules.ts'
import {
  countInto,
  createPipelineMetrics,
  type PipelineMetrics,
  type ProcessorObserver,
} from './pipeline-metrics.ts'

/** One input record: Avro bytes from Kafka, or an event validated at the HTTP boundary. */
export type InputRecord =
  { bytes: Buffer; source: EventSource } | { event: LlmCall; source: EventSource }

export interface ProcessResult {
  accepted: number
  duplicates: number
  deadLettered: number
  /** Event ids of the records that were already audited (or repeated within the batch). */
  duplicateIds: string[]
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
  /** Live spend of the calls this processor audited (and what it was rebuilt from). */
  readonly windows: SpendWindows
  /** The detectors' state (swept on the window schedule). */
  readonly detection: DetectionEngine
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
  /** Told of each settled batch's alerts, with their detection delay (metrics histograms). */
  observer?: ProcessorObserver | undefined
  /**
   * Write each batch at once instead of waiting for the sink's size or timer: for a transport
   * that waits for a batch before it hands over the next (in-process, and Kafka, whose consumer
   * fetches again only once the batches of the last fetch are settled). Waiting for the timer
   * there would hold every call behind the previous batch's flush, detectors' decisions included.
   */
  flushEachBatch?: boolean
  /**
   * The windows a record's call is counted in, when they depend on its input partition (the
   * scale-out input side); `windows` otherwise.
   */
  windowsOf?: (source: EventSource) => SpendWindows
  /** Budgets, anomalies, loops and policy; the defaults when absent. */
  rules?: Rules | undefined
  /** Where the alerts and command requests of a batch go, before its audit rows. */
  decisions?: DecisionSink | undefined
  /**
   * The windows detectors read, when they are not `windows` (the input shares an instance
   * holds, on Kafka).
   */
  detectionSources?: () => readonly MeasureSource[]
}

const NOT_JUDGED: Judgement = { flags: [], alerts: [], commands: [], violations: [] }

interface Prepared {
  row: AuditRow
  record: InputRecord
  evaluated: EvaluatedCall
  /** The alerts this call raised (the judgement's own list: nothing is copied per call). */
  alerts: readonly Alert[]
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
  const core = createEvaluationCore({
    pricer,
    allowedLatenessMs: options.allowedLatenessMs,
    eventTimeWindow: window,
    rules: options.rules,
  })

  function letter(
    record: InputRecord,
    code: string,
    reason: string,
    issues: FieldIssue[],
    eventId?: string,
  ): DeadLetter {
    return deadLetterOf(record, { code, reason, issues, eventId }, clock.now())
  }

  /** A decode failure that belongs to the message (not the moment): its dead letter. */
  function undecodable(record: InputRecord, error: unknown): { dead: DeadLetter } {
    if (error instanceof SpendGuardError && !error.retriable)
      return { dead: letter(record, error.code, error.message, []) }
    throw error
  }

  /**
   * A record's candidate, read without waiting; undefined when its writer schema must first be
   * fetched from the registry (then `decode`). The hot path takes no promise per record.
   */
  function read(record: InputRecord): Candidate | { dead: DeadLetter } | undefined {
    if ('event' in record) return { event: record.event }
    if (!codec)
      return { dead: letter(record, 'NO_CODEC', 'byte record but no codec configured', []) }
    try {
      const decoded = codec.readRecord(record.bytes)
      return decoded === undefined ? undefined : { record: decoded }
    } catch (error) {
      return undecodable(record, error)
    }
  }

  async function decode(record: InputRecord): Promise<Candidate | { dead: DeadLetter }> {
    try {
      return { record: await codec!.decodeRecord((record as { bytes: Buffer }).bytes) }
    } catch (error) {
      return undecodable(record, error)
    }
  }

  return {
    metrics,
    windows: core.windows,
    detection: core.detection,
    async process(records) {
      const letters: DeadLetter[] = []
      const prepared: Prepared[] = []
      const now = clock.now()
      // Watermarks move only when the batch is settled, so a retried batch counts the same.
      const marks = core.watermarks.batch()
      // Detectors judge each call before it is audited, so its row carries what it fired.
      const judging = core.judge(now, options.detectionSources?.())
      const decisions: Decisions = { alerts: [], commands: [], violations: [] }
      // A batch that fails anywhere before it is settled leaves no trace in the detectors.
      let written: Awaited<ReturnType<AuditSink['write']>>
      try {
        const judged = new Set<string>()
        for (const record of records) {
          const decoded = read(record) ?? (await decode(record))
          if ('dead' in decoded) {
            letters.push(decoded.dead)
            continue
          }
          const evaluation = core.evaluate(decoded, partitionOf(record.source), marks, now)
          if (!evaluation.ok) {
            const { code, reason, issues, eventId } = evaluation.rejection
            letters.push(letter(record, code, reason, issues, eventId))
            continue
          }
          const evaluated = evaluation.value
          const id = evaluated.call.event_id
          // A repeat (in the batch, or of an event this process audited) is not judged again:
          // its row is dropped as a duplicate, and the detectors saw the call once already.
          const repeat = judged.has(id) || sink.audited(id)
          judged.add(id)
          const judgement = repeat ? NOT_JUDGED : judging.judge(evaluated)
          decisions.alerts.push(...judgement.alerts)
          decisions.commands.push(...judgement.commands)
          prepared.push({
            row: toAuditRow(evaluated.call, {
              price: evaluated.price,
              source: record.source,
              late: evaluated.late,
              ingestedAt: now,
              ...(judgement.flags.length > 0 ? { detectionFlags: judgement.flags } : {}),
            }),
            record,
            evaluated,
            alerts: judgement.alerts,
          })
        }
        // Decisions first: a batch that fails after them comes again and makes the same ids.
        if (options.decisions && !isEmpty(decisions)) await options.decisions.record(decisions)
        const writing = sink.write(prepared.map((p) => p.row))
        if (options.flushEachBatch) sink.requestFlush()
        written = await writing
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
      } catch (error) {
        judging.discard()
        throw error
      }
      judging.commit()
      metrics.alerts += decisions.alerts.length
      for (const { evaluated, alerts } of prepared)
        for (const alert of alerts) {
          countInto(metrics.alertsByType, alert.type)
          options.observer?.alertRaised?.(Math.max(0, now - evaluated.call.occurred_at))
        }

      // Counted once the batch is settled: a batch that fails and comes again counts once.
      marks.commit()
      metrics.received += records.length
      metrics.audited += written.written
      metrics.duplicates += written.duplicates
      metrics.deadLettered += letters.length
      for (const dead of letters) countInto(metrics.deadLetteredByCode, dead.code)
      // Windows, late and unpriced count the rows this batch wrote, each once.
      const uncounted = new Set(written.writtenIds)
      for (const { row, evaluated, record } of prepared) {
        if (!uncounted.delete(row.event_id)) continue
        core.count(evaluated, now, options.windowsOf?.(record.source))
        if (evaluated.late) metrics.late++
        const price = evaluated.price
        if (price.status === 'unpriced') {
          metrics.unpriced++
          countInto(metrics.unpricedByReason, price.code)
          if (!unpricedLogged.has(price.pricedModelId)) {
            unpricedLogged.add(price.pricedModelId)
            logger.warn({ model: price.pricedModelId, reason: price.reason }, 'unpriced model')
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
        duplicateIds: written.duplicateIds,
      }
    },
  }
}

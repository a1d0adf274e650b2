import type { FieldIssue } from '../../platform/errors.ts'
import { eventTimeIssue, type EventTimeWindow } from '../../schemas/event-time.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { fromAvroRecord } from '../../schemas/avro-codec.ts'
import { fastCheckLlmCall } from '../../schemas/fast-validate.ts'
import { checkLlmCall } from '../../schemas/validate.ts'
import {
  createDetectionEngine,
  type DetectionBatch,
  type DetectionEngine,
} from '../detection/detection-engine.ts'
import type { MeasureSource } from '../detection/detector.ts'
import { DEFAULT_RULES, type Rules } from '../detection/rules.ts'
import { pricedCost, type PriceResult, type Pricer } from '../pricing/pricer.ts'
import { SpendWindows } from '../windows/spend-windows.ts'
import { Watermarks, type WatermarkBatch } from '../windows/watermarks.ts'

/** A call that passed every check: what the audit row, the windows and detectors are built from. */
export interface EvaluatedCall {
  call: LlmCall
  price: PriceResult
  late: boolean
}

/** A record that cannot be counted: the dead-letter code, reason and field-level issues. */
export interface Rejection {
  code: string
  reason: string
  issues: FieldIssue[]
  eventId?: string | undefined
}

export type Evaluation = { ok: true; value: EvaluatedCall } | { ok: false; rejection: Rejection }

/**
 * A decoded input: an object still to be validated (JSON), an Avro record as avsc decodes it
 * (null for absent fields), or an event validated at a boundary.
 */
export type Candidate =
  { value: unknown } | { record: Record<string, unknown> } | { event: LlmCall }

function validate(candidate: Candidate): ReturnType<typeof checkLlmCall> {
  if ('value' in candidate) return checkLlmCall(candidate.value)
  if ('event' in candidate) return { ok: true, value: candidate.event }
  const fast = fastCheckLlmCall(candidate.record, { nullIsAbsent: true })
  return fast ? { ok: true, value: fast } : checkLlmCall(fromAvroRecord(candidate.record))
}

export interface EvaluationCoreOptions {
  pricer: Pricer
  allowedLatenessMs: number
  /**
   * How far from `now` an event time may be; live ingest refuses the rest. Undefined in
   * replay, where the clock follows the file's own event time.
   */
  eventTimeWindow?: EventTimeWindow | undefined
  windows?: SpendWindows
  /** Budgets, anomalies, loops and policy; the defaults when absent. */
  rules?: Rules | undefined
}

/**
 * The one evaluation path that the live pipeline (Kafka or in-process) and `spendguard replay`
 * share: validate, check the event time, price, judge lateness on the input partition's
 * watermark, and, once the caller has settled a call (audited live, accepted in replay), count
 * it into the windows. Time is always passed in: the processing clock live, event time in
 * replay. Detectors judge each call before it is counted (`judge`).
 */
export interface EvaluationCore {
  readonly windows: SpendWindows
  readonly watermarks: Watermarks
  readonly detection: DetectionEngine
  evaluate(candidate: Candidate, partition: string, marks: WatermarkBatch, now: number): Evaluation
  /**
   * Counts a settled call, once, into every window of every dimension: of `into` when given
   * (an input partition's share, on Kafka), of the core's own windows otherwise.
   */
  count(evaluated: EvaluatedCall, now: number, into?: SpendWindows): void
  /**
   * Judges calls in order against the rules, before they are counted: each call sees the
   * windows (`from`, summed; the core's own by default) and the batch's earlier calls.
   */
  judge(now: number, from?: readonly MeasureSource[]): DetectionBatch
}

export function createEvaluationCore(options: EvaluationCoreOptions): EvaluationCore {
  const windows = options.windows ?? new SpendWindows()
  const watermarks = new Watermarks({ allowedLatenessMs: options.allowedLatenessMs })
  const detection = createDetectionEngine(options.rules ?? DEFAULT_RULES)
  return {
    windows,
    watermarks,
    detection,
    judge: (now, from = [windows]) => detection.batch(from, now),
    evaluate(candidate, partition, marks, now) {
      let call: LlmCall
      {
        const checked = validate(candidate)
        if (!checked.ok) {
          const raw =
            'value' in candidate
              ? candidate.value
              : 'record' in candidate
                ? candidate.record
                : undefined
          const rawId = (raw as { event_id?: unknown } | null)?.event_id
          return {
            ok: false,
            rejection: {
              code: 'VALIDATION_FAILED',
              reason: 'event breaks the llm_call contract',
              issues: checked.issues,
              eventId: typeof rawId === 'string' ? rawId : undefined,
            },
          }
        }
        call = checked.value
      }
      if (options.eventTimeWindow) {
        const issue = eventTimeIssue(call.occurred_at, now, options.eventTimeWindow)
        if (issue)
          return {
            ok: false,
            rejection: {
              code: 'EVENT_TIME_OUT_OF_RANGE',
              reason: 'event time outside the accepted window',
              issues: [issue],
              eventId: call.event_id,
            },
          }
      }
      const late = marks.isLate(partition, call.occurred_at, now)
      return { ok: true, value: { call, price: options.pricer.price(call), late } }
    },
    count(evaluated, now, into = windows) {
      const price = evaluated.price
      into.add(evaluated.call, pricedCost(price), evaluated.late, now)
    },
  }
}

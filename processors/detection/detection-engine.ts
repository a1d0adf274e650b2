import type { Alert } from '../../alerts/alert.ts'
import { FEMTOS_PER_USD } from '../../platform/money.ts'
import { pricedCost, type PriceResult } from '../pricing/pricer.ts'
import type { TotalsSum } from '../windows/spend-measures.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { horizonAt, type Horizon } from '../windows/key-buckets.ts'
import { DAY, MINUTE, MONTH } from '../windows/spend-measures.ts'
import { keyOf, type Dimension } from '../windows/spend-windows.ts'
import {
  dayStart,
  minuteStart,
  monthStart,
  windowSpan,
  type WindowName,
} from '../windows/window-spans.ts'
import { createAnomalyDetector } from './anomalies.ts'
import { createBudgetDetector } from './budgets.ts'
import {
  alertOf,
  commandOf,
  type CommandRequest,
  type Decisions,
  type Detection,
  type Violation,
} from './detection.ts'
import type { Detector, MeasureSource, Subject, WindowReader, WindowTotals } from './detector.ts'
import { createLoopDetector } from './loops.ts'
import { createPolicyDetector, policyFor } from './policy.ts'
import type { Rules } from './rules.ts'
import type { Stage, StageCursor } from './staged-map.ts'

/** A call to judge: what the evaluation core made of it. */
export interface JudgedCall {
  call: LlmCall
  price: PriceResult
  late: boolean
}

/** What one call fired: the flags of its audit row and the decisions it leads to. */
export interface Judgement extends Decisions {
  flags: string[]
}

/**
 * The calls of one batch judged in order. Each call sees the windows as counted so far plus the
 * batch's earlier calls (counted only once the batch is audited). `commit` keeps what the
 * detectors learnt from the batch; `discard` forgets it, so a batch that comes again after a
 * failed write is judged the same way.
 */
export interface DetectionBatch {
  judge(evaluated: JudgedCall): Judgement
  commit(): void
  discard(): void
}

export interface DetectionEngine {
  /** What alerts raised before (read back from the alerts table at start) say was fired. */
  remember(alerts: readonly Alert[]): void
  /** A batch judged against `sources` (summed: the windows of every input share held). */
  batch(sources: readonly MeasureSource[], now: number): DetectionBatch
  /** Forgets detector state older than any rule looks back from `now` (event time). */
  sweep(now: number): void
}

const NONE: WindowTotals = { calls: 0, cost: 0n, tokens: 0 }

function totalsOf(
  sources: readonly MeasureSource[],
  ...args: Parameters<WindowReader['totals']>
): WindowTotals {
  const sum: TotalsSum = { calls: 0, dollars: 0, femtos: 0, tokens: 0 }
  for (const source of sources) source.addTotals(...args, sum)
  if (sum.calls === 0) return NONE
  return {
    calls: sum.calls,
    cost: BigInt(sum.dollars) * FEMTOS_PER_USD + BigInt(sum.femtos),
    tokens: sum.tokens,
  }
}

/** Calls, cost and tokens of a batch's judged calls in one minute of one key. */
interface MinuteSum {
  calls: number
  cost: bigint
  tokens: number
}

/**
 * The calls of a batch judged so far, as the windows will count them once the batch is audited:
 * summed per key and minute, for a dimension only once a detector reads it, then read per
 * window with the windows' own spans and horizon.
 */
class PendingCalls {
  readonly #calls: Subject[] = []
  readonly #byDimension = new Map<
    Dimension,
    { indexed: number; keys: Map<string, Map<number, MinuteSum>> }
  >()
  readonly #horizon: Horizon

  constructor(now: number) {
    this.#horizon = horizonAt(now)
  }

  push(subject: Subject): void {
    this.#calls.push(subject)
  }

  addTo(
    totals: WindowTotals,
    dimension: Dimension,
    tenant: string,
    key: string,
    window: WindowName,
    asOf: number,
  ): WindowTotals {
    if (this.#calls.length === 0) return totals
    let index = this.#byDimension.get(dimension)
    if (!index) {
      index = { indexed: 0, keys: new Map() }
      this.#byDimension.set(dimension, index)
    }
    for (; index.indexed < this.#calls.length; index.indexed++) {
      const { call, cost } = this.#calls[index.indexed]!
      const own = keyOf(dimension, call)
      if (own === undefined) continue
      const id = `${call.tenant_id}\u0000${own}`
      let minutes = index.keys.get(id)
      if (!minutes) {
        minutes = new Map()
        index.keys.set(id, minutes)
      }
      const minute = minuteStart(call.occurred_at)
      const sum = minutes.get(minute)
      const tokens = call.input_tokens + call.output_tokens
      if (sum) {
        sum.calls++
        sum.cost += cost ?? 0n
        sum.tokens += tokens
      } else minutes.set(minute, { calls: 1, cost: cost ?? 0n, tokens })
    }
    const minutes = index.keys.get(`${tenant}\u0000${key}`)
    if (!minutes) return totals
    const span = windowSpan(window, asOf)
    const rank = window === 'month' ? MONTH : window === 'day' ? DAY : MINUTE
    const oldest = this.#horizon[rank]
    let { calls, cost, tokens } = totals
    for (const [minute, sum] of minutes) {
      const bucket = rank === MONTH ? monthStart(minute) : rank === DAY ? dayStart(minute) : minute
      if (minute < span.from || minute >= span.to || bucket < oldest) continue
      calls += sum.calls
      cost += sum.cost
      tokens += sum.tokens
    }
    return { calls, cost, tokens }
  }
}

function violationOf(detection: Detection, call: LlmCall, mode: string): Violation {
  return {
    event_id: call.event_id,
    occurred_at: new Date(call.occurred_at).toISOString(),
    tenant: call.tenant_id,
    agent_id: call.agent_id,
    task_category: call.task_category ?? null,
    model: call.model,
    severity: detection.severity,
    rule: detection.rule,
    reason: detection.summary,
    mode,
  }
}

export function createDetectionEngine(rules: Rules): DetectionEngine {
  const cursor: StageCursor = { current: {} }
  /** The latest event time of a settled call: detector state is event-time state. */
  let latest = Number.NEGATIVE_INFINITY
  const detectors: Detector[] = [
    createPolicyDetector(rules.policy, cursor),
    createBudgetDetector(rules, cursor),
    createAnomalyDetector(rules.anomalies, cursor),
    createLoopDetector(rules.loops, cursor),
  ]
  return {
    batch(sources, now) {
      // This batch's changes to detector state, apart from any other batch judged meanwhile.
      const stage: Stage = {}
      let newest = Number.NEGATIVE_INFINITY
      const earlier = new PendingCalls(now)
      const reader: WindowReader = {
        totals(dimension, tenant, key, window, asOf) {
          const live = totalsOf(sources, dimension, tenant, key, window, asOf)
          return earlier.addTo(live, dimension, tenant, key, window, asOf)
        },
      }
      return {
        judge(evaluated) {
          const { call, price } = evaluated
          const subject: Subject = {
            call,
            price,
            cost: pricedCost(price),
          }
          cursor.current = stage
          if (call.occurred_at > newest) newest = call.occurred_at
          const found = detectors.flatMap((detector) => detector.inspect(subject, reader))
          earlier.push(subject)
          const judgement: Judgement = { flags: [], alerts: [], commands: [], violations: [] }
          if (found.length === 0) return judgement
          const flags = new Set<string>()
          for (const detection of found) {
            flags.add(detection.flag)
            if (detection.silent) continue
            const alert: Alert = alertOf(detection, call)
            judgement.alerts.push(alert)
            const command: CommandRequest | undefined = commandOf(
              detection,
              alert,
              call.occurred_at,
            )
            if (command) judgement.commands.push(command)
            if (detection.type === 'policy' && detection.rule !== 'policy:fallback_exception')
              judgement.violations.push(
                violationOf(detection, call, policyFor(rules.policy, call.tenant_id).mode),
              )
          }
          judgement.flags = [...flags]
          return judgement
        },
        commit() {
          for (const detector of detectors) detector.commit(stage)
          latest = Math.max(latest, newest)
        },
        discard() {
          for (const detector of detectors) detector.discard(stage)
        },
      }
    },
    remember(alerts) {
      const stage: Stage = {}
      cursor.current = stage
      for (const alert of alerts) for (const detector of detectors) detector.remember?.(alert)
      for (const detector of detectors) detector.commit(stage)
      for (const alert of alerts) latest = Math.max(latest, Date.parse(alert.occurred_at))
    },
    sweep(now) {
      // By event time, not by the clock: a consumer catching up on an old backlog keeps the
      // state its rules still need. Never past the clock (one event far in the future).
      const at = Math.min(now, latest)
      if (at === Number.NEGATIVE_INFINITY) return
      for (const detector of detectors) detector.sweep(at)
    },
  }
}

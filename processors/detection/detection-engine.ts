import type { Alert } from '../../alerts/alert.ts'
import type { PriceResult } from '../pricing/pricer.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { SpendWindows, type Dimension } from '../windows/spend-windows.ts'
import type { WindowName } from '../windows/window-spans.ts'
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
  let totals = NONE
  for (const source of sources) {
    const measures = source.measure(...args)
    if (!measures) continue
    totals = {
      calls: totals.calls + measures.calls,
      cost: totals.cost + measures.cost,
      tokens: totals.tokens + measures.inputTokens + measures.outputTokens,
    }
  }
  return totals
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
  const detectors: Detector[] = [
    createPolicyDetector(rules.policy),
    createBudgetDetector(rules),
    createAnomalyDetector(rules.anomalies),
    createLoopDetector(rules.loops),
  ]
  return {
    batch(sources, now) {
      const earlier: JudgedCall[] = []
      let pending: SpendWindows | undefined
      let counted = 0
      const reader: WindowReader = {
        totals(
          dimension: Dimension,
          tenant: string,
          key: string,
          window: WindowName,
          asOf: number,
        ) {
          const live = totalsOf(sources, dimension, tenant, key, window, asOf)
          if (earlier.length === 0) return live
          pending ??= new SpendWindows()
          for (; counted < earlier.length; counted++) {
            const { call, price, late } = earlier[counted]!
            pending.add(call, price.status === 'priced' ? price.cost.total : undefined, late, now)
          }
          const more = totalsOf([pending], dimension, tenant, key, window, asOf)
          return {
            calls: live.calls + more.calls,
            cost: live.cost + more.cost,
            tokens: live.tokens + more.tokens,
          }
        },
      }
      return {
        judge(evaluated) {
          const { call, price } = evaluated
          const subject: Subject = {
            call,
            price,
            cost: price.status === 'priced' ? price.cost.total : undefined,
          }
          const found = detectors.flatMap((detector) => detector.inspect(subject, reader))
          earlier.push(evaluated)
          const judgement: Judgement = { flags: [], alerts: [], commands: [], violations: [] }
          if (found.length === 0) return judgement
          const flags = new Set<string>()
          for (const detection of found) {
            flags.add(detection.flag)
            if (detection.silent) continue
            const alert: Alert = alertOf(detection, call.occurred_at)
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
          for (const detector of detectors) detector.commit()
        },
        discard() {
          for (const detector of detectors) detector.discard()
        },
      }
    },
    sweep(now) {
      for (const detector of detectors) detector.sweep(now)
    },
  }
}

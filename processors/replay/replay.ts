import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { formatUsd, type Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { createEvaluationCore, type EvaluatedCall } from '../evaluation/evaluation-core.ts'
import type { Decisions } from '../detection/detection.ts'
import type { Rules } from '../detection/rules.ts'
import type { Pricer } from '../pricing/pricer.ts'
import { NO_VALUE, type GroupTotals, type ReplayReport } from './replay-report.ts'

/**
 * "What would have happened": reads a JSON-lines file of llm_call events through the same
 * validation and pricing as the live pipeline, then processes the accepted events in
 * event-time order (the clock follows event time) and reports totals per dimension.
 * A bad line is reported with its line number and field errors, never fatal.
 */
export interface ReplayOptions {
  pricer: Pricer
  allowedLatenessMs: number
  /** The configuration's detection rules; the defaults when absent. */
  rules?: Rules | undefined
}

/** How often, in event time, detector state no rule can reach any more is dropped. */
const SWEEP_EVERY_MS = 60_000

interface Accepted {
  evaluated: EvaluatedCall
  line: number
}

type Totals = { calls: number; unpriced: number; cost: Femtos; input: number; output: number }

class GroupBy {
  readonly #groups = new Map<string, Totals>()

  add(key: string | undefined, call: LlmCall, cost: Femtos | undefined): void {
    const name = key ?? NO_VALUE
    let totals = this.#groups.get(name)
    if (!totals) {
      totals = { calls: 0, unpriced: 0, cost: 0n, input: 0, output: 0 }
      this.#groups.set(name, totals)
    }
    totals.calls++
    if (cost === undefined) totals.unpriced++
    else totals.cost += cost
    totals.input += call.input_tokens
    totals.output += call.output_tokens
  }

  toJSON(): Record<string, GroupTotals> {
    const out: Record<string, GroupTotals> = {}
    for (const [name, t] of [...this.#groups].sort(([a], [b]) => a.localeCompare(b))) {
      out[name] = {
        calls: t.calls,
        unpriced_calls: t.unpriced,
        cost_usd: formatUsd(t.cost),
        input_tokens: t.input,
        output_tokens: t.output,
      }
    }
    return out
  }
}

export async function replay(input: Readable, options: ReplayOptions): Promise<ReplayReport> {
  const rejected: ReplayReport['rejected'] = []
  const accepted: Accepted[] = []
  const firstLine = new Map<string, number>()
  let read = 0
  let duplicates = 0
  let late = 0
  // The live pipeline's evaluation, with no event-time bound: the file's own time is the clock.
  const core = createEvaluationCore({
    pricer: options.pricer,
    allowedLatenessMs: options.allowedLatenessMs,
    rules: options.rules,
  })
  const marks = core.watermarks.batch()

  const lines = createInterface({ input, crlfDelay: Infinity })
  let lineNumber = 0
  for await (const text of lines) {
    lineNumber++
    if (text.trim() === '') continue
    read++
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch (error) {
      rejected.push({
        line: lineNumber,
        errors: [{ path: '', message: `malformed JSON: ${(error as Error).message}` }],
      })
      continue
    }
    // Lateness follows file order, the order a live pipeline would have received the lines in;
    // with no wall clock ahead of the file, nothing caps the watermark.
    const evaluation = core.evaluate({ value }, 'replay', marks, Number.POSITIVE_INFINITY)
    if (!evaluation.ok) {
      const { eventId, issues } = evaluation.rejection
      rejected.push({ line: lineNumber, ...(eventId ? { event_id: eventId } : {}), errors: issues })
      continue
    }
    const { call } = evaluation.value
    const seenAt = firstLine.get(call.event_id)
    if (seenAt !== undefined) {
      duplicates++
      rejected.push({
        line: lineNumber,
        event_id: call.event_id,
        errors: [
          { path: 'event_id', message: `repeats the event_id of line ${seenAt}; priced once` },
        ],
      })
      continue
    }
    firstLine.set(call.event_id, lineNumber)
    if (evaluation.value.late) late++
    accepted.push({ evaluated: evaluation.value, line: lineNumber })
  }

  // Event-time order; ties keep file order (Array.prototype.sort is stable).
  accepted.sort((a, b) => a.evaluated.call.occurred_at - b.evaluated.call.occurred_at)

  const byAgent = new GroupBy()
  const byFeature = new GroupBy()
  const byUser = new GroupBy()
  const byTeam = new GroupBy()
  const byModel = new GroupBy()
  const unpriced = new Map<string, { calls: number; reason: string }>()
  let total = 0n
  let unpricedCount = 0
  const decisions: Decisions = { alerts: [], commands: [], violations: [] }
  let swept = Number.NEGATIVE_INFINITY
  for (const { evaluated } of accepted) {
    const { call, price } = evaluated
    // Replay's clock is the event's own time: each call is judged, then counted, as live.
    const judging = core.judge(call.occurred_at)
    const judged = judging.judge(evaluated)
    judging.commit()
    decisions.alerts.push(...judged.alerts)
    decisions.commands.push(...judged.commands)
    decisions.violations.push(...judged.violations)
    core.count(evaluated, call.occurred_at)
    if (call.occurred_at - swept >= SWEEP_EVERY_MS) {
      core.detection.sweep(call.occurred_at)
      swept = call.occurred_at
    }
    let cost: Femtos | undefined
    if (price.status === 'priced') {
      cost = price.cost.total
      total += cost
    } else {
      unpricedCount++
      const entry = unpriced.get(call.model) ?? { calls: 0, reason: price.reason }
      entry.calls++
      unpriced.set(call.model, entry)
    }
    byAgent.add(call.agent_id, call, cost)
    byFeature.add(call.feature_id, call, cost)
    byUser.add(call.user_id, call, cost)
    byTeam.add(call.team_id, call, cost)
    byModel.add(call.model, call, cost)
  }

  const first = accepted[0]?.evaluated.call.occurred_at
  const last = accepted[accepted.length - 1]?.evaluated.call.occurred_at
  return {
    events: {
      read,
      accepted: accepted.length,
      rejected: rejected.length,
      duplicates,
      late,
      unpriced: unpricedCount,
    },
    cost_usd: formatUsd(total),
    first_event_at: first === undefined ? null : new Date(first).toISOString(),
    last_event_at: last === undefined ? null : new Date(last).toISOString(),
    price_catalog_version: options.pricer.catalogVersion,
    by_agent: byAgent.toJSON(),
    by_feature: byFeature.toJSON(),
    by_user: byUser.toJSON(),
    by_team: byTeam.toJSON(),
    by_model: byModel.toJSON(),
    unpriced_models: [...unpriced].map(([model, u]) => ({
      model,
      calls: u.calls,
      reason: u.reason,
    })),
    rejected,
    ...decisions,
  }
}

import { formatUsd } from '../../platform/money.ts'
import type { Detection } from './detection.ts'
import { exceedsMultiple, ratioText, type Detector } from './detector.ts'
import type { AnomalyRules } from './rules.ts'
import { StagedMap, type StageCursor } from './staged-map.ts'

const SLOT_MS = 15 * 60_000

/**
 * Spend anomalies against the agent x feature 24-hour baseline (the agent's own when a call has
 * no feature): one call costing more than `single_call_multiple` times the baseline's average
 * cost per call, and a 15-minute average more than `window_multiple` times the average of the
 * rest of the 24 hours, with at least `min_calls` calls in both. The user-budget anomaly is
 * judged with the budgets (it needs their limits).
 */
export function createAnomalyDetector(rules: AnomalyRules, cursor: StageCursor): Detector {
  /** Dedup key -> event time it fired at: one window alert per key and 15-minute slot. */
  const fired = new StagedMap<string, number>(cursor)
  return {
    inspect({ call, cost }, reader) {
      if (cost === undefined) return []
      const found: Detection[] = []
      const paired = call.feature_id !== undefined
      const dimension = paired ? 'agent_feature' : 'agent'
      const key = paired ? `${call.agent_id}/${call.feature_id}` : call.agent_id
      const scope = { kind: dimension, id: key }
      const t = call.occurred_at
      const day = reader.totals(dimension, call.tenant_id, key, '24h', t)
      if (
        day.calls >= rules.min_calls &&
        exceedsMultiple(cost, 1, day.cost, day.calls, rules.single_call_multiple)
      ) {
        found.push({
          type: 'anomaly',
          rule: 'anomaly:single_call',
          severity: 'warning',
          tenant: call.tenant_id,
          scope,
          summary: `one call of ${key} cost $${formatUsd(cost)}, ${ratioText(cost * BigInt(day.calls), day.cost)}x its 24-hour average of $${formatUsd(day.cost / BigInt(day.calls))}`,
          episode: call.event_id,
          evidence: {
            window: '24h',
            observed: formatUsd(cost),
            threshold: `${rules.single_call_multiple}x ${formatUsd(day.cost / BigInt(day.calls))}`,
            baseline_calls: day.calls,
            event_ids: [call.event_id],
          },
          flag: 'anomaly:single_call',
        })
      }
      // The last 15 minutes with this call, against the rest of the 24 hours.
      const recent = reader.totals(dimension, call.tenant_id, key, '15m', t)
      const calls15 = recent.calls + 1
      const cost15 = recent.cost + cost
      const baseCalls = day.calls - recent.calls
      const baseCost = day.cost - recent.cost
      const slot = Math.floor(t / SLOT_MS) * SLOT_MS
      const dedup = `${call.tenant_id}|${key}|${slot}`
      if (
        calls15 >= rules.min_calls &&
        baseCalls >= rules.min_calls &&
        exceedsMultiple(cost15, calls15, baseCost, baseCalls, rules.window_multiple) &&
        fired.get(dedup) === undefined
      ) {
        fired.set(dedup, t)
        const ratio = ratioText(cost15 * BigInt(baseCalls), baseCost * BigInt(calls15))
        found.push({
          type: 'anomaly',
          rule: 'anomaly:window',
          severity: 'warning',
          tenant: call.tenant_id,
          scope,
          summary: `${key}: the last 15 minutes average $${formatUsd(cost15 / BigInt(calls15))} per call over ${calls15} calls, ${ratio}x the 24-hour baseline`,
          episode: new Date(slot).toISOString(),
          evidence: {
            window: '15m',
            observed: formatUsd(cost15 / BigInt(calls15)),
            threshold: `${rules.window_multiple}x ${formatUsd(baseCalls === 0 ? 0n : baseCost / BigInt(baseCalls))}`,
            calls: calls15,
            baseline_calls: baseCalls,
            event_ids: [call.event_id],
          },
          flag: 'anomaly:window',
        })
      }
      return found
    },
    commit: (stage) => fired.commit(stage),
    discard: (stage) => fired.discard(stage),
    sweep: (now) => fired.sweep((at) => at < now - 2 * SLOT_MS),
  }
}

import { formatUsd, parseUsd } from '../../platform/money.ts'
import { toClickHouseTime } from '../audit/audit-row.ts'
import type { Dimension, SpendView } from './spend-windows.ts'
import { windowSpan, type WindowName } from './window-spans.ts'

/** The audit column (or expression) each dimension's key is read from. */
export const KEY_EXPRESSIONS: Record<Dimension, string> = {
  agent: 'agent_id',
  feature: 'feature_id',
  user: 'user_id',
  session: 'session_id',
  team: 'team_id',
  tenant: 'tenant_id',
  model: 'model',
  task_category: 'task_category',
  agent_feature: "if(feature_id IS NULL, NULL, concat(agent_id, '/', feature_id))",
}

/** Totals the audit and the live windows are compared on. */
export interface KeyTotals {
  calls: number
  cost: bigint
  input_tokens: number
  output_tokens: number
}

export const MEASURES = ['calls', 'cost', 'input_tokens', 'output_tokens'] as const

/** One row of the audit's side: a key's totals in the window's span. */
export interface AuditTotalsRow {
  tenant: string
  key: string
  calls: string | number
  cost: string
  input_tokens: string | number
  output_tokens: string | number
}

/** The SQL (and its parameters) that sums the audit as a live window does. */
export function auditTotalsQuery(
  dimension: Dimension,
  window: WindowName,
  asOf: number,
): { query: string; params: Record<string, string> } {
  const span = windowSpan(window, asOf)
  const key = KEY_EXPRESSIONS[dimension]
  return {
    query: `SELECT tenant_id AS tenant, ${key} AS key, count() AS calls,
  toString(sum(ifNull(cost_usd, 0))) AS cost,
  sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
FROM llm_calls
WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
  AND key IS NOT NULL
GROUP BY tenant, key`,
    params: { from: toClickHouseTime(span.from), to: toClickHouseTime(span.to) },
  }
}

export interface Drift {
  dimension: Dimension
  window: WindowName
  tenant: string
  key: string
  measure: (typeof MEASURES)[number]
  live: string
  audit: string
}

const totalsOfItem = (item: SpendView['items'][number]): KeyTotals => ({
  calls: item.calls,
  cost: parseUsd(item.cost_usd),
  input_tokens: item.input_tokens,
  output_tokens: item.output_tokens,
})

const totalsOfRow = (row: AuditTotalsRow): KeyTotals => ({
  calls: Number(row.calls),
  cost: parseUsd(row.cost),
  input_tokens: Number(row.input_tokens),
  output_tokens: Number(row.output_tokens),
})

const show = (measure: (typeof MEASURES)[number], value: number | bigint): string =>
  measure === 'cost' ? formatUsd(value as bigint) : String(value)

/**
 * The differences between the live windows and the audit for one dimension and window.
 * Events keep arriving while the three reads happen, so the live view is read before
 * (`before`) and after (`after`) the audit: a key drifts only when the audit lies outside what
 * the live totals were between the two reads. On a quiet pipeline before equals after and any
 * difference is drift.
 */
export function compareTotals(
  dimension: Dimension,
  window: WindowName,
  before: SpendView,
  audit: readonly AuditTotalsRow[],
  after: SpendView,
): Drift[] {
  const id = (tenant: string, key: string) => `${tenant}\u0000${key}`
  const low = new Map(before.items.map((item) => [id(item.tenant, item.key), totalsOfItem(item)]))
  const high = new Map(after.items.map((item) => [id(item.tenant, item.key), totalsOfItem(item)]))
  const fromAudit = new Map(audit.map((row) => [id(row.tenant, row.key), totalsOfRow(row)]))
  const zero: KeyTotals = { calls: 0, cost: 0n, input_tokens: 0, output_tokens: 0 }
  const drifts: Drift[] = []
  for (const name of new Set([...low.keys(), ...high.keys(), ...fromAudit.keys()])) {
    const [tenant = '', key = ''] = name.split('\u0000')
    const a = low.get(name) ?? zero
    const b = high.get(name) ?? zero
    const sql = fromAudit.get(name) ?? zero
    for (const measure of MEASURES) {
      if (sql[measure] >= a[measure] && sql[measure] <= b[measure]) continue
      drifts.push({
        dimension,
        window,
        tenant,
        key,
        measure,
        live: show(measure, b[measure]),
        audit: show(measure, sql[measure]),
      })
    }
  }
  return drifts.sort((x, y) => x.tenant.localeCompare(y.tenant) || x.key.localeCompare(y.key) || 0)
}

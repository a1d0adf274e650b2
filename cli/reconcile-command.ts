import type { Config } from '../platform/config.ts'
import {
  auditTotalsQuery,
  compareTotals,
  type AuditTotalsRow,
  type Drift,
} from '../processors/windows/reconcile.ts'
import { DIMENSIONS, type Dimension, type SpendView } from '../processors/windows/spend-windows.ts'
import { WINDOWS, windowSpan, type WindowName } from '../processors/windows/window-spans.ts'
import { requireRunningPipeline } from './running-pipeline.ts'
import { fetchSpend } from './status-command.ts'
import { runQuery } from './sql-command.ts'
import { renderTable } from './text-table.ts'

export interface ReconcileReport {
  as_of: string
  /** Dimension x window pairs compared. */
  compared: number
  keys: number
  drifts: Drift[]
}

export interface ReconcileOptions {
  /** Only windows that start at or after this time are compared (epoch ms). */
  sinceMs?: number | undefined
  now: number
  progress?: (line: string) => void
}

/** Every key the live windows hold, read through the pipeline's API. */
const LIVE_LIMIT = 1_000_000

/**
 * `spendguard reconcile`: for every dimension and window, the running pipeline's live totals
 * against SQL over the audit, per key. The expected difference is zero.
 */
export async function runReconcile(
  config: Config,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const running = requireRunningPipeline(config.clickhouse.dataDir)
  const asOf = options.now
  const live = (dimension: Dimension, window: WindowName): Promise<SpendView> =>
    fetchSpend(running, { dimension, window, limit: LIVE_LIMIT, asOf })
  const drifts: Drift[] = []
  let compared = 0
  let keys = 0
  for (const window of WINDOWS) {
    if (options.sinceMs !== undefined && windowSpan(window, asOf).from < options.sinceMs) continue
    for (const dimension of DIMENSIONS) {
      const before = await live(dimension, window)
      const { query, params } = auditTotalsQuery(dimension, window, asOf)
      const output = await runQuery(config, query, 'json', params)
      const rows = output.text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as AuditTotalsRow)
      const after = await live(dimension, window)
      compared++
      keys += rows.length
      drifts.push(...compareTotals(dimension, window, before, rows, after))
    }
    options.progress?.(
      `reconcile: ${window} compared (${compared} views, ${drifts.length} differences)`,
    )
  }
  return { as_of: new Date(asOf).toISOString(), compared, keys, drifts }
}

export function formatReconcile(report: ReconcileReport): string {
  const head = `reconcile as of ${report.as_of}: ${report.compared} views, ${report.keys} keys in the audit, ${report.drifts.length} differences\n`
  if (report.drifts.length === 0) return `${head}live totals agree with the audit\n`
  return (
    head +
    renderTable(
      ['window', 'dimension', 'tenant', 'key', 'measure', 'live', 'audit'],
      report.drifts.map((d) => [
        d.window,
        d.dimension,
        d.tenant,
        d.key,
        d.measure,
        d.live,
        d.audit,
      ]),
    )
  )
}

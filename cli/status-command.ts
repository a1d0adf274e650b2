import type { Config } from '../platform/config.ts'
import type { Dimension, SpendView } from '../processors/windows/spend-windows.ts'
import type { WindowName } from '../processors/windows/window-spans.ts'
import { callPipeline, requireRunningPipeline, type RunningPipeline } from './running-pipeline.ts'
import { renderTable } from './text-table.ts'

export interface StatusOptions {
  dimension: Dimension
  window: WindowName
  limit: number
  tenant?: string | undefined
  /** The windows' end (epoch ms); now when undefined. */
  asOf?: number | undefined
}

/** The live spend of a running pipeline (GET /v1/spend). */
export async function fetchSpend(
  running: RunningPipeline,
  options: StatusOptions,
): Promise<SpendView> {
  const search = new URLSearchParams({
    dimension: options.dimension,
    window: options.window,
    limit: String(options.limit),
    ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
    ...(options.asOf === undefined ? {} : { as_of: new Date(options.asOf).toISOString() }),
  })
  const response = await callPipeline(running, `/v1/spend?${search.toString()}`)
  return (await response.json()) as SpendView
}

/** The live spend of the running pipeline of the configured data directory. */
export function fetchStatus(config: Config, options: StatusOptions): Promise<SpendView> {
  return fetchSpend(requireRunningPipeline(config.clickhouse.dataDir), options)
}

const WINDOW_WORDS: Record<WindowName, string> = {
  '1m': 'the last minute',
  '15m': 'the last 15 minutes',
  '1h': 'the last hour',
  '24h': 'the last 24 hours',
  day: 'today (UTC)',
  month: 'this month (UTC)',
}

/** `spendguard status` as a terminal table, most expensive first. */
export function formatStatus(view: SpendView): string {
  const title = `spend by ${view.dimension.replace('_', ' x ')}, ${WINDOW_WORDS[view.window]}, as of ${view.as_of}\n`
  if (view.items.length === 0) return `${title}no calls in this window\n`
  const tenants = new Set(view.items.map((item) => item.tenant))
  const showTenant = tenants.size > 1 || !tenants.has('default')
  const columns = [
    ...(showTenant ? ['tenant'] : []),
    view.dimension,
    'calls',
    'failed',
    'input tok',
    'output tok',
    'cost (USD)',
    'p50',
    'p95',
    'p99',
    'avg ms',
  ]
  const rows = view.items.map((item) => [
    ...(showTenant ? [item.tenant] : []),
    item.key,
    item.calls,
    item.failures,
    item.input_tokens,
    item.output_tokens,
    item.cost_usd,
    item.p50_cost_usd ?? '-',
    item.p95_cost_usd ?? '-',
    item.p99_cost_usd ?? '-',
    item.avg_latency_ms ?? '-',
  ])
  return `${title}${renderTable(columns, rows)}`
}

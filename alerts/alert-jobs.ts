import type { ClickHouseClient } from '@clickhouse/client'
import { toClickHouseTime } from '../processors/audit/audit-row.ts'
import { endsWhenQuiet, type Alert } from './alert.ts'
import type { AlertRouter } from './alert-router.ts'
import type { ScheduledJob } from './schedules.ts'
import { windowSpan } from '../processors/windows/window-spans.ts'
import type { BudgetUsage, KeySpendLookup } from '../processors/detection/budget-usage.ts'

const DAY = 24 * 60 * 60_000
const dayStart = (t: number) => Math.floor(t / DAY) * DAY
const dayLabel = (t: number) => new Date(t).toISOString().slice(0, 10)

/**
 * True when a budget alert's (or a user-budget anomaly's) period is over at `now`: a day or month budget whose period label
 * (`2026-03-02`, `2026-03`) is before the current one.
 */
export function budgetPeriodEnded(alert: Alert, now: number): boolean {
  if (!alert.type.startsWith('budget.') && alert.type !== 'anomaly.user_budget') return false
  const { window, period } = alert.evidence as { window?: string; period?: string }
  if (typeof period !== 'string') return false
  const today = dayLabel(now)
  if (window === 'day') return period < today
  if (window === 'month') return period < today.slice(0, 7)
  return false
}

/** 00:00 UTC: the day's (and at the turn of a month, the month's) budgets start again. */
export function rolloverJob(router: AlertRouter): ScheduledJob {
  return {
    name: 'budget-rollover',
    cron: '0 0 * * *',
    everywhere: true,
    run: (dueAt) => {
      const resolved = router.resolve(
        (alert) => budgetPeriodEnded(alert, dueAt),
        `the budget period ended at ${new Date(dueAt).toISOString()}`,
      )
      return Promise.resolve(`resolved ${resolved} budget alert(s)`)
    },
  }
}

/**
 * Resolves the loop and anomaly alerts whose type and scope raised nothing for `quietMs` up to
 * `now` (PagerDuty resolve, Slack told), and forgets what the router keeps for older ones.
 * Run every minute by every process: each resolves what it routed.
 */
export function resolveSubsided(router: AlertRouter, now: number, quietMs: number): number {
  const resolved = router.resolve(
    (alert) =>
      endsWhenQuiet(alert) &&
      now - (router.lastSeen(alert) ?? Date.parse(alert.occurred_at)) >= quietMs,
    `nothing like it was raised for ${Math.round(quietMs / 60_000)} minutes`,
  )
  router.forget(now - Math.max(DAY, quietMs))
  return resolved
}

/** Dollars as people read them in a digest: cents, or four places below a dollar. */
const dollars = (amount: string): string => {
  const value = Number(amount)
  return `$${value.toFixed(value < 1 ? 4 : 2)}`
}

interface Row {
  key: string
  current: string
  previous: string
}

const change = (current: number, previous: number): string =>
  previous === 0
    ? current === 0
      ? '±0 %'
      : 'new'
    : `${current >= previous ? '+' : ''}${Math.round(((current - previous) / previous) * 100)} %`

/**
 * The digest of the period that ended at `until` (a day or a week) against the one before it:
 * top agents, features, teams and models by spend with their change, and unpriced calls.
 */
export async function digestLines(
  client: ClickHouseClient,
  until: number,
  lengthMs: number,
): Promise<string[]> {
  const params = {
    from: toClickHouseTime(until - lengthMs),
    to: toClickHouseTime(until),
    before: toClickHouseTime(until - 2 * lengthMs),
  }
  const top = async (column: string): Promise<Row[]> => {
    const result = await client.query({
      query: `SELECT toString(ifNull(${column}, '(none)')) AS key,
          toString(sumIf(ifNull(cost_usd, 0), occurred_at >= {from:DateTime64(3, 'UTC')})) AS current,
          toString(sumIf(ifNull(cost_usd, 0), occurred_at < {from:DateTime64(3, 'UTC')})) AS previous
        FROM llm_calls
        WHERE occurred_at >= {before:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
        GROUP BY key ORDER BY sumIf(ifNull(cost_usd, 0), occurred_at >= {from:DateTime64(3, 'UTC')}) DESC, key
        LIMIT 5`,
      query_params: params,
      format: 'JSONEachRow',
    })
    return result.json<Row>()
  }
  const lines: string[] = []
  for (const [label, column] of [
    ['agents', 'agent_id'],
    ['features', 'feature_id'],
    ['teams', 'team_id'],
    ['models', 'model'],
  ] as const) {
    const rows = (await top(column)).filter((row) => Number(row.current) > 0)
    if (rows.length === 0) continue
    lines.push(
      `top ${label}: ${rows
        .map(
          (row) =>
            `${row.key} ${dollars(row.current)} (${change(Number(row.current), Number(row.previous))})`,
        )
        .join(', ')}`,
    )
  }
  const unpriced = await client.query({
    query: `SELECT model, count() AS calls FROM llm_calls
      WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
        AND cost_usd IS NULL
      GROUP BY model ORDER BY calls DESC, model LIMIT 5`,
    query_params: params,
    format: 'JSONEachRow',
  })
  const models = await unpriced.json<{ model: string; calls: string }>()
  lines.push(
    models.length === 0
      ? 'unpriced models: none'
      : `unpriced models: ${models.map((m) => `${m.model} (${m.calls} calls)`).join(', ')}`,
  )
  if (lines.length === 1) lines.unshift('no spend in this period')
  return lines
}

/**
 * The budgets of `usage` whose scope has spent at least `percent` of the limit, most used
 * first (at most 10), as digest lines.
 */
export function budgetsNearLimit(usage: readonly BudgetUsage[], percent = 80): string[] {
  return usage
    .filter((use) => use.used_permille >= percent * 10)
    .slice(0, 10)
    .map(
      (use) =>
        `${use.budget}: ${use.scope} ${use.key}${use.tenant === 'default' ? '' : ` (tenant ${use.tenant})`} ${dollars(use.spent_usd)} of ${dollars(use.limit_usd)} (${use.used_permille / 10} %) this ${use.period}`,
    )
}

/**
 * Spend per key of a dimension in the UTC day or month of `asOf`, from the audit's day
 * rollup: every key, whichever instance counts it live. Windows other than `day` and `month`
 * are not kept there.
 */
export function auditedKeySpend(client: ClickHouseClient): KeySpendLookup {
  return async (query) => {
    if (query.window !== 'day' && query.window !== 'month')
      throw new Error(`the audit's rollup has no ${query.window} window`)
    // The whole day or month of `asOf`, the span the live windows count (a call dated later
    // in the period, within the allowed clock skew, included).
    const { from, to } = windowSpan(query.window, query.asOf)
    const result = await client.query({
      query: `SELECT key, tenant_id AS tenant, sum(cost_usd) AS spent, toString(spent) AS cost
        FROM spend_by_day
        WHERE dimension = {dimension:String} AND day >= {from:Date} AND day < {end:Date}
          ${query.tenant === undefined ? '' : 'AND tenant_id = {tenant:String}'}
          ${query.key === undefined ? '' : 'AND key = {key:String}'}
        GROUP BY tenant_id, key
        ORDER BY spent DESC, tenant_id, key
        ${query.limit === undefined ? '' : 'LIMIT {limit:UInt32}'}`,
      query_params: {
        dimension: query.dimension,
        from: dayLabel(from),
        end: dayLabel(to),
        ...(query.tenant === undefined ? {} : { tenant: query.tenant }),
        ...(query.key === undefined ? {} : { key: query.key }),
        ...(query.limit === undefined ? {} : { limit: query.limit }),
      },
      format: 'JSONEachRow',
    })
    const rows = await result.json<{ key: string; tenant: string; cost: string }>()
    return rows.map(({ key, tenant, cost }) => ({ key, tenant, cost_usd: cost }))
  }
}

/** The daily (yesterday against the day before) and weekly (the last 7 days) spend digests. */
export function digestJobs(
  router: AlertRouter,
  client: ClickHouseClient,
  schedules: { daily: string; weekly: string },
  /** Budgets near their limit at the time of the digest (lines); none when not given. */
  budgets: (now: number) => Promise<string[]> = () => Promise.resolve([]),
): ScheduledJob[] {
  const job = (name: string, cron: string, lengthMs: number, title: (until: number) => string) =>
    cron === 'off'
      ? []
      : [
          {
            name,
            cron,
            async run(dueAt: number) {
              const until = dayStart(dueAt)
              const lines = await digestLines(client, until, lengthMs)
              // The digest goes out even when the budgets cannot be read.
              let near: string[]
              try {
                near = await budgets(dueAt)
              } catch (error) {
                near = [`(not read: ${error instanceof Error ? error.message : String(error)})`]
              }
              lines.push(
                near.length === 0
                  ? 'budgets near their limit: none'
                  : `budgets near their limit (80 % or more): ${near.join('; ')}`,
              )
              const taken = await router.digest(title(until), lines)
              return `sent to ${taken.length === 0 ? 'nobody' : taken.join(', ')}`
            },
          },
        ]
  return [
    ...job(
      'daily-digest',
      schedules.daily,
      DAY,
      (until) =>
        `SpendGuard daily digest: ${dayLabel(until - DAY)} (change: against the day before)`,
    ),
    ...job(
      'weekly-digest',
      schedules.weekly,
      7 * DAY,
      (until) =>
        `SpendGuard weekly digest: ${dayLabel(until - 7 * DAY)} to ${dayLabel(until - DAY)} (change: against the week before)`,
    ),
  ]
}

/** The audit tables whose retention is checked: monthly partitions and the two-year TTL. */
const RETAINED = [
  'llm_calls',
  'llm_call_adjustments',
  'alerts',
  'command_requests',
  'alert_deliveries',
]

/**
 * Daily: every audit table is partitioned by month and keeps rows two years. What differs
 * (a TTL removed or changed by hand, a table missing) is raised as an alert.
 */
export function retentionJob(
  client: ClickHouseClient,
  raise: (alert: Alert) => void,
): ScheduledJob {
  return {
    name: 'retention-check',
    cron: '15 0 * * *',
    async run(dueAt) {
      const result = await client.query({
        query: `SELECT name, partition_key, create_table_query FROM system.tables
          WHERE database = currentDatabase() AND name IN {names:Array(String)}`,
        query_params: { names: RETAINED },
        format: 'JSONEachRow',
      })
      const found = new Map(
        (
          await result.json<{ name: string; partition_key: string; create_table_query: string }>()
        ).map((row) => [row.name, row]),
      )
      const problems: string[] = []
      for (const table of RETAINED) {
        const row = found.get(table)
        if (!row) problems.push(`${table}: missing`)
        else {
          if (!/toYYYYMM\(/.test(row.partition_key))
            problems.push(`${table}: partitioned by "${row.partition_key}", not by month`)
          if (
            !/TTL\s[^\n]*\+ INTERVAL 2 YEAR|TTL\s[^\n]*toIntervalYear\(2\)/i.test(
              row.create_table_query,
            )
          )
            problems.push(`${table}: no two-year TTL`)
        }
      }
      if (problems.length > 0)
        raise({
          alert_id: crypto.randomUUID(),
          dedup_key: `retention|${dayLabel(dueAt)}`,
          type: 'audit.retention',
          severity: 'warning',
          scope: { kind: 'global', id: 'audit' },
          summary: `the audit's retention is not as configured: ${problems.join('; ')}`,
          occurred_at: new Date(dueAt).toISOString(),
          evidence: { problems },
        })
      return problems.length === 0 ? 'retention as configured' : problems.join('; ')
    },
  }
}

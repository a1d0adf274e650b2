import type { ClickHouseClient } from '@clickhouse/client'
import type { Logger } from '../../platform/logger.ts'
import { DEFAULT_EVENT_TIME_WINDOW } from '../../schemas/event-time.ts'

/**
 * What is derived from `llm_calls` by materialized views, and how to sum it up by UTC day in
 * the same terms as the audit. Each view's output for one insert is its own part: a process
 * killed during an insert can leave the audit's part without a view's, or a view's part
 * without the audit's (ClickHouse does not make an insert atomic across views).
 */
interface Derived {
  table: string
  /** Which of the audit's summaries this table's summary matches. */
  summary: 'ids' | 'spend'
  /** `day` and `summary` per UTC day since `{since:Date}`, read from the table itself. */
  summaryByDay: string
  /** Empties the given days (a synchronous mutation). */
  clearDays: string
  /** The view whose query, run over the audit's rows of those days, refills the table. */
  view: string
  /** A table filled from this one by a view of its own, cleared with it and refilled by it. */
  chained?: Derived
}

// A summary is the count of calls and sums that a lost or extra part changes: for ids, a sum
// of their hashes; for spend, tokens and cost. Counts alone could cancel out within a day.
const idsSummary = (id: string) =>
  `concat(toString(count()), ':', toString(sum(cityHash64(${id}))))`
const spendSummary = (calls: string, cost: string) =>
  `concat(toString(${calls}), ':', toString(sum(input_tokens)), ':', toString(sum(output_tokens)), ':', toString(${cost}))`

const AUDIT_SUMMARIES = `SELECT toDate(occurred_at) AS day, ${idsSummary('event_id')} AS ids,
  ${spendSummary('count()', 'sum(ifNull(cost_usd, toDecimal128(0, 15)))')} AS spend
  FROM llm_calls WHERE occurred_at >= {since:Date} GROUP BY day`

const SPEND_BY_DAY: Derived = {
  table: 'spend_by_day',
  summary: 'spend',
  // Every call counts once in the tenant dimension: its sums are the audit's.
  summaryByDay: `SELECT day, ${spendSummary('sum(calls)', 'sum(cost_usd)')} AS summary
    FROM spend_by_day WHERE dimension = 'tenant' AND day >= {since:Date} GROUP BY day`,
  clearDays: 'ALTER TABLE spend_by_day DELETE WHERE day IN {days:Array(Date)}',
  view: 'spend_by_day_mv',
}

const DERIVED: readonly Derived[] = [
  {
    table: 'llm_call_ids',
    summary: 'ids',
    summaryByDay: `SELECT toDate(occurred_at) AS day, ${idsSummary('event_id')} AS summary
      FROM llm_call_ids WHERE occurred_at >= {since:Date} GROUP BY day`,
    clearDays: 'ALTER TABLE llm_call_ids DELETE WHERE toDate(occurred_at) IN {days:Array(Date)}',
    view: 'llm_call_ids_mv',
  },
  {
    table: 'spend_by_minute',
    summary: 'spend',
    summaryByDay: `SELECT toDate(minute) AS day, ${spendSummary('sum(calls)', 'sum(cost_usd)')} AS summary
      FROM spend_by_minute WHERE dimension = 'tenant' AND minute >= {since:Date} GROUP BY day`,
    clearDays: 'ALTER TABLE spend_by_minute DELETE WHERE toDate(minute) IN {days:Array(Date)}',
    view: 'spend_by_minute_mv',
    // spend_by_day is summed from spend_by_minute: refilling the minutes refills the days.
    chained: SPEND_BY_DAY,
  },
  {
    table: 'llm_calls_daily',
    summary: 'spend',
    summaryByDay: `SELECT day, ${spendSummary('sum(calls)', 'sum(cost_usd)')} AS summary
      FROM llm_calls_daily WHERE day >= {since:Date} GROUP BY day`,
    clearDays: 'ALTER TABLE llm_calls_daily DELETE WHERE day IN {days:Array(Date)}',
    view: 'llm_calls_daily_mv',
  },
]

export interface RepairedDays {
  table: string
  days: Array<{ day: string; audit: number; found: number }>
}

/** As far back as an event may be accepted (older days only leave, by the audit's TTL). */
const LOOKBACK_MS = DEFAULT_EVENT_TIME_WINDOW.maxAgeMs + 86_400_000

async function rowsOf<T>(client: ClickHouseClient, query: string, since: string): Promise<T[]> {
  const result = await client.query({ query, query_params: { since }, format: 'JSONEachRow' })
  return result.json<T>()
}

/** The days whose summary differs from the audit's, in either direction, with both counts. */
function differing(audit: Map<string, string>, found: Map<string, string>) {
  const calls = (summary: string | undefined) => Number(summary?.split(':')[0] ?? 0)
  const days = new Set([...audit.keys(), ...found.keys()])
  return [...days]
    .filter((day) => audit.get(day) !== found.get(day))
    .sort()
    .map((day) => ({ day, audit: calls(audit.get(day)), found: calls(found.get(day)) }))
}

/**
 * The query of a view, reading only the audit's rows of some days. The view's own text comes
 * from the engine (`system.tables.as_select`), so the refill can never drift from the view.
 */
async function viewQueryOverDays(client: ClickHouseClient, view: string): Promise<string> {
  const result = await client.query({
    query: `SELECT as_select, currentDatabase() AS db FROM system.tables
      WHERE database = currentDatabase() AND name = {view:String}`,
    query_params: { view },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ as_select: string; db: string }>()
  if (!row) throw new Error(`materialized view ${view} not found`)
  // The source as the engine writes it: `db.llm_calls`, either name possibly in backquotes.
  const db = row.db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const source = new RegExp(`\\sFROM\\s+(?:\`?${db}\`?\\.)?\`?llm_calls\`?(?=\\s|$)`, 'g')
  const matches = row.as_select.match(source)?.length ?? 0
  if (matches !== 1)
    throw new Error(`cannot find the audit as the one source of ${view}: ${row.as_select}`)
  return row.as_select.replace(
    source,
    ' FROM (SELECT * FROM llm_calls WHERE toDate(occurred_at) IN {days:Array(Date)})',
  )
}

/**
 * Makes a table forget the insert tokens it holds (its deduplication window emptied, then set
 * back). Its rows of an insert the audit lacks were cleared: when the sender resends that
 * insert, the same events make the same token, and the view must not drop them as a repeat.
 * An insert the audit holds never gets this far again: its ids are found before it is made.
 */
async function forgetInsertTokens(client: ClickHouseClient, table: string): Promise<void> {
  const result = await client.query({
    query: `SELECT engine_full FROM system.tables
      WHERE database = currentDatabase() AND name = {table:String}`,
    query_params: { table },
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ engine_full: string }>()
  const window = /non_replicated_deduplication_window = (\d+)/.exec(row?.engine_full ?? '')?.[1]
  if (window === undefined || window === '0') return
  for (const size of ['0', window])
    await client.command({
      query: `ALTER TABLE ${table} MODIFY SETTING non_replicated_deduplication_window = ${size}`,
    })
}

/** Days grouped by their month: one table part is rewritten per month cleared. */
function byMonth(days: readonly string[]): string[][] {
  const months = new Map<string, string[]>()
  for (const day of days) {
    const month = day.slice(0, 7)
    months.set(month, [...(months.get(month) ?? []), day])
  }
  return [...months.values()]
}

/**
 * Makes the tables that views derive from the audit agree with it again, day by day, after a
 * stop that may have cut an insert short. The audit itself is never changed: a day whose
 * summary differs in a derived table is cleared there and computed again from the audit, a
 * month at a time (a failure leaves the next start to finish).
 *
 * Embedded only, before input is taken: it needs to be the store's one writer, and cheap when
 * nothing differs (one summary by day per table).
 */
export async function repairDerivedTables(
  client: ClickHouseClient,
  logger: Logger,
  now: number = Date.now(),
): Promise<RepairedDays[]> {
  const since = new Date(now - LOOKBACK_MS).toISOString().slice(0, 10)
  const audit = { ids: new Map<string, string>(), spend: new Map<string, string>() }
  type AuditDay = { day: string; ids: string; spend: string }
  for (const row of await rowsOf<AuditDay>(client, AUDIT_SUMMARIES, since)) {
    audit.ids.set(row.day, row.ids)
    audit.spend.set(row.day, row.spend)
  }
  const repaired: RepairedDays[] = []
  for (const derived of DERIVED) {
    const tables = derived.chained ? [derived, derived.chained] : [derived]
    const found: RepairedDays[] = []
    for (const table of tables) {
      const rows = await rowsOf<{ day: string; summary: string }>(client, table.summaryByDay, since)
      const summaries = new Map(rows.map((row) => [row.day, row.summary]))
      const days = differing(audit[table.summary], summaries)
      if (days.length > 0) found.push({ table: table.table, days })
    }
    if (found.length === 0) continue
    // Made before anything is cleared: a view whose query cannot be read clears nothing.
    const refill = `INSERT INTO ${derived.table} ${await viewQueryOverDays(client, derived.view)}`
    const days = [...new Set(found.flatMap((entry) => entry.days.map((d) => d.day)))].sort()
    for (const month of byMonth(days)) {
      for (const table of tables)
        await client.command({
          query: table.clearDays,
          query_params: { days: month },
          clickhouse_settings: { mutations_sync: '2' },
        })
      await client.command({
        query: refill,
        query_params: { days: month },
        // A refilled block may equal one written before: it must not be dropped as a repeat.
        clickhouse_settings: { insert_deduplicate: 0 },
      })
    }
    for (const table of tables) await forgetInsertTokens(client, table.table)
    for (const entry of found) {
      logger.warn(
        { table: entry.table, days: entry.days },
        'derived table disagreed with the audit after an interrupted insert; those days were recomputed from the audit',
      )
      repaired.push(entry)
    }
  }
  return repaired
}

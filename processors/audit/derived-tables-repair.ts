import type { ClickHouseClient } from '@clickhouse/client'
import type { Logger } from '../../platform/logger.ts'
import { DEFAULT_EVENT_TIME_WINDOW } from '../../schemas/event-time.ts'

/**
 * A table that a materialized view derives from the audit (`llm_calls`), directly or through
 * another such table, and how to sum it up by UTC day in the same terms as the audit. Each
 * view's output for one insert is its own part: a process killed during an insert can leave
 * the audit's part without a view's, or a view's part without the audit's (ClickHouse does not
 * make an insert atomic across views).
 */
interface Derived {
  table: string
  /** Which of the audit's summaries this table's summary matches. */
  summary: 'ids' | 'spend'
  /** `day` and `summary` per UTC day since `{since:Date}`, read from the table itself. */
  summaryByDay: string
  /** The view that fills it, the table that view reads, and the day of a row there. */
  view: string
  source: { table: string; day: string }
  /** The day of one of its own rows. */
  day: string
}

// A summary is the count of calls and sums that a lost or extra part changes: for ids, a sum
// of their hashes; for spend, tokens and cost. Counts alone could cancel out within a day.
const idsSummary = `concat(toString(count()), ':', toString(sum(cityHash64(event_id))))`
const spendSummary = (calls: string, cost: string) =>
  `concat(toString(${calls}), ':', toString(sum(input_tokens)), ':', toString(sum(output_tokens)), ':', toString(${cost}))`

const AUDIT_SUMMARIES = `SELECT toDate(occurred_at) AS day, ${idsSummary} AS ids,
  ${spendSummary('count()', 'sum(ifNull(cost_usd, toDecimal128(0, 15)))')} AS spend
  FROM llm_calls WHERE occurred_at >= {since:Date} GROUP BY day`

const AUDIT = { table: 'llm_calls', day: 'toDate(occurred_at)' }

/** In order: a table is repaired before the one its view feeds. */
const DERIVED: readonly Derived[] = [
  {
    table: 'llm_call_ids',
    summary: 'ids',
    summaryByDay: `SELECT toDate(occurred_at) AS day, ${idsSummary} AS summary
      FROM llm_call_ids WHERE occurred_at >= {since:Date} GROUP BY day`,
    view: 'llm_call_ids_mv',
    source: AUDIT,
    day: 'toDate(occurred_at)',
  },
  {
    table: 'spend_by_minute',
    summary: 'spend',
    // Every call counts once in the tenant dimension: its sums are the audit's.
    summaryByDay: `SELECT toDate(minute) AS day, ${spendSummary('sum(calls)', 'sum(cost_usd)')} AS summary
      FROM spend_by_minute WHERE dimension = 'tenant' AND minute >= {since:Date} GROUP BY day`,
    view: 'spend_by_minute_mv',
    source: AUDIT,
    day: 'toDate(minute)',
  },
  {
    // Summed from spend_by_minute: what that table was given has reached it too.
    table: 'spend_by_day',
    summary: 'spend',
    summaryByDay: `SELECT day, ${spendSummary('sum(calls)', 'sum(cost_usd)')} AS summary
      FROM spend_by_day WHERE dimension = 'tenant' AND day >= {since:Date} GROUP BY day`,
    view: 'spend_by_day_mv',
    source: { table: 'spend_by_minute', day: 'toDate(minute)' },
    day: 'day',
  },
  {
    table: 'llm_calls_daily',
    summary: 'spend',
    summaryByDay: `SELECT day, ${spendSummary('sum(calls)', 'sum(cost_usd)')} AS summary
      FROM llm_calls_daily WHERE day >= {since:Date} GROUP BY day`,
    view: 'llm_calls_daily_mv',
    source: AUDIT,
    day: 'day',
  },
]

export interface RepairedDays {
  table: string
  /** Per day: the calls the audit holds, and those the table held before the repair. */
  days: Array<{ day: string; audit: number; found: number }>
  /** Days on which the table still holds calls the audit does not (see the ADR). */
  excess: string[]
}

/** As far back as an event may be accepted (older days only leave, by the audit's TTL). */
const LOOKBACK_MS = DEFAULT_EVENT_TIME_WINDOW.maxAgeMs + 86_400_000

async function rowsOf<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> {
  const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
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
 * The query of a view, over only the rows of its source on some days. The view's own text
 * comes from the engine (`system.tables.as_select`), so the repair can never drift from it.
 */
async function viewQueryOverDays(client: ClickHouseClient, derived: Derived): Promise<string> {
  const [row] = await rowsOf<{ as_select: string; db: string }>(
    client,
    `SELECT as_select, currentDatabase() AS db FROM system.tables
      WHERE database = currentDatabase() AND name = {view:String}`,
    { view: derived.view },
  )
  if (!row) throw new Error(`materialized view ${derived.view} not found`)
  const name = (text: string) => `\`?${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\`?`
  // The source as the engine writes it: `db.table`, either name possibly in backquotes.
  const from = `\\sFROM\\s+(?:${name(row.db)}\\.)?${name(derived.source.table)}(?=\\s|$)`
  const source = new RegExp(from, 'g')
  if ((row.as_select.match(source)?.length ?? 0) !== 1)
    throw new Error(`cannot find ${derived.source.table} as the source of ${derived.view}`)
  return row.as_select.replace(
    source,
    ` FROM (SELECT * FROM ${derived.source.table} WHERE ${derived.source.day} IN {days:Array(Date)})`,
  )
}

/** Its ordering key and the columns it sums, from the engine. */
async function summingColumns(client: ClickHouseClient, table: string) {
  const [described] = await rowsOf<{ sorting_key: string }>(
    client,
    `SELECT sorting_key FROM system.tables WHERE database = currentDatabase() AND name = {table:String}`,
    { table },
  )
  const keys = (described?.sorting_key ?? '').split(',').map((key) => key.trim())
  const columns = await rowsOf<{ name: string }>(
    client,
    `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = {table:String}
      ORDER BY position`,
    { table },
  )
  return { keys, sums: columns.map((c) => c.name).filter((name) => !keys.includes(name)) }
}

/**
 * The insert that adds to a table what its view would have written from the rows of some days
 * and did not: nothing is changed or removed, only added. Ids: those of the audit not in the
 * index. Sums: per row key, the view's sums less the table's, where the view counts more calls.
 */
async function catchUpInsert(client: ClickHouseClient, derived: Derived): Promise<string> {
  const viewQuery = await viewQueryOverDays(client, derived)
  if (derived.summary === 'ids')
    return `INSERT INTO ${derived.table} SELECT * FROM (${viewQuery}) AS v
      WHERE event_id NOT IN (SELECT event_id FROM ${derived.table}
                             WHERE ${derived.day} IN {days:Array(Date)})`
  const { keys, sums } = await summingColumns(client, derived.table)
  const held = `SELECT ${keys.join(', ')}, ${sums.map((c) => `sum(${c}) AS ${c}`).join(', ')}
    FROM ${derived.table} WHERE ${derived.day} IN {days:Array(Date)} GROUP BY ${keys.join(', ')}`
  return `INSERT INTO ${derived.table} (${[...keys, ...sums].join(', ')})
    SELECT ${keys.map((k) => `v.${k}`).join(', ')}, ${sums.map((c) => `v.${c} - t.${c}`).join(', ')}
    FROM (${viewQuery}) AS v LEFT JOIN (${held}) AS t USING (${keys.join(', ')})
    WHERE v.calls > t.calls`
}

/**
 * Makes the tables that views derive from the audit agree with it again after a stop that
 * may have cut an insert short, by adding only: the audit and every table stay append-only
 * (SPEC 9). Per UTC day the audit's summary is compared with each table's; where a table
 * lacks what the audit holds, the missing ids, or the missing part of each sum, are inserted.
 * Where a table holds calls the audit lacks (its view's part landed, the audit's did not), it
 * cannot be taken back: the event was never answered "accepted", so its sender sends it again;
 * the id lookup confirms ids in the audit (`audit-store`), and the days are reported.
 *
 * Embedded only, before input is taken (it needs to be the store's one writer); one summary
 * by day per table when nothing differs.
 */
export async function repairDerivedTables(
  client: ClickHouseClient,
  logger: Logger,
  now: number = Date.now(),
): Promise<RepairedDays[]> {
  const since = new Date(now - LOOKBACK_MS).toISOString().slice(0, 10)
  const audit = { ids: new Map<string, string>(), spend: new Map<string, string>() }
  type AuditDay = { day: string; ids: string; spend: string }
  for (const row of await rowsOf<AuditDay>(client, AUDIT_SUMMARIES, { since })) {
    audit.ids.set(row.day, row.ids)
    audit.spend.set(row.day, row.spend)
  }
  type Summary = { day: string; summary: string }
  const summaries = async (derived: Derived) => {
    const rows = await rowsOf<Summary>(client, derived.summaryByDay, { since })
    const days = differing(audit[derived.summary], new Map(rows.map((r) => [r.day, r.summary])))
    if (derived.summary !== 'ids' || days.length === 0) return days
    // An id held twice (a lost insert's, then its resend's under another token) is harmless:
    // the days that differ are summed again over distinct ids (too slow for every day).
    const distinct = await rowsOf<Summary>(
      client,
      `SELECT toDate(occurred_at) AS day, ${idsSummary} AS summary FROM (SELECT DISTINCT
        event_id, occurred_at FROM llm_call_ids WHERE toDate(occurred_at) IN {days:Array(Date)})
        GROUP BY day`,
      { days: days.map((d) => d.day) },
    )
    const again = new Map(distinct.map((r) => [r.day, r.summary]))
    return days.filter((d) => again.get(d.day) !== audit.ids.get(d.day))
  }
  const repaired: RepairedDays[] = []
  for (const derived of DERIVED) {
    const days = await summaries(derived)
    if (days.length === 0) continue
    const short = days.filter((d) => d.found < d.audit).map((d) => d.day)
    if (short.length > 0)
      await client.command({
        query: await catchUpInsert(client, derived),
        query_params: { days: short },
        // What is added may equal a block written before: it must not be dropped as a repeat.
        clickhouse_settings: { insert_deduplicate: 0 },
      })
    const excess = (await summaries(derived)).map((d) => d.day)
    const entry = { table: derived.table, days, excess }
    repaired.push(entry)
    if (short.length > 0)
      logger.warn(
        { table: derived.table, days: days.filter((d) => short.includes(d.day)) },
        'derived table lacked what the audit holds after an interrupted insert; the missing part was added',
      )
    if (excess.length > 0)
      logger.error(
        { table: derived.table, days: excess },
        'derived table holds calls the audit lacks after an interrupted insert; their resend, with the same events, brings the two together again',
      )
  }
  return repaired
}

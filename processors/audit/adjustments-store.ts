import type { ClickHouseClient } from '@clickhouse/client'
import { createHash } from 'node:crypto'
import { parseLlmCall } from '../../schemas/validate.ts'
import type { Adjustment, AuditedCall } from '../pricing/reprice.ts'
import { toClickHouseTime } from './audit-row.ts'
import { classifyStoreError } from './audit-store.ts'

/**
 * The audit as repricing reads and extends it: audited calls with the cost they have now (their
 * row, or their latest adjustment), and the append-only `llm_call_adjustments` table.
 */

interface CallRow {
  [column: string]: unknown
  event_id: string
  occurred_at: string
  cost_usd: string | null
  price_version: string | null
  unpriced_reason: string | null
  adjusted_cost: string | null
  adjusted_version: string | null
  last_adjustment: string | null
}

const PAGE = 5_000

/** Rows of the contract's fields that pricing reads; the rest of the row is not needed. */
const CALL_COLUMNS = [
  'tenant_id',
  'agent_id',
  'feature_id',
  'user_id',
  'team_id',
  'provider',
  'model',
  'response_model',
  'endpoint',
  'service_tier',
  'usage_reported',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'reasoning_tokens',
  'status',
]

function toAudited(row: CallRow): AuditedCall {
  const fields: Record<string, unknown> = {
    event_id: row.event_id,
    occurred_at: `${row.occurred_at.replace(' ', 'T')}Z`,
  }
  for (const column of CALL_COLUMNS) {
    const value = row[column]
    if (value === null || value === undefined) continue
    fields[column] = /_tokens$/.test(column) ? Number(value) : value
  }
  const call = parseLlmCall(fields)
  const costUsd = row.adjusted_cost ?? row.cost_usd ?? undefined
  const priceVersion = row.adjusted_version ?? row.price_version ?? undefined
  return {
    call,
    ...(costUsd !== undefined ? { costUsd } : {}),
    ...(priceVersion !== undefined ? { priceVersion } : {}),
    ...(row.unpriced_reason ? { unpricedReason: row.unpriced_reason } : {}),
    ...(row.last_adjustment ? { lastAdjustmentId: row.last_adjustment } : {}),
  }
}

/** Audited calls from `since` on (optionally of one model), oldest first, a page at a time. */
export async function* readAuditedCalls(
  client: ClickHouseClient,
  filter: { sinceMs: number; model?: string },
): AsyncGenerator<AuditedCall> {
  let after = { at: toClickHouseTime(filter.sinceMs), id: '00000000-0000-0000-0000-000000000000' }
  let first = true
  for (;;) {
    let rows: CallRow[]
    try {
      const result = await client.query({
        query: `
          SELECT toString(c.event_id) AS event_id, toString(c.occurred_at) AS occurred_at,
                 ${CALL_COLUMNS.map((column) => `c.${column} AS ${column}`).join(', ')},
                 toString(c.cost_usd) AS cost_usd, c.price_version AS price_version,
                 c.unpriced_reason AS unpriced_reason,
                 toString(a.cost_usd) AS adjusted_cost, a.price_version AS adjusted_version,
                 toString(a.adjustment_id) AS last_adjustment
          FROM llm_calls AS c
          LEFT JOIN (
            SELECT event_id, argMax(cost_usd, adjusted_at) AS cost_usd,
                   argMax(price_version, adjusted_at) AS price_version,
                   argMax(adjustment_id, adjusted_at) AS adjustment_id
            FROM llm_call_adjustments GROUP BY event_id
          ) AS a ON a.event_id = c.event_id
          WHERE (c.occurred_at, c.event_id) ${first ? '>=' : '>'} ({at:DateTime64(3, 'UTC')}, {id:UUID})
            AND ({model:String} = '' OR c.model = {model:String} OR c.response_model = {model:String})
          ORDER BY c.occurred_at, c.event_id
          LIMIT ${PAGE}`,
        query_params: { at: after.at, id: after.id, model: filter.model ?? '' },
        format: 'JSONEachRow',
        clickhouse_settings: { join_use_nulls: 1 },
      })
      rows = await result.json<CallRow>()
    } catch (error) {
      throw classifyStoreError(error, 'read audited calls')
    }
    for (const row of rows) yield toAudited(row)
    if (rows.length < PAGE) return
    const last = rows[rows.length - 1]!
    after = { at: last.occurred_at, id: last.event_id }
    first = false
  }
}

/** Appends adjustments; ids already present are skipped, and a retried insert lands once. */
export async function appendAdjustments(
  client: ClickHouseClient,
  adjustments: readonly Adjustment[],
): Promise<number> {
  if (adjustments.length === 0) return 0
  try {
    const existing = await client.query({
      query:
        'SELECT toString(adjustment_id) AS id FROM llm_call_adjustments WHERE adjustment_id IN {ids:Array(UUID)}',
      query_params: { ids: adjustments.map((a) => a.adjustment_id) },
      format: 'JSONEachRow',
    })
    const seen = new Set((await existing.json<{ id: string }>()).map((row) => row.id))
    const fresh = adjustments.filter((a) => !seen.has(a.adjustment_id))
    if (fresh.length === 0) return 0
    const token = createHash('sha256')
      .update(fresh.map((a) => a.adjustment_id).join(','))
      .digest('hex')
    await client.insert({
      table: 'llm_call_adjustments',
      values: fresh.map((a) => ({
        ...a,
        occurred_at: toClickHouseTime(a.occurred_at),
        adjusted_at: toClickHouseTime(a.adjusted_at),
      })),
      format: 'JSONEachRow',
      clickhouse_settings: { insert_deduplication_token: token, insert_deduplicate: 1 },
    })
    return fresh.length
  } catch (error) {
    throw classifyStoreError(error, 'append adjustments')
  }
}

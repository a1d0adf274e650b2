import type { ClickHouseClient } from '@clickhouse/client'
import { parseUsd } from '../../platform/money.ts'
import { toClickHouseTime } from '../audit/audit-row.ts'
import { classifyStoreError } from '../audit/audit-store.ts'
import type { KeyFilter, SpendWindows } from './spend-windows.ts'
import { LONGEST_SLIDING_MINUTES, MINUTE_MS, minuteStart, monthStart } from './window-spans.ts'

/** The group keys and sums of one row of the rebuild query. */
interface GroupRow {
  tenant_id: string
  agent_id: string
  feature_id: string | null
  user_id: string | null
  session_id: string | null
  team_id: string | null
  model: string
  task_category: string | null
  source_partition: number | null
  at: string
  cost: string | null
  calls: string
  failures: string
  late: string
  input_tokens: string
  output_tokens: string
  cache_read_tokens: string
  cache_write_tokens: string
  reasoning_tokens: string
  latency_sum: string
  latency_count: string
  latency_max: string
}

// Calls of the same key, minute (day, before the last 24 hours) and cost are one group: the
// sketch gets each cost with its count, the sums stay exact.
const REBUILD_QUERY = `
SELECT
  tenant_id, agent_id, feature_id, user_id, session_id, team_id, model, task_category,
  source_partition,
  toUnixTimestamp(if(occurred_at >= {minutesFrom:DateTime64(3, 'UTC')},
    toStartOfMinute(occurred_at), toStartOfDay(occurred_at))) * 1000 AS at,
  toString(cost_usd) AS cost,
  count() AS calls,
  countIf(status IN ('error', 'timeout')) AS failures,
  countIf(late) AS late,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cache_read_tokens) AS cache_read_tokens,
  sum(cache_write_tokens) AS cache_write_tokens,
  sum(reasoning_tokens) AS reasoning_tokens,
  sum(latency_ms) AS latency_sum,
  count(latency_ms) AS latency_count,
  ifNull(max(latency_ms), 0) AS latency_max
FROM llm_calls
WHERE occurred_at >= {from:DateTime64(3, 'UTC')}
  AND (NOT {onlyPartitions:Bool} OR (source = 'kafka' AND source_partition IN {partitions:Array(Int32)}))
GROUP BY tenant_id, agent_id, feature_id, user_id, session_id, team_id, model, task_category,
  source_partition, at, cost`

const orUndefined = (value: string | null): string | undefined => value ?? undefined

export interface RebuildOptions {
  now: number
  /** Windows to count a row of this input partition into (null: not from Kafka). */
  into: (sourcePartition: number | null) => SpendWindows
  /** Only rows read from these Kafka input partitions; all rows when undefined. */
  sourcePartitions?: readonly number[]
  /** Only these keys (an owner's share); all when undefined. */
  owns?: KeyFilter
}

/**
 * Fills windows from the audit, which holds exactly the calls that were audited: what a
 * restarted process counted before it stopped, however it stopped (docs/adr/0006). Reads the
 * previous and current UTC month, the oldest span a window keeps at `now`. Returns the calls
 * read.
 */
export async function rebuildWindows(
  client: ClickHouseClient,
  options: RebuildOptions,
): Promise<number> {
  const { now } = options
  const from = monthStart(monthStart(now) - 1)
  const minutesFrom = minuteStart(now) - LONGEST_SLIDING_MINUTES * MINUTE_MS
  try {
    return await readGroups(client, options, from, minutesFrom)
  } catch (error) {
    // An unreachable store is retried with the batch that asked for the rebuild.
    throw classifyStoreError(error, 'rebuild windows from the audit')
  }
}

async function readGroups(
  client: ClickHouseClient,
  options: RebuildOptions,
  from: number,
  minutesFrom: number,
): Promise<number> {
  const { now } = options
  const result = await client.query({
    query: REBUILD_QUERY,
    query_params: {
      from: toClickHouseTime(from),
      minutesFrom: toClickHouseTime(minutesFrom),
      onlyPartitions: options.sourcePartitions !== undefined,
      partitions: options.sourcePartitions ?? [],
    },
    format: 'JSONEachRow',
  })
  let calls = 0
  for await (const rows of result.stream<GroupRow>()) {
    for (const row of rows) {
      const group = row.json()
      const count = Number(group.calls)
      calls += count
      options.into(group.source_partition).addGroup(
        {
          tenant_id: group.tenant_id,
          agent_id: group.agent_id,
          feature_id: orUndefined(group.feature_id),
          user_id: orUndefined(group.user_id),
          session_id: orUndefined(group.session_id),
          team_id: orUndefined(group.team_id),
          model: group.model,
          task_category: orUndefined(group.task_category),
        },
        Number(group.at),
        {
          calls: count,
          failures: Number(group.failures),
          late: Number(group.late),
          inputTokens: Number(group.input_tokens),
          outputTokens: Number(group.output_tokens),
          cacheReadTokens: Number(group.cache_read_tokens),
          cacheWriteTokens: Number(group.cache_write_tokens),
          reasoningTokens: Number(group.reasoning_tokens),
          latencySum: Number(group.latency_sum),
          latencyCount: Number(group.latency_count),
          latencyMax: Number(group.latency_max),
          costPerCall: group.cost === null ? undefined : parseUsd(group.cost),
        },
        now,
        options.owns,
      )
    }
  }
  return calls
}

-- Spend per key of every live-window dimension (SPEC 5: agent, feature, user, session, team,
-- tenant, model, task category, agent x feature), by minute and by UTC day, kept by
-- materialized views. They count what the live windows count (failures are errors and
-- timeouts; unpriced calls add no cost), so `spendguard reconcile` and SQL agree with them.
-- Summing tables: always read them with sum() and GROUP BY. Existing rows are copied once.
CREATE TABLE IF NOT EXISTS spend_by_minute
(
    minute             DateTime('UTC'),
    dimension          LowCardinality(String),
    tenant_id          LowCardinality(String),
    key                String,
    calls              UInt64,
    failures           UInt64,
    unpriced_calls     UInt64,
    late_calls         UInt64,
    input_tokens       UInt64,
    output_tokens      UInt64,
    cache_read_tokens  UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens   UInt64,
    latency_ms_sum     UInt64,
    latency_calls      UInt64,
    cost_usd           Decimal(38, 15)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (dimension, tenant_id, key, minute)
TTL minute + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS spend_by_day
(
    day                Date,
    dimension          LowCardinality(String),
    tenant_id          LowCardinality(String),
    key                String,
    calls              UInt64,
    failures           UInt64,
    unpriced_calls     UInt64,
    late_calls         UInt64,
    input_tokens       UInt64,
    output_tokens      UInt64,
    cache_read_tokens  UInt64,
    cache_write_tokens UInt64,
    reasoning_tokens   UInt64,
    latency_ms_sum     UInt64,
    latency_calls      UInt64,
    cost_usd           Decimal(38, 15)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (dimension, tenant_id, key, day)
TTL day + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS spend_by_minute_mv TO spend_by_minute AS
SELECT
    toStartOfMinute(occurred_at) AS minute,
    dim.1 AS dimension,
    tenant_id,
    assumeNotNull(dim.2) AS key,
    count() AS calls,
    countIf(status IN ('error', 'timeout')) AS failures,
    countIf(price_status = 'unpriced') AS unpriced_calls,
    countIf(late) AS late_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(ifNull(latency_ms, 0)) AS latency_ms_sum,
    count(latency_ms) AS latency_calls,
    sum(ifNull(cost_usd, toDecimal128(0, 15))) AS cost_usd
FROM llm_calls
ARRAY JOIN [
        ('agent', CAST(agent_id AS Nullable(String))),
        ('feature', feature_id),
        ('user', user_id),
        ('session', session_id),
        ('team', team_id),
        ('tenant', CAST(tenant_id AS Nullable(String))),
        ('model', CAST(model AS Nullable(String))),
        ('task_category', CAST(task_category AS Nullable(String))),
        ('agent_feature', if(feature_id IS NULL, NULL, concat(agent_id, '/', feature_id)))
    ] AS dim
WHERE dim.2 IS NOT NULL
GROUP BY minute, dimension, tenant_id, key;

-- The day rollup sums the minute rollup: what reaches spend_by_minute (the backfill below
-- included) reaches spend_by_day through this view.
CREATE MATERIALIZED VIEW IF NOT EXISTS spend_by_day_mv TO spend_by_day AS
SELECT
    toDate(minute) AS day,
    dimension,
    tenant_id,
    key,
    sum(calls) AS calls,
    sum(failures) AS failures,
    sum(unpriced_calls) AS unpriced_calls,
    sum(late_calls) AS late_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(latency_ms_sum) AS latency_ms_sum,
    sum(latency_calls) AS latency_calls,
    sum(cost_usd) AS cost_usd
FROM spend_by_minute
GROUP BY day, dimension, tenant_id, key;

INSERT INTO spend_by_minute
SELECT
    toStartOfMinute(occurred_at) AS minute,
    dim.1 AS dimension,
    tenant_id,
    assumeNotNull(dim.2) AS key,
    count() AS calls,
    countIf(status IN ('error', 'timeout')) AS failures,
    countIf(price_status = 'unpriced') AS unpriced_calls,
    countIf(late) AS late_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(ifNull(latency_ms, 0)) AS latency_ms_sum,
    count(latency_ms) AS latency_calls,
    sum(ifNull(cost_usd, toDecimal128(0, 15))) AS cost_usd
FROM llm_calls
ARRAY JOIN [
        ('agent', CAST(agent_id AS Nullable(String))),
        ('feature', feature_id),
        ('user', user_id),
        ('session', session_id),
        ('team', team_id),
        ('tenant', CAST(tenant_id AS Nullable(String))),
        ('model', CAST(model AS Nullable(String))),
        ('task_category', CAST(task_category AS Nullable(String))),
        ('agent_feature', if(feature_id IS NULL, NULL, concat(agent_id, '/', feature_id)))
    ] AS dim
WHERE dim.2 IS NOT NULL
GROUP BY minute, dimension, tenant_id, key;

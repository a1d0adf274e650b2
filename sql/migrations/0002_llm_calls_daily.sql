-- Daily spend per tenant, agent, feature, team and model, kept up to date by a materialized
-- view. Costs are summed only over priced rows; unpriced calls are counted apart.
CREATE TABLE IF NOT EXISTS llm_calls_daily
(
    day               Date,
    tenant_id         LowCardinality(String),
    agent_id          LowCardinality(String),
    feature_id        String,
    team_id           String,
    model             LowCardinality(String),
    calls             UInt64,
    failed_calls      UInt64,
    unpriced_calls    UInt64,
    input_tokens      UInt64,
    output_tokens     UInt64,
    cache_read_tokens UInt64,
    cost_usd          Decimal(38, 15)
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tenant_id, day, agent_id, feature_id, team_id, model)
TTL day + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_calls_daily_mv TO llm_calls_daily AS
SELECT
    toDate(occurred_at)                 AS day,
    tenant_id,
    agent_id,
    ifNull(feature_id, '')              AS feature_id,
    ifNull(team_id, '')                 AS team_id,
    model,
    count()                             AS calls,
    countIf(status != 'ok')             AS failed_calls,
    countIf(price_status = 'unpriced')  AS unpriced_calls,
    sum(input_tokens)                   AS input_tokens,
    sum(output_tokens)                  AS output_tokens,
    sum(cache_read_tokens)              AS cache_read_tokens,
    sum(ifNull(cost_usd, toDecimal128(0, 15))) AS cost_usd
FROM llm_calls
GROUP BY day, tenant_id, agent_id, feature_id, team_id, model;

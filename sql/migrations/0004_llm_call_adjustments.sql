-- Repricing appends here; the audit rows themselves are never rewritten. One row per audited
-- call whose price changed: `spendguard reprice` writes the difference between the new cost
-- and what the audit (plus earlier adjustments) already says. Spend is
-- sum(llm_calls.cost_usd) + sum(llm_call_adjustments.cost_delta_usd).
CREATE TABLE IF NOT EXISTS llm_call_adjustments
(
    -- Deterministic from (event_id, new price version): a repeated reprice adds nothing.
    adjustment_id          UUID,
    event_id               UUID,
    occurred_at            DateTime64(3, 'UTC'),
    tenant_id              LowCardinality(String),
    agent_id               LowCardinality(String),
    feature_id             Nullable(String),
    user_id                Nullable(String),
    team_id                Nullable(String),
    model                  LowCardinality(String),
    previous_price_version LowCardinality(Nullable(String)),
    price_version          LowCardinality(String),
    priced_model           LowCardinality(String),
    -- The cost the call has after this adjustment, and the change it makes.
    cost_usd               Decimal(38, 15),
    cost_delta_usd         Decimal(38, 15),
    reason                 String,
    actor                  LowCardinality(String),
    adjusted_at            DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, toDate(occurred_at), event_id, adjusted_at)
TTL toDateTime(occurred_at) + INTERVAL 2 YEAR
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

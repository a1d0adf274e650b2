-- One row per llm_call event, priced or not. Append-only: nothing in SpendGuard updates or
-- deletes rows; parts older than two years are dropped whole by the TTL.
CREATE TABLE IF NOT EXISTS llm_calls
(
    event_id              UUID,
    occurred_at           DateTime64(3, 'UTC'),
    started_at            Nullable(DateTime64(3, 'UTC')),
    tenant_id             LowCardinality(String),
    agent_id              LowCardinality(String),
    agent_version         Nullable(String),
    feature_id            Nullable(String),
    user_id               Nullable(String),
    session_id            Nullable(String),
    team_id               Nullable(String),
    environment           LowCardinality(Nullable(String)),
    workflow_id           Nullable(String),
    trace_id              Nullable(String),
    span_id               Nullable(String),
    parent_span_id        Nullable(String),
    parent_agent_id       Nullable(String),
    tags                  Map(String, String),
    task_category         LowCardinality(Nullable(String)),
    provider              LowCardinality(Nullable(String)),
    model                 LowCardinality(String),
    response_model        LowCardinality(Nullable(String)),
    endpoint              Enum8('realtime' = 1, 'batch' = 2),
    input_tokens          UInt64,
    output_tokens         UInt64,
    cache_read_tokens     UInt64,
    cache_write_tokens    UInt64,
    reasoning_tokens      UInt64,
    status                Enum8('ok' = 1, 'error' = 2, 'timeout' = 3, 'blocked' = 4),
    error_type            Nullable(String),
    stop_reason           Nullable(String),
    latency_ms            Nullable(UInt32),
    tool_calls            Array(String),
    request_fingerprint   Nullable(String),
    content_simhash       Nullable(String),
    iteration             Nullable(UInt32),
    fallback_from_model   Nullable(String),
    fallback_reason       Nullable(String),
    fallback_exception_id Nullable(String),
    provider_reported_cost Nullable(Decimal(38, 15)),
    -- Pricing: exact USD with femto-dollar precision; NULL costs mean "unpriced", never $0.
    price_status          Enum8('priced' = 1, 'unpriced' = 2),
    unpriced_reason       Nullable(String),
    priced_model          LowCardinality(Nullable(String)),
    price_version         LowCardinality(Nullable(String)),
    cost_input_usd        Nullable(Decimal(38, 15)),
    cost_cache_read_usd   Nullable(Decimal(38, 15)),
    cost_cache_write_usd  Nullable(Decimal(38, 15)),
    cost_output_usd       Nullable(Decimal(38, 15)),
    cost_reasoning_usd    Nullable(Decimal(38, 15)),
    cost_usd              Nullable(Decimal(38, 15)),
    -- Detection flags raised on this call (loop, budget, policy, anomaly rules).
    detection_flags       Array(LowCardinality(String)),
    late                  Bool,
    -- Where the row came from, for tracing a row back to its input.
    source                LowCardinality(String),
    source_partition      Nullable(Int32),
    source_offset         Nullable(Int64),
    ingested_at           DateTime64(3, 'UTC'),
    INDEX idx_event_id event_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_session session_id TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX idx_user user_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, toDate(occurred_at), agent_id, occurred_at, event_id)
TTL toDateTime(occurred_at) + INTERVAL 2 YEAR
SETTINGS non_replicated_deduplication_window = 10000, ttl_only_drop_parts = 1;

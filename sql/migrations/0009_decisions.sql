-- What the detectors decided (SPEC sections 6 and 9): one row per alert and per command request,
-- each under a deterministic id. A batch judged again after a failed write, or replayed, repeats
-- the same ids: ReplacingMergeTree, ordered by tenant and id, keeps one row per id within a month
-- (a repeat after a restart may carry a later time), so nothing is updated or deleted by the
-- code; reads that must not see a repeat before the merge use FINAL or GROUP BY id.
CREATE TABLE IF NOT EXISTS alerts
(
    alert_id     UUID,
    dedup_key    String,
    occurred_at  DateTime64(3, 'UTC'),
    tenant_id    LowCardinality(String),
    type         LowCardinality(String),
    severity     Enum8('info' = 1, 'warning' = 2, 'critical' = 3),
    rule         LowCardinality(String),
    scope_kind   LowCardinality(String),
    scope_id     String,
    summary      String,
    -- The evidence as JSON text: window, observed value, threshold, event ids and rule details.
    evidence     String,
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (tenant_id, alert_id)
TTL toDateTime(occurred_at) + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS command_requests
(
    command_id        UUID,
    alert_id          UUID,
    issued_at         DateTime64(3, 'UTC'),
    expires_at        Nullable(DateTime64(3, 'UTC')),
    tenant_id         LowCardinality(String),
    action            Enum8('block' = 1, 'throttle' = 2, 'downgrade' = 3),
    scope_kind        LowCardinality(String),
    scope_id          String,
    calls_per_minute  Nullable(UInt32),
    model             Nullable(String),
    issuer            LowCardinality(String),
    rule              LowCardinality(String),
    reason            String,
    evidence          String,
    recorded_at       DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(issued_at)
ORDER BY (tenant_id, command_id)
TTL toDateTime(issued_at) + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

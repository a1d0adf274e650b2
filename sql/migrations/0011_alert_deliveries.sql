-- What became of each alert at each receiver: delivered (with the attempts it took), failed for
-- good (with the receiver's reason), or suppressed by the cooldown (counted into the next one).
-- Append-only, partitioned by month, kept two years like the audit.
CREATE TABLE IF NOT EXISTS alert_deliveries
(
    alert_id     UUID,
    receiver     LowCardinality(String),
    kind         Enum8('slack' = 1, 'pagerduty' = 2, 'webhook' = 3),
    status       Enum8('delivered' = 1, 'failed' = 2, 'suppressed' = 3),
    attempts     UInt32,
    suppressed   UInt32,
    reason       String,
    at           DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (receiver, at, alert_id)
TTL toDateTime(at) + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

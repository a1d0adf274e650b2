-- Every control command issued (by a rule or a person), in the order it was issued: the embedded
-- control plane's durable log (the SSE stream serves it) and the audit of who stopped what.
-- Append-only and never expired (a block without an end must outlive any TTL, and positions
-- must never start again); `body` is the signed command exactly as guards receive it.
CREATE TABLE IF NOT EXISTS control_commands
(
    seq          UInt64,
    command_id   String,
    action       Enum8('block' = 1, 'throttle' = 2, 'downgrade' = 3, 'resume' = 4),
    tenant_id    LowCardinality(String),
    scope_kind   LowCardinality(String),
    scope_id     String,
    issuer       String,
    reason       String,
    issued_at    DateTime64(3, 'UTC'),
    expires_at   Nullable(DateTime64(3, 'UTC')),
    body         String,
    recorded_at  DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(issued_at)
ORDER BY (seq);

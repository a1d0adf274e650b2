-- The audited event ids, ordered by id, so "which of these ids are audited?" reads a few index
-- granules instead of every part of llm_calls (whose order starts with tenant and day). Kept by
-- a materialized view; existing rows are copied once. Same retention as the audit.
CREATE TABLE IF NOT EXISTS llm_call_ids
(
    event_id    UUID,
    occurred_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY event_id
TTL toDateTime(occurred_at) + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS llm_call_ids_mv TO llm_call_ids AS
SELECT event_id, occurred_at FROM llm_calls;

INSERT INTO llm_call_ids
SELECT event_id, occurred_at FROM llm_calls
WHERE event_id NOT IN (SELECT event_id FROM llm_call_ids);

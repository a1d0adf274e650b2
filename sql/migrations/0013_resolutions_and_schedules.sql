-- A delivery is a notification that an alert fired or that its condition cleared (a PagerDuty
-- resolve, a "resolved" message): rows before this migration were all triggers.
ALTER TABLE alert_deliveries
    ADD COLUMN IF NOT EXISTS action Enum8('trigger' = 1, 'resolve' = 2) DEFAULT 'trigger';

-- The runs of scheduled jobs (digests, the budget rollover, the retention check): the time each
-- run was due and when it ran, so a run missed while no process was up is caught up once.
CREATE TABLE IF NOT EXISTS schedule_runs
(
    job      LowCardinality(String),
    due_at   DateTime64(3, 'UTC'),
    ran_at   DateTime64(3, 'UTC'),
    outcome  String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(due_at)
ORDER BY (job, due_at)
TTL toDateTime(due_at) + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

-- Changes of what governs spend (budgets, anomaly and loop rules, model policy, agents, alert
-- routing), one row per changed section with who made it and the section before and after.
CREATE TABLE IF NOT EXISTS config_changes
(
    at       DateTime64(3, 'UTC'),
    actor    String,
    section  LowCardinality(String),
    before   String,
    after    String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (section, at)
TTL toDateTime(at) + INTERVAL 2 YEAR
SETTINGS ttl_only_drop_parts = 1;

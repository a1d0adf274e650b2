-- Spend as it stands after repricing: every priced audit row, plus the difference each
-- adjustment made. sum(cost_usd) over this view is the audit's total; unpriced calls
-- (cost_usd NULL in llm_calls) appear only once an adjustment prices them.
CREATE VIEW IF NOT EXISTS llm_spend AS
SELECT event_id, occurred_at, tenant_id, agent_id, feature_id, user_id, team_id, model,
       cost_usd, 'audit' AS kind
FROM llm_calls
WHERE cost_usd IS NOT NULL
UNION ALL
SELECT event_id, occurred_at, tenant_id, agent_id, feature_id, user_id, team_id, model,
       cost_delta_usd AS cost_usd, 'adjustment' AS kind
FROM llm_call_adjustments;

/*
description: >-
  Calls that broke the model policy over a period (a model not permitted for the task
  category, an unregistered category or none), per agent, category, model and rule, with their
  cost. cost_usd sums the priced calls, repricing adjustments included; unpriced calls are counted in unpriced_calls, never as $0.
period: range
reads: calls
params:
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
SELECT
    tenant_id,
    agent_id AS agent,
    task_category,
    model,
    flag AS rule,
    min(occurred_at) AS first_call,
    max(occurred_at) AS last_call,
    count() AS calls,
    countIf(call_usd IS NULL) AS unpriced_calls,
    sum(call_usd) AS cost_usd
FROM calls
ARRAY JOIN detection_flags AS flag
WHERE startsWith(flag, 'policy:') AND flag != 'policy:fallback_exception'
GROUP BY tenant_id, agent, task_category, model, rule
ORDER BY calls DESC, cost_usd DESC NULLS LAST, tenant_id, agent, task_category, model, rule

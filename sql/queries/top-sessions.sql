/*
description: >-
  The most expensive sessions of a period, with their agents, users, first and last call,
  calls, tokens and cost. cost_usd sums the priced calls, repricing adjustments included; unpriced calls are counted in unpriced_calls, never as $0. Sessions whose calls are all unpriced come last.
period: range
reads: calls
params:
  limit:
    type: UInt32
    default: 20
    help: How many sessions to list.
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
SELECT
    tenant_id,
    session_id AS session,
    arrayStringConcat(arraySort(groupUniqArray(agent_id)), ',') AS agents,
    arrayStringConcat(arraySort(groupUniqArray(user_id)), ',') AS users,
    min(occurred_at) AS first_call,
    max(occurred_at) AS last_call,
    count() AS calls,
    countIf(call_usd IS NULL) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(call_usd) AS cost_usd
FROM calls
WHERE session_id IS NOT NULL
GROUP BY tenant_id, session
ORDER BY cost_usd DESC NULLS LAST, calls DESC, tenant_id, session
LIMIT {limit:UInt32}

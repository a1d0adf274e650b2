/*
description: >-
  Spend per feature over a period (feature NULL: calls that name none): calls, tokens and
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
    feature_id AS feature,
    count() AS calls,
    countIf(call_usd IS NULL) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(call_usd) AS cost_usd
FROM calls
GROUP BY tenant_id, feature
ORDER BY cost_usd DESC NULLS LAST, calls DESC, tenant_id, feature

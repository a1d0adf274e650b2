/*
description: >-
  Spend per value of one tag over a period (value NULL: calls without that tag): calls,
  tokens and cost. cost_usd sums the priced calls, repricing adjustments included; unpriced calls are counted in unpriced_calls, never as $0.
period: range
reads: calls
params:
  tag:
    type: String
    help: The tag key whose values group the calls, e.g. project.
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
SELECT
    tenant_id,
    {tag:String} AS tag,
    if(mapContains(tags, {tag:String}), tags[{tag:String}], NULL) AS value,
    count() AS calls,
    countIf(call_usd IS NULL) AS unpriced_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(call_usd) AS cost_usd
FROM calls
GROUP BY tenant_id, value
ORDER BY cost_usd DESC NULLS LAST, calls DESC, tenant_id, value

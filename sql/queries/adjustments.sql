/*
description: >-
  Repricing adjustments of the calls of a period (by when the calls happened), per model, price
  versions before and after, reason and actor: how many, how many calls were newly priced, and
  the change in USD.
period: range
params:
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
SELECT
    tenant_id,
    model,
    previous_price_version,
    price_version,
    reason,
    actor,
    count() AS adjustments,
    uniqExact(event_id) AS calls,
    countIf(previous_price_version IS NULL) AS newly_priced,
    sum(cost_delta_usd) AS delta_usd,
    min(adjusted_at) AS first_adjusted,
    max(adjusted_at) AS last_adjusted
FROM llm_call_adjustments
WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
    AND ({tenant:String} = '' OR tenant_id = {tenant:String})
GROUP BY tenant_id, model, previous_price_version, price_version, reason, actor
ORDER BY tenant_id, model, first_adjusted, price_version

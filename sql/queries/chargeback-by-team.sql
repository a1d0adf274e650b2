/*
description: >-
  What each team spent in a calendar month: audited_usd as the calls were priced when audited,
  adjustments_usd the change repricing made since, cost_usd the amount to charge (both
  together). Unpriced calls are counted in unpriced_calls, never as $0.
period: month
reads: calls
params:
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
SELECT
    formatDateTime({from:DateTime64(3, 'UTC')}, '%Y-%m') AS month,
    tenant_id,
    team_id AS team,
    count() AS calls,
    countIf(call_usd IS NULL) AS unpriced_calls,
    countIf(repriced) AS repriced_calls,
    sum(audited_call_usd) AS audited_usd,
    sum(if(repriced, call_usd - ifNull(audited_call_usd, 0), 0)) AS adjustments_usd,
    sum(call_usd) AS cost_usd
FROM calls
GROUP BY tenant_id, team
ORDER BY cost_usd DESC NULLS LAST, calls DESC, tenant_id, team

/*
description: >-
  Day by day spend of one scope over a calendar month against a budget: each day's cost, the
  total so far and what is left. Repricing adjustments are included; unpriced calls are counted
  per day and so far, never as $0 (a day without calls costs 0; a day of unpriced calls only,
  NULL).
period: month
reads: calls
params:
  scope:
    type: String
    values: [agent, feature, user, session, team, tenant, model]
    help: What the budget covers.
  key:
    type: String
    help: Which one, e.g. the team's id.
  budget_usd:
    type: Decimal(38, 15)
    help: The month's budget in USD, e.g. 500.
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
WITH
    daily AS (
        SELECT toDate(occurred_at) AS day, count() AS calls,
            countIf(call_usd IS NULL) AS unpriced_calls, sum(call_usd) AS cost_usd
        FROM calls
        WHERE multiIf(
            {scope:String} = 'agent', CAST(agent_id AS Nullable(String)),
            {scope:String} = 'feature', feature_id,
            {scope:String} = 'user', user_id,
            {scope:String} = 'session', session_id,
            {scope:String} = 'team', team_id,
            {scope:String} = 'tenant', CAST(tenant_id AS Nullable(String)),
            {scope:String} = 'model', CAST(model AS Nullable(String)),
            NULL) = {key:String}
        GROUP BY day
    ),
    days AS (
        -- Every day of the month, with calls or not (from an array: table functions such as
        -- numbers() are refused by the read-only rules).
        SELECT arrayJoin(arrayMap(
            offset -> addDays(toDate({from:DateTime64(3, 'UTC')}), offset),
            range(toUInt32(dateDiff('day', {from:DateTime64(3, 'UTC')}, {to:DateTime64(3, 'UTC')})))
        )) AS day
    ),
    burn AS (
        -- A day without calls cost 0; a day of unpriced calls only keeps its NULL.
        SELECT d.day AS day, s.calls AS calls, s.unpriced_calls AS unpriced_calls,
            if(s.calls = 0, toDecimal128(0, 15), s.cost_usd) AS cost_usd
        FROM days AS d
        LEFT JOIN daily AS s ON s.day = d.day
    )
SELECT
    day,
    calls,
    unpriced_calls,
    cost_usd,
    sum(cost_usd) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS spent_usd,
    sum(unpriced_calls) OVER (ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS unpriced_calls_so_far,
    {budget_usd:Decimal(38, 15)} - spent_usd AS remaining_usd,
    if({budget_usd:Decimal(38, 15)} = 0, NULL, divideDecimal(spent_usd * 100, {budget_usd:Decimal(38, 15)}, 2)) AS used_percent
FROM burn
ORDER BY day

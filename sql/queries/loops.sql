/*
description: >-
  Loops the detectors raised over a period, per loop kind and looping scope (agent or
  session): how many alerts, the first and last, and what that scope spent in the period (all
  its calls; unpriced ones counted in scope_unpriced_calls, never as $0).
period: range
reads: calls
params:
  tenant:
    type: String
    default: ''
    help: Only this tenant's calls (empty, the default, is every tenant).
*/
WITH
    loop_alerts AS (
        -- The alerts table may hold a repeat of an alert until it merges: one row per id.
        SELECT alert_id, tenant_id, type, severity, scope_kind, scope_id,
            min(occurred_at) AS alerted_at
        FROM alerts
        WHERE startsWith(type, 'loop.')
            AND occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
            AND ({tenant:String} = '' OR tenant_id = {tenant:String})
        GROUP BY alert_id, tenant_id, type, severity, scope_kind, scope_id
    ),
    loop_scopes AS (
        SELECT tenant_id, type, scope_kind, scope_id, count() AS alerts,
            max(severity) AS top_severity, min(alerted_at) AS first_alert,
            max(alerted_at) AS last_alert
        FROM loop_alerts
        GROUP BY tenant_id, type, scope_kind, scope_id
    ),
    scope_spend AS (
        SELECT tenant_id, scope.1 AS scope_kind, assumeNotNull(scope.2) AS scope_id, count() AS calls,
            countIf(call_usd IS NULL) AS unpriced_calls, sum(call_usd) AS cost_usd
        FROM calls
        ARRAY JOIN [
            ('agent', CAST(agent_id AS Nullable(String))), ('session', session_id),
            ('user', user_id), ('feature', feature_id), ('team', team_id),
            ('tenant', CAST(tenant_id AS Nullable(String)))
        ] AS scope
        WHERE scope.2 IS NOT NULL
        GROUP BY tenant_id, scope_kind, scope_id
    )
SELECT
    l.tenant_id AS tenant_id,
    l.type AS loop,
    l.scope_kind AS scope_kind,
    l.scope_id AS scope_id,
    l.top_severity AS severity,
    l.alerts AS alerts,
    l.first_alert AS first_alert,
    l.last_alert AS last_alert,
    s.calls AS scope_calls,
    s.unpriced_calls AS scope_unpriced_calls,
    s.cost_usd AS scope_cost_usd
FROM loop_scopes AS l
LEFT JOIN scope_spend AS s
    ON s.tenant_id = l.tenant_id AND s.scope_kind = l.scope_kind AND s.scope_id = l.scope_id
ORDER BY alerts DESC, scope_cost_usd DESC NULLS LAST, tenant_id, loop, scope_kind, scope_id

/*
Not a report: the opening of every report whose header says `reads: calls` (the loader puts it
in front of the report's statement, processors/reports/report-fragment.ts).

repriced: the latest repricing adjustment of each call of the period that has one.
calls: every call of the period with call_usd, the cost the reports count (its latest
adjustment's, otherwise the audit's; NULL, unpriced, stays NULL, never $0), audited_call_usd
(the audit's) and repriced (whether an adjustment counts).

It binds {from} and {to}, and {tenant} ('' for every tenant): a report that reads it declares a
period and a tenant String, checked and bound like its own parameters.
*/
WITH
    repriced AS (
        SELECT event_id, toNullable(argMax(cost_usd, adjusted_at)) AS cost_usd
        FROM llm_call_adjustments
        WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
            AND ({tenant:String} = '' OR tenant_id = {tenant:String})
        GROUP BY event_id
    ),
    calls AS (
        SELECT c.event_id AS event_id, c.occurred_at AS occurred_at, c.tenant_id AS tenant_id,
            c.agent_id AS agent_id, c.feature_id AS feature_id, c.user_id AS user_id,
            c.session_id AS session_id, c.team_id AS team_id, c.tags AS tags,
            c.task_category AS task_category, c.provider AS provider, c.model AS model,
            c.status AS status, c.input_tokens AS input_tokens, c.output_tokens AS output_tokens,
            c.detection_flags AS detection_flags, c.unpriced_reason AS unpriced_reason,
            c.cost_usd AS audited_call_usd, r.cost_usd IS NOT NULL AS repriced,
            coalesce(r.cost_usd, c.cost_usd) AS call_usd
        FROM llm_calls AS c
        LEFT JOIN repriced AS r ON r.event_id = c.event_id
        WHERE c.occurred_at >= {from:DateTime64(3, 'UTC')} AND c.occurred_at < {to:DateTime64(3, 'UTC')}
            AND ({tenant:String} = '' OR c.tenant_id = {tenant:String})
    )

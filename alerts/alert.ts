import { z } from 'zod'

/**
 * An alert as routed to the log, Slack, PagerDuty or a webhook. Detectors raise them;
 * `dedup_key` is deterministic so a retried or replayed decision is one alert, not two.
 */
export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const

export const alertSchema = z.object({
  alert_id: z.string(),
  dedup_key: z.string(),
  type: z.string(),
  severity: z.enum(ALERT_SEVERITIES),
  scope: z.object({ kind: z.string(), id: z.string() }),
  summary: z.string(),
  occurred_at: z.string(),
  evidence: z.record(z.string(), z.unknown()).default({}),
})

export type Alert = z.output<typeof alertSchema>

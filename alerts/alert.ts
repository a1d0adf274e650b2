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

/**
 * Alerts of one tenant, type and scope: what a cooldown holds back and a quiet period resolves.
 * On Kafka it keys the alerts topic, so one router sees all of them, in order.
 */
export function alertStreamOf(alert: Alert): string {
  const tenant = (alert.evidence as { tenant?: string }).tenant ?? ''
  return `${tenant}|${alert.type}|${alert.scope.kind}:${alert.scope.id}`
}

/**
 * Loops and anomalies have no end the detectors see (the calls just stop): a repeat while one is
 * open belongs to the same incident, and the quiet period resolves it.
 */
export function endsWhenQuiet(alert: Alert): boolean {
  // A user above most of a daily budget stays so until the day ends: the rollover resolves it.
  if (alert.type === 'anomaly.user_budget') return false
  return alert.type.startsWith('loop.') || alert.type.startsWith('anomaly.')
}

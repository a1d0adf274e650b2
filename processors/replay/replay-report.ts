import { z } from 'zod'
import { alertSchema } from '../../alerts/alert.ts'

/**
 * The JSON report of `spendguard replay --format json`. Money is an exact decimal USD string
 * (never a float): "1260", "0.0001185". See docs/replay.md.
 */

const usdString = z.string().regex(/^-?\d+(\.\d+)?$/)

export const groupTotalsSchema = z.object({
  calls: z.int().nonnegative(),
  /** Calls in the group whose model could not be priced: their cost is not in cost_usd. */
  unpriced_calls: z.int().nonnegative(),
  cost_usd: usdString,
  input_tokens: z.int().nonnegative(),
  output_tokens: z.int().nonnegative(),
})

const scopeSchema = z.object({ kind: z.string(), id: z.string() })

/** A request to the control plane (block, throttle, downgrade, cap) made by a rule. */
export const commandRequestSchema = z.object({
  command_id: z.string(),
  action: z.enum(['block', 'throttle', 'downgrade', 'cap']),
  tenant: z.string(),
  scope: scopeSchema,
  calls_per_minute: z.int().positive().optional(),
  model: z.string().optional(),
  limit_usd: z.string().optional(),
  spent_usd: z.string().optional(),
  issuer: z.string(),
  reason: z.string(),
  rule: z.string(),
  alert_id: z.string(),
  issued_at: z.string(),
  expires_at: z.string().nullable(),
  evidence: z.record(z.string(), z.unknown()),
})

/** A call that broke the model policy, once per agent, category and model. */
export const violationSchema = z.object({
  event_id: z.string(),
  occurred_at: z.string(),
  tenant: z.string(),
  agent_id: z.string(),
  task_category: z.string().nullable(),
  model: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  rule: z.string(),
  reason: z.string(),
  mode: z.string(),
})

const fieldIssueSchema = z.object({ path: z.string(), message: z.string() })

export const replayReportSchema = z.object({
  events: z.object({
    /** Non-blank lines read. */
    read: z.int().nonnegative(),
    /** Valid, first-seen events: each is priced once. */
    accepted: z.int().nonnegative(),
    /** Lines reported in `rejected`: malformed JSON, contract violations, repeated event_id. */
    rejected: z.int().nonnegative(),
    /** Of the rejected: repeats of an event_id already accepted. */
    duplicates: z.int().nonnegative(),
    /** Accepted events older than the watermark (max event time so far minus the allowed lateness) when read in file order. */
    late: z.int().nonnegative(),
    /** Accepted events whose model has no price. */
    unpriced: z.int().nonnegative(),
  }),
  /** Total exact cost of the priced accepted events. */
  cost_usd: usdString,
  /** Event-time span of the accepted events (ISO-8601), null when none. */
  first_event_at: z.string().nullable(),
  last_event_at: z.string().nullable(),
  price_catalog_version: z.string(),
  by_agent: z.record(z.string(), groupTotalsSchema),
  by_feature: z.record(z.string(), groupTotalsSchema),
  by_user: z.record(z.string(), groupTotalsSchema),
  by_team: z.record(z.string(), groupTotalsSchema),
  by_model: z.record(z.string(), groupTotalsSchema),
  unpriced_models: z.array(
    z.object({ model: z.string(), calls: z.int().positive(), reason: z.string() }),
  ),
  rejected: z.array(
    z.object({
      line: z.int().positive(),
      event_id: z.string().optional(),
      errors: z.array(fieldIssueSchema).min(1),
    }),
  ),
  alerts: z.array(alertSchema),
  /** In event-time order, as the rules of --config fired them. */
  commands: z.array(commandRequestSchema),
  violations: z.array(violationSchema),
})

export type ReplayReport = z.output<typeof replayReportSchema>
export type GroupTotals = z.output<typeof groupTotalsSchema>

/** Key used in by_* maps for events that do not carry the dimension. */
export const NO_VALUE = '(none)'

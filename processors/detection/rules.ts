import { z } from 'zod'

/**
 * The detection rules of a configuration file (SPEC section 6): budgets, anomalies, loops and
 * model policy. `spendguard start` and `spendguard replay --config FILE` read the same file, so
 * a replay answers "what would these rules have done" with the live pipeline's own code.
 */

/** The attribution a budget can be scoped to; "*" applies the budget to each key separately. */
export const SCOPE_KINDS = ['agent', 'feature', 'user', 'session', 'team', 'tenant'] as const
export type ScopeKind = (typeof SCOPE_KINDS)[number]

export const BUDGET_PERIODS = ['call', 'session', 'minute_tokens', 'day', 'month', 'total'] as const
export type BudgetPeriod = (typeof BUDGET_PERIODS)[number]

const usd = z
  .string()
  .regex(/^\d{1,12}(\.\d{1,15})?$/, 'must be a decimal USD string such as "10" or "0.25"')
const percent = z.number().positive().max(1000)

const scopeSchema = z
  .strictObject({
    agent: z.string().min(1).optional(),
    feature: z.string().min(1).optional(),
    user: z.string().min(1).optional(),
    session: z.string().min(1).optional(),
    team: z.string().min(1).optional(),
    tenant: z.string().min(1).optional(),
  })
  .refine(
    (scope) => Object.values(scope).filter((v) => v !== undefined).length === 1,
    'name exactly one of agent, feature, user, session, team, tenant (e.g. { user: "*" })',
  )
  .transform((scope) => {
    const [kind, value] = Object.entries(scope).find(([, v]) => v !== undefined) as [
      ScopeKind,
      string,
    ]
    return { kind, value }
  })

export const budgetSchema = z
  .strictObject({
    /** Names the budget in alerts, flags and commands; made from scope and period when absent. */
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits or _ . : -')
      .optional(),
    scope: scopeSchema,
    period: z.enum(BUDGET_PERIODS),
    limit_usd: usd.optional(),
    limit_tokens: z.int().positive().optional(),
    on_exceed: z.enum(['block', 'warn', 'log']).default('warn'),
    alert_at: z.array(percent).default([25, 50, 80, 100]),
    /** At this percentage, block the agents marked `critical: false` under `agents`. */
    freeze_non_critical_at: percent.optional(),
  })
  .superRefine((budget, ctx) => {
    if (budget.period === 'minute_tokens') {
      if (budget.limit_tokens === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['limit_tokens'],
          message: 'is required for period minute_tokens (tokens per rolling minute)',
        })
      if (budget.limit_usd !== undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['limit_usd'],
          message: 'does not apply to period minute_tokens; give limit_tokens',
        })
    } else if (budget.limit_usd === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['limit_usd'],
        message: `is required for period ${budget.period}`,
      })
    } else if (/^0+(\.0+)?$/.test(budget.limit_usd)) {
      // Every call would be over it: a model or agent that may not run at all is the policy's
      // or a kill's to say, and percentages of nothing mean nothing.
      ctx.addIssue({
        code: 'custom',
        path: ['limit_usd'],
        message: 'must be more than 0 (to stop spend altogether, use policy or spendguard kill)',
      })
    }
  })
  .transform((budget) => ({
    ...budget,
    id: budget.id ?? `${budget.scope.kind}-${budget.period}`,
    alert_at: [...new Set(budget.alert_at)].sort((a, b) => a - b),
  }))

export const anomalyRulesSchema = z
  .strictObject({
    /** A call costing more than this many times its agent x feature 24-hour average. */
    single_call_multiple: z.number().positive().default(10),
    /** A 15-minute average cost per call more than this many times the 24-hour baseline... */
    window_multiple: z.number().positive().default(3),
    /** ...with at least this many calls in the 15 minutes (and in the baseline). */
    min_calls: z.int().positive().default(10),
    /** A user above this percentage of a daily user budget. */
    user_daily_budget_percent: percent.default(90),
  })
  .prefault({})

export const loopRulesSchema = z
  .strictObject({
    /** The same agent sending the same request_fingerprint more than this many times... */
    fingerprint_repeats: z.int().positive().default(5),
    /** ...within this many seconds. */
    fingerprint_window_s: z.int().positive().default(60),
    /** Consecutive calls of a session whose content_simhash agree on more than this share of bits. */
    simhash_similarity: z.number().min(0).max(1).default(0.9),
    /** A session whose iteration counter passes this. */
    max_iterations: z.int().positive().default(25),
    /** This many consecutive failed calls of a session with non-decreasing tokens. */
    stall_failures: z.int().min(2).default(3),
    /** Input tokens of a session growing call after call to this multiple of the first... */
    bloat_growth: z.number().gt(1).default(1.5),
    /** ...over at least this many consecutive rising calls. */
    bloat_calls: z.int().min(2).default(5),
    /** A -> B -> A -> B in one trace: this many alternations. */
    ping_pong_hops: z.int().min(3).default(4),
    /** What a loop leads to: an alert only (warn, log), or a command on the looping scope. */
    on_detect: z.enum(['log', 'warn', 'throttle', 'block']).default('warn'),
    /** Calls per minute a throttle command allows. */
    throttle_calls_per_minute: z.int().positive().default(6),
    /** How long a loop's throttle or block lasts. */
    command_minutes: z.int().positive().default(15),
  })
  .prefault({})

const modelList = z.array(z.string().min(1))

const categorySchema = z.strictObject({
  /** Model ids permitted for the category (exact ids after alias resolution). */
  models: modelList.min(1, 'a category permits at least one model'),
  /** The model a downgrade command routes the category's calls to. */
  route_to: z.string().min(1).optional(),
})

const categoriesSchema = z.record(z.string().min(1), categorySchema)

export const policySchema = z
  .strictObject({
    /** strict: violations are alerted and blocked; audit: alerted only; off: not checked. */
    mode: z.enum(['strict', 'audit', 'off']).default('audit'),
    premium_models: modelList.default([
      'gpt-4',
      'gpt-4o',
      'gpt-4.1',
      'o1',
      'o3',
      'claude-opus-4',
      'claude-sonnet-4',
      'gemini-2.5-pro',
    ]),
    /** Task category -> permitted models. No categories: the policy checks nothing. */
    categories: categoriesSchema.default({}),
    /** Calls without a task_category are violations (when categories are configured). */
    require_category: z.boolean().default(true),
    /** How long a fallback exception permits its escalation, from the first call that uses it. */
    fallback_exception_minutes: z.int().positive().default(60),
    /** What strict mode asks of the control plane: block the agent, or route it to `route_to`. */
    strict_action: z.enum(['block', 'downgrade']).default('block'),
    /** Per-tenant policies: their categories replace the global ones for that tenant. */
    tenants: z
      .record(
        z.string().min(1),
        z.strictObject({
          mode: z.enum(['strict', 'audit', 'off']).optional(),
          categories: categoriesSchema,
        }),
      )
      .default({}),
  })
  .prefault({})

export const agentRulesSchema = z.record(
  z.string().min(1),
  z.strictObject({
    /** Non-critical agents are frozen when a budget reaches its `freeze_non_critical_at`. */
    critical: z.boolean().default(true),
  }),
)

export const rulesShape = {
  budgets: z
    .array(budgetSchema)
    .default([])
    .superRefine((budgets, ctx) => {
      const seen = new Map<string, number>()
      budgets.forEach((budget, index) => {
        const first = seen.get(budget.id)
        if (first === undefined) seen.set(budget.id, index)
        else
          ctx.addIssue({
            code: 'custom',
            path: [index, 'id'],
            message: `"${budget.id}" is also the id of budgets.${first}: give each budget its own id`,
          })
      })
    }),
  anomalies: anomalyRulesSchema,
  loops: loopRulesSchema,
  policy: policySchema,
  agents: agentRulesSchema.default({}),
}

export const rulesSchema = z.strictObject(rulesShape)

export type Rules = z.output<typeof rulesSchema>
export type Budget = Rules['budgets'][number]
export type AnomalyRules = Rules['anomalies']
export type LoopRules = Rules['loops']
export type PolicyRules = Rules['policy']
export type CategoryPolicy = z.output<typeof categorySchema>

export const DEFAULT_RULES: Rules = rulesSchema.parse({})

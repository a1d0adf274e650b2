import { createHash } from 'node:crypto'
import type { ConfigInput } from '../../platform/config.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'

/**
 * Generated event streams for the field incidents of SPEC section 2, each with the rules it runs
 * under and the alerts it must fire. The same scenarios run through replay (the evaluation core
 * with an event-time clock), the processor in batches, the embedded pipeline and the Kafka
 * pipeline; times are relative to `base` so a live pipeline accepts them.
 */
export interface Scenario {
  name: string
  rules: Pick<ConfigInput, 'budgets' | 'anomalies' | 'loops' | 'policy' | 'agents'>
  events: LlmCallInput[]
  /** Alert types fired, in event-time order, e.g. `loop.fingerprint`. */
  expectedTypes: string[]
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** A deterministic event id per scenario and index: the same stream always makes the same ids. */
function eventId(scenario: string, index: number): string {
  const hex = createHash('sha256').update(`${scenario}#${index}`).digest('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

function stream(
  name: string,
  parts: Array<Partial<LlmCallInput> & { at: number }>,
): LlmCallInput[] {
  return parts.map(({ at, ...fields }, index) => ({
    event_id: eventId(name, index),
    occurred_at: new Date(at).toISOString(),
    tenant_id: 'acme',
    agent_id: 'writer',
    provider: 'openai',
    model: 'gpt-4o-mini',
    input_tokens: 1000,
    output_tokens: 200,
    status: 'ok',
    ...fields,
  }))
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i)

/** Loops and spikes only: the budgets and policy of a scenario are its own. */
const QUIET = { policy: { mode: 'off' as const } }

export function detectionScenarios(base: number): Scenario[] {
  const day = base - (base % (24 * HOUR))
  return [
    {
      name: 'wrong model for its category (strict)',
      rules: {
        policy: {
          mode: 'strict',
          categories: {
            bulk_generation: { models: ['llama3-8b', 'mistral-7b'], route_to: 'llama3-8b' },
          },
        },
      },
      events: stream(
        'wrong-model',
        range(20).map((i) => ({
          at: base - 30 * MINUTE + i * MINUTE,
          agent_id: 'blog-outline',
          task_category: 'bulk_generation',
          model: 'gpt-4',
          input_tokens: 1800,
          output_tokens: 600,
        })),
      ),
      expectedTypes: ['policy.model'],
    },
    {
      name: 'retry loop: the same fingerprint 6 times in 60 s',
      rules: QUIET,
      events: stream(
        'retry-loop',
        range(8).map((i) => ({
          at: base - 10 * MINUTE + i * 5_000,
          request_fingerprint: 'fp-tool-retry',
          session_id: `retry-${i}`,
        })),
      ),
      expectedTypes: ['loop.fingerprint'],
    },
    {
      name: 'delegation ping-pong A -> B -> A -> B in one trace',
      rules: QUIET,
      events: stream('ping-pong', [
        { at: base - 9 * MINUTE, agent_id: 'planner', trace_id: 't-1' },
        {
          at: base - 8 * MINUTE,
          agent_id: 'researcher',
          parent_agent_id: 'planner',
          trace_id: 't-1',
        },
        {
          at: base - 7 * MINUTE,
          agent_id: 'planner',
          parent_agent_id: 'researcher',
          trace_id: 't-1',
        },
        {
          at: base - 6 * MINUTE,
          agent_id: 'researcher',
          parent_agent_id: 'planner',
          trace_id: 't-1',
        },
        {
          at: base - 5 * MINUTE,
          agent_id: 'planner',
          parent_agent_id: 'researcher',
          trace_id: 't-1',
        },
      ]),
      expectedTypes: ['loop.ping_pong'],
    },
    {
      name: 'context bloat: input tokens rising call after call',
      rules: QUIET,
      events: stream(
        'bloat',
        range(7).map((i) => ({
          at: base - 20 * MINUTE + i * MINUTE,
          session_id: 'long-chat',
          input_tokens: 2000 + i * 1500,
        })),
      ),
      expectedTypes: ['loop.context_bloat'],
    },
    {
      name: 'stall: failures in a row with non-decreasing tokens',
      rules: QUIET,
      events: stream(
        'stall',
        range(5).map((i) => ({
          at: base - 15 * MINUTE + i * MINUTE,
          session_id: 'stuck',
          status: i === 0 ? 'ok' : 'error',
          error_type: i === 0 ? undefined : 'tool_error',
          input_tokens: 3000 + i * 10,
        })),
      ),
      expectedTypes: ['loop.stall'],
    },
    {
      name: 'spend spikes after a 24-hour baseline: one 10x call, then a 3x quarter hour',
      rules: {
        ...QUIET,
        anomalies: { single_call_multiple: 10, window_multiple: 3, min_calls: 10 },
      },
      events: stream('spikes', [
        // 24 calls over the day before, about one an hour, of the same agent x feature (all
        // within the live windows' 24 hours).
        ...range(24).map((i) => ({
          at: base - 23 * HOUR - 30 * MINUTE + i * 55 * MINUTE,
          feature_id: 'summaries',
        })),
        // One call with 20x the tokens: more than 10x the average cost per call.
        {
          at: base - 35 * MINUTE,
          feature_id: 'summaries',
          input_tokens: 20_000,
          output_tokens: 4000,
        },
        // Ten calls at 8x within a quarter hour: over 3x the baseline, which the spike raised.
        ...range(10).map((i) => ({
          at: base - 14 * MINUTE + i * MINUTE,
          feature_id: 'summaries',
          input_tokens: 8000,
          output_tokens: 1600,
        })),
      ]),
      expectedTypes: ['anomaly.single_call', 'anomaly.window'],
    },
    {
      name: "a user's daily budget: 25, 50, 80 and 100 %, then again the next UTC day",
      rules: {
        ...QUIET,
        budgets: [{ scope: { user: '*' }, period: 'day', limit_usd: '0.75', on_exceed: 'block' }],
        anomalies: { user_daily_budget_percent: 90 },
      },
      // gpt-4o at $2.50 / $10 per million tokens: $0.075 a call, so 25 % of $0.75 is passed at
      // call 3, 50 % at 5, 80 % at 8, 90 % at 9 and 100 % at 10; twelve calls each UTC day.
      events: stream(
        'budget',
        [day - 3 * HOUR, day + MINUTE].flatMap((start) =>
          range(12).map((i) => ({
            at: start + i * 5 * MINUTE,
            user_id: 'u-7',
            model: 'gpt-4o',
            input_tokens: 10_000,
            output_tokens: 5_000,
          })),
        ),
      ),
      expectedTypes: [...range(2)].flatMap(() => [
        'budget.threshold',
        'budget.threshold',
        'budget.threshold',
        'anomaly.user_budget',
        'budget.threshold',
      ]),
    },
    {
      name: 'a fallback exception inside and after its time limit',
      rules: {
        policy: {
          mode: 'audit',
          fallback_exception_minutes: 30,
          categories: { drafting: { models: ['gpt-4o-mini'] } },
        },
      },
      events: stream('fallback', [
        ...range(3).map((i) => ({
          at: base - 50 * MINUTE + i * 5 * MINUTE,
          agent_id: 'drafter',
          task_category: 'drafting',
          model: 'gpt-4o',
          fallback: {
            from_model: 'gpt-4o-mini',
            reason: 'context too long',
            exception_id: 'exc-1',
          },
        })),
        {
          at: base - 5 * MINUTE,
          agent_id: 'drafter',
          task_category: 'drafting',
          model: 'gpt-4o',
          fallback: {
            from_model: 'gpt-4o-mini',
            reason: 'context too long',
            exception_id: 'exc-1',
          },
        },
      ]),
      expectedTypes: ['policy.fallback_exception', 'policy.model'],
    },
  ]
}

/**
 * Every scenario in one stream, each under a tenant of its own, with one set of rules that gives
 * each the rules it was written for (policies per tenant): what a live pipeline runs.
 */
export function combinedScenario(base: number): {
  rules: Scenario['rules']
  events: LlmCallInput[]
  /** Alert types per tenant, in event-time order. */
  expectedTypes: Record<string, string[]>
} {
  const scenarios = detectionScenarios(base)
  const tenants: Record<string, { mode: 'strict' | 'audit' | 'off'; categories: object }> = {}
  const expectedTypes: Record<string, string[]> = {}
  const events: LlmCallInput[] = []
  scenarios.forEach((scenario, index) => {
    const tenant = `scenario-${index}`
    expectedTypes[tenant] = scenario.expectedTypes
    const policy = scenario.rules.policy
    if (policy?.categories && policy.mode !== 'off')
      tenants[tenant] = { mode: policy.mode ?? 'audit', categories: policy.categories }
    events.push(...scenario.events.map((event) => ({ ...event, tenant_id: tenant })))
  })
  events.sort((a, b) => Date.parse(String(a.occurred_at)) - Date.parse(String(b.occurred_at)))
  return {
    rules: {
      budgets: scenarios.flatMap((scenario) => scenario.rules.budgets ?? []),
      anomalies: { single_call_multiple: 10, window_multiple: 3, min_calls: 10 },
      policy: {
        mode: 'off',
        fallback_exception_minutes: 30,
        tenants: tenants as NonNullable<NonNullable<Scenario['rules']['policy']>['tenants']>,
      },
    },
    events,
    expectedTypes,
  }
}

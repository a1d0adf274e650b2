import type { LlmCallInput } from '../schemas/llm-call.ts'

/**
 * Realistic traffic for `spendguard demo`: a few agents on different models and features,
 * one of them on a premium model it should not use for bulk work (the incident SpendGuard
 * exists to catch), one with growing context, some failures and cache hits.
 */
export interface DemoAgent {
  agent_id: string
  team_id: string
  feature_id: string
  task_category: string
  provider: string
  model: string
  /** Typical input and output tokens per call. */
  input: number
  output: number
  /** Share of input served from the prompt cache. */
  cacheShare: number
  /** Relative call frequency. */
  weight: number
}

export const DEMO_AGENTS: readonly DemoAgent[] = [
  {
    agent_id: 'support-bot',
    team_id: 'customer-success',
    feature_id: 'ticket-triage',
    task_category: 'classification',
    provider: 'openai',
    model: 'gpt-4o-mini',
    input: 900,
    output: 120,
    cacheShare: 0.5,
    weight: 6,
  },
  {
    agent_id: 'research-agent',
    team_id: 'growth',
    feature_id: 'market-brief',
    task_category: 'analysis',
    provider: 'anthropic',
    model: 'claude-sonnet-4-20250514',
    input: 6000,
    output: 900,
    cacheShare: 0.6,
    weight: 2,
  },
  {
    agent_id: 'code-reviewer',
    team_id: 'platform',
    feature_id: 'pr-review',
    task_category: 'code-review',
    provider: 'openai',
    model: 'gpt-4.1',
    input: 4000,
    output: 700,
    cacheShare: 0.2,
    weight: 2,
  },
  {
    agent_id: 'bulk-summarizer',
    team_id: 'content',
    feature_id: 'catalog-descriptions',
    task_category: 'bulk-generation',
    provider: 'openai',
    model: 'gpt-4',
    input: 1800,
    output: 600,
    cacheShare: 0,
    weight: 3,
  },
  {
    agent_id: 'doc-search',
    team_id: 'platform',
    feature_id: 'internal-search',
    task_category: 'retrieval',
    provider: 'self-hosted',
    model: 'llama3.1:70b',
    input: 2500,
    output: 300,
    cacheShare: 0,
    weight: 2,
  },
]

/** A small seeded generator (mulberry32), so a demo run can be repeated exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface DemoTrafficOptions {
  random: () => number
  now: () => number
  newId: () => string
}

/** Returns a function that makes the next demo event. */
export function createDemoTraffic(options: DemoTrafficOptions): () => LlmCallInput {
  const { random } = options
  const totalWeight = DEMO_AGENTS.reduce((sum, agent) => sum + agent.weight, 0)
  const sessionTurns = new Map<string, number>()
  const jitter = (value: number) => Math.max(1, Math.round(value * (0.6 + random() * 0.8)))

  return () => {
    let pick = random() * totalWeight
    const agent = DEMO_AGENTS.find((a) => (pick -= a.weight) < 0) ?? DEMO_AGENTS[0]!
    const session = `${agent.agent_id}-s${Math.floor(random() * 5)}`
    const turn = (sessionTurns.get(session) ?? 0) + 1
    sessionTurns.set(session, turn % 40)
    // Context grows with the session's turns: the input of a long session keeps rising.
    const input = jitter(agent.input) + turn * Math.round(agent.input * 0.05)
    const cacheRead = Math.floor(input * agent.cacheShare * random())
    const failed = random() < 0.03
    const latency = jitter(400 + input / 10)
    const now = options.now()
    return {
      event_id: options.newId(),
      occurred_at: new Date(now).toISOString(),
      started_at: new Date(now - latency).toISOString(),
      tenant_id: 'demo',
      agent_id: agent.agent_id,
      agent_version: '1.4.0',
      feature_id: agent.feature_id,
      team_id: agent.team_id,
      user_id: `user-${1 + Math.floor(random() * 25)}`,
      session_id: session,
      environment: 'prod',
      task_category: agent.task_category,
      provider: agent.provider,
      model: agent.model,
      input_tokens: input,
      output_tokens: failed ? 0 : jitter(agent.output),
      cache_read_tokens: cacheRead,
      status: failed ? 'error' : 'ok',
      ...(failed ? { error_type: 'rate_limit' } : { stop_reason: 'end_turn' }),
      latency_ms: latency,
      iteration: turn,
      tags: { demo: 'true' },
    }
  }
}

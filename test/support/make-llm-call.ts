import { randomUUID } from 'node:crypto'
import type { LlmCall, LlmCallInput } from '../../schemas/llm-call.ts'
import { parseLlmCall } from '../../schemas/validate.ts'

/** A realistic, valid event input; override any field. */
export function makeLlmCallInput(overrides: Partial<LlmCallInput> = {}): LlmCallInput {
  return {
    event_id: randomUUID(),
    occurred_at: '2026-03-02T10:15:00.000Z',
    tenant_id: 'acme',
    agent_id: 'support-bot',
    feature_id: 'ticket-triage',
    user_id: 'user-42',
    session_id: 'session-7',
    team_id: 'customer-success',
    environment: 'prod',
    task_category: 'classification',
    provider: 'openai',
    model: 'gpt-4o-mini',
    input_tokens: 1200,
    output_tokens: 300,
    status: 'ok',
    latency_ms: 850,
    ...overrides,
  }
}

/** A validated event, as processors see it. */
export function makeLlmCall(overrides: Partial<LlmCallInput> = {}): LlmCall {
  return parseLlmCall(makeLlmCallInput(overrides))
}

/**
 * An ISO time `secondsAgo` before now: for events that go through a live pipeline, which
 * refuses event times outside the audit's retention window.
 */
export function recentTime(secondsAgo = 60): string {
  return new Date(Date.now() - secondsAgo * 1000).toISOString()
}

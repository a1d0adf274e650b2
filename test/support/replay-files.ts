import { randomUUID } from 'node:crypto'
import { makeLlmCallInput } from './make-llm-call.ts'

/**
 * The acceptance file: `count` GPT-4 calls of 1,800 input and 600 output tokens
 * (at $0.03 / $0.06 per 1K tokens, 14,000 of them cost exactly $1,260).
 */
export function gpt4IncidentLines(count: number, startMs = Date.UTC(2026, 2, 2, 9)): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify(
      makeLlmCallInput({
        event_id: randomUUID(),
        occurred_at: new Date(startMs + i * 1000).toISOString(),
        agent_id: 'bulk-summarizer',
        feature_id: 'catalog-descriptions',
        team_id: 'content',
        task_category: 'bulk-generation',
        model: 'gpt-4',
        input_tokens: 1800,
        output_tokens: 600,
      }),
    ),
  )
}

/** One line per kind of bad input, with the field the report must name. */
export function badLines(): Array<{ text: string; field: string }> {
  const good = makeLlmCallInput()
  const line = (overrides: Record<string, unknown>) =>
    JSON.stringify({ ...makeLlmCallInput(), ...overrides })
  const without = (field: string) => {
    const copy: Record<string, unknown> = { ...makeLlmCallInput() }
    delete copy[field]
    return JSON.stringify(copy)
  }
  return [
    { text: '{"event_id": "not closed', field: '' },
    { text: without('agent_id'), field: 'agent_id' },
    { text: without('model'), field: 'model' },
    { text: line({ output_tokens: -3 }), field: 'output_tokens' },
    { text: line({ input_tokens: 100, cache_read_tokens: 500 }), field: 'cache_read_tokens' },
    { text: line({ status: 'exploded' }), field: 'status' },
    { text: line({ occurred_at: 'last tuesday' }), field: 'occurred_at' },
    { text: line({ agent_id: 'x'.repeat(5000) }), field: 'agent_id' },
    // The same event twice: the second line is reported, the event is priced once.
    { text: JSON.stringify(good), field: '' },
    { text: JSON.stringify(good), field: 'event_id' },
  ]
}

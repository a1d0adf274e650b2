// Writes the field story as JSON lines: `blog-outline`, declared as bulk generation, calling
// GPT-4 14,000 times over six weeks at about 1,800 input and 600 output tokens a call.
// Usage: npx tsx examples/blog-outline/make-events.ts > blog-outline.jsonl
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { LlmCallInput } from '../../schemas/llm-call.ts'

export const CALLS = 14_000
const START = Date.parse('2026-09-01T08:00:00Z')
const SIX_WEEKS_MS = 42 * 24 * 60 * 60 * 1000

/** The same file every time: ids and token counts follow from the call's index. */
export function* blogOutlineEvents(): Generator<LlmCallInput> {
  for (let i = 0; i < CALLS; i++) {
    const hex = createHash('sha256').update(`blog-outline#${i}`).digest('hex')
    yield {
      event_id: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`,
      occurred_at: new Date(START + Math.floor((i * SIX_WEEKS_MS) / CALLS)).toISOString(),
      tenant_id: 'default',
      agent_id: 'blog-outline',
      feature_id: 'outlines',
      task_category: 'bulk_generation',
      provider: 'openai',
      model: 'gpt-4',
      input_tokens: 1700 + (parseInt(hex.slice(0, 4), 16) % 200),
      output_tokens: 550 + (parseInt(hex.slice(4, 8), 16) % 100),
      status: 'ok',
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const event of blogOutlineEvents()) process.stdout.write(`${JSON.stringify(event)}\n`)
}

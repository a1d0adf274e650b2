import { loadCatalog } from '../processors/pricing/price-catalog.ts'
import { createPricer } from '../processors/pricing/pricer.ts'
import { makeLlmCall } from '../test/support/make-llm-call.ts'
import { formatUsd } from '../platform/money.ts'
const cat = loadCatalog()
const p = createPricer(cat)
const show = (o: any) => { const r = p.price(makeLlmCall(o)); console.log(JSON.stringify(o), r.status, r.status === 'priced' ? [r.model.id, r.matchedBy, r.priceVersion, formatUsd(r.cost.total)] : r.reason) }
show({ model: 'gpt-4o-mini-2024-07-18', input_tokens: 1_000_000, output_tokens: 1_000_000 })
show({ model: 'gpt-4o-2024-08-06', input_tokens: 1_000_000, output_tokens: 1_000_000 })
show({ model: 'claude-sonnet-4-20250514', input_tokens: 1_000_000, output_tokens: 0 })
show({ model: 'gpt-4-0613', input_tokens: 1_800, output_tokens: 600 })
show({ model: 'GPT-4', input_tokens: 1_800, output_tokens: 600 })
show({ model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0, occurred_at: '2024-10-01T23:59:59Z' })
show({ model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0, occurred_at: '2024-10-02T00:00:00Z' })
show({ model: 'gpt-4o', input_tokens: 1_000_000, output_tokens: 0, occurred_at: '2024-01-01T00:00:00Z' })
show({ model: 'llama3.1-70b', input_tokens: 1_000_000, output_tokens: 10 })
show({ model: 'mistral-7b-instruct', input_tokens: 1_000_000, output_tokens: 10 })
show({ model: 'openai/gpt-4o', input_tokens: 1_000_000, output_tokens: 0 })
show({ model: 'foo', input_tokens: 1 })
show({ model: 'gpt-4o', endpoint: 'batch', input_tokens: 1_000_000, output_tokens: 0 })
show({ model: 'gemini-2.5-flash', endpoint: 'batch', input_tokens: 1_000_000, cache_read_tokens: 1_000_000, output_tokens: 0 })
show({ model: 'o3', input_tokens: 0, output_tokens: 1000, reasoning_tokens: 800 })
show({ model: 'gpt-4o', response_model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0 })
show({ model: 'claude-sonnet-4', input_tokens: 1_000_000, cache_write_tokens: 1_000_000, output_tokens: 0 })
for (const m of cat.models) console.log(m.id, m.periods.map(x => [x.effectiveFromDate, x.realtime, x.batch]))

import { checkLlmCall } from '../schemas/validate.ts'
import { makeLlmCallInput } from '../test/support/make-llm-call.ts'
import { createEventCodec } from '../schemas/avro-codec.ts'
import { parseLlmCall } from '../schemas/validate.ts'
const cases: Record<string, any> = {
  neg: { input_tokens: -1 },
  cache: { input_tokens: 10, cache_read_tokens: 8, cache_write_tokens: 5 },
  reason: { output_tokens: 10, reasoning_tokens: 11 },
  status: { status: 'weird' },
  endpoint: { endpoint: 'stream' },
  time: { occurred_at: 'yesterday' },
  feb30: { occurred_at: '2026-02-30T10:00:00Z' },
  y1990: { occurred_at: '1990-01-01T00:00:00Z' },
  y2200: { occurred_at: '2200-01-01T00:00:00Z' },
  big: { agent_id: 'x'.repeat(10000) },
  tags: { tags: Object.fromEntries(Array.from({length: 65}, (_, i) => [`k${i}`, 'v'])) },
  uuid: { event_id: 'abc' },
  simhash: { content_simhash: 'XYZ' },
  offset: { occurred_at: '2026-03-02T11:15:00+01:00' },
  offset2: { occurred_at: '2026-03-02T11:15:00+0100' },
  nosec: { occurred_at: '2026-03-02T11:15Z' },
  nanos: { occurred_at: '2026-03-02T11:15:00.123456789Z' },
  noz: { occurred_at: '2026-03-02T11:15:00' },
  epoch: { occurred_at: 1772446500000 },
  epochstr: { occurred_at: '1772446500000' },
  float: { occurred_at: 1772446500000.5 },
  leap: { occurred_at: '2024-02-29T00:00:00Z' },
  h24: { occurred_at: '2026-03-02T24:00:00Z' },
  lowerz: { occurred_at: '2026-03-02t11:15:00z' },
  space: { occurred_at: '2026-03-02 11:15:00Z' },
  badoff: { occurred_at: '2026-03-02T11:15:00+25:00' },
  edge: { occurred_at: '2100-01-01T00:30:00+01:00' },
  nilid: { event_id: '00000000-0000-0000-0000-000000000000' },
  upper: { event_id: 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11' },
  started: { started_at: '2026-03-02T10:16:00Z' },
  toolbig: { tool_calls: Array(257).fill('x') },
  cost: { provider_reported_cost: '0.0001' },
  costbad: { provider_reported_cost: '-1' },
  tagkeyempty: { tags: { '': 'v' } },
}
for (const [k, o] of Object.entries(cases)) {
  const r = checkLlmCall(makeLlmCallInput(o))
  console.log(k, r.ok ? 'OK ' + (r.value.occurred_at) : JSON.stringify(r.issues).slice(0, 300))
}
for (const f of ['event_id','agent_id','model','status','occurred_at']) {
  const i: any = makeLlmCallInput(); delete i[f]
  const r = checkLlmCall(i); console.log('missing', f, r.ok ? 'OK' : JSON.stringify(r.issues))
}
const d = checkLlmCall({ event_id: crypto.randomUUID(), occurred_at: 1772446500000, agent_id: 'a', model: 'm', status: 'ok' })
console.log(JSON.stringify(d))
const codec = await createEventCodec()
const e = parseLlmCall(makeLlmCallInput({ tags: {a: 'b'}, tool_calls: ['x'], fallback: { from_model: 'a', reason: 'r' } }))
const bytes = codec.encode(e)
console.log(bytes.subarray(0, 10).toString('hex'))
const back = parseLlmCall(await codec.decode(bytes))
console.log(JSON.stringify(back) === JSON.stringify(e), JSON.stringify(back), JSON.stringify(e))

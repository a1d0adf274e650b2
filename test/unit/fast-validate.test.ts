import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../cli/demo-traffic.ts'
import { createEventCodec, fromAvroRecord } from '../../schemas/avro-codec.ts'
import { fastCheckLlmCall } from '../../schemas/fast-validate.ts'
import { llmCallSchema } from '../../schemas/llm-call.ts'

const FIELDS = [
  'event_id',
  'occurred_at',
  'started_at',
  'tenant_id',
  'agent_id',
  'agent_version',
  'feature_id',
  'user_id',
  'session_id',
  'team_id',
  'environment',
  'workflow_id',
  'trace_id',
  'span_id',
  'parent_span_id',
  'parent_agent_id',
  'tags',
  'task_category',
  'provider',
  'model',
  'response_model',
  'endpoint',
  'input_tokens',
  'output_tokens',
  'cache_read_tokens',
  'cache_write_tokens',
  'reasoning_tokens',
  'status',
  'error_type',
  'stop_reason',
  'latency_ms',
  'tool_calls',
  'request_fingerprint',
  'content_simhash',
  'iteration',
  'fallback',
  'provider_reported_cost',
  'cache_write_1h_tokens',
  'service_tier',
  'usage_reported',
  'unknown_field',
  '__proto__',
]

/** Values of every kind the contract meets at its boundaries, good and bad. */
const VALUES: unknown[] = [
  undefined,
  null,
  0,
  1,
  -1,
  1.5,
  999_999_999,
  1_000_000_000,
  1_000_000_001,
  Number.MAX_SAFE_INTEGER + 2,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  '',
  'x',
  'a'.repeat(256),
  'a'.repeat(257),
  'a'.repeat(1024),
  'a'.repeat(1025),
  '\uD800',
  'ok\uDC00',
  '😀 emoji',
  'ok',
  'error',
  'timeout',
  'blocked',
  'exploded',
  'realtime',
  'batch',
  'OK',
  true,
  false,
  [],
  ['search'],
  ['', 'x'],
  Array.from({ length: 257 }, () => 'tool'),
  {},
  { team: 'a', '': 'empty key' },
  { __proto__: 'x' },
  Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])),
  { k: 5 },
  { k: '\uD800' },
  { from_model: 'gpt-4o', reason: 'escalation' },
  { from_model: '', reason: 'x' },
  '2026-03-02T10:15:00Z',
  '2026-03-02T10:15:00.123+02:00',
  '2026-02-30T10:15:00Z',
  '2026-03-02 10:15:00',
  '2014-12-31T23:59:59Z',
  '2100-01-01T00:00:00Z',
  Date.UTC(2026, 2, 2),
  Date.UTC(2015, 0, 1),
  Date.UTC(2015, 0, 1) - 1,
  Date.UTC(2100, 0, 1),
  '0123456789abcdef',
  '0123456789ABCDEF',
  '12.5',
  '0.000000000000001',
  '1.0000000000000001',
  '-1',
  '6ba7b810-9dad-11d1-80b4-00c04fd430c8',
  '6BA7B810-9DAD-11D1-80B4-00C04FD430C8',
  '6ba7b810-9dad-01d1-80b4-00c04fd430c8',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
]

/** An event with the keys that hold undefined left out: the two read the same. */
function defined(event: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined))
}

function baseEvent(random: () => number): Record<string, unknown> {
  const input = 1000 + Math.floor(random() * 5000)
  const output = 100 + Math.floor(random() * 500)
  const event: Record<string, unknown> = {
    event_id: randomUUID(),
    occurred_at: random() < 0.5 ? '2026-03-02T10:15:00.000Z' : Date.UTC(2026, 2, 2, 10),
    agent_id: 'support-bot',
    model: 'gpt-4o-mini',
    status: 'ok',
    input_tokens: input,
    output_tokens: output,
  }
  if (random() < 0.5) {
    Object.assign(event, {
      tenant_id: 'acme',
      feature_id: 'triage',
      user_id: 'user-42',
      session_id: 'session-7',
      team_id: 'cs',
      provider: 'openai',
      latency_ms: 850,
      cache_read_tokens: Math.floor(input / 3),
      reasoning_tokens: Math.floor(output / 4),
      tags: { env: 'prod' },
      tool_calls: ['search'],
      started_at: '2026-03-02T10:14:59.000Z',
    })
  }
  return event
}

describe('fast llm_call validator', () => {
  it('accepts only what zod accepts, with the same output, on generated inputs', () => {
    const random = seededRandom(2026)
    let fastAccepted = 0
    let zodAccepted = 0
    const cases = 20_000
    for (let i = 0; i < cases; i++) {
      const candidate = baseEvent(random)
      const mutations = Math.floor(random() * 4)
      for (let m = 0; m < mutations; m++) {
        const field = FIELDS[Math.floor(random() * FIELDS.length)]!
        const value = VALUES[Math.floor(random() * VALUES.length)]
        if (value === undefined && random() < 0.5) delete candidate[field]
        else
          Object.defineProperty(candidate, field, {
            value,
            enumerable: true,
            writable: true,
            configurable: true,
          })
      }
      const fast = fastCheckLlmCall(candidate)
      const zod = llmCallSchema.safeParse(candidate)
      if (zod.success) zodAccepted++
      if (fast === undefined) continue
      fastAccepted++
      if (!zod.success)
        throw new Error(`fast accepted what zod refused: ${JSON.stringify(candidate)}`)
      expect(defined(fast)).toStrictEqual(defined(zod.data))
    }
    // Useful, not only safe: it takes most of what zod takes.
    expect(fastAccepted).toBeGreaterThan(zodAccepted * 0.8)
    expect(zodAccepted).toBeGreaterThan(cases * 0.2)
  })

  it('reads Avro records (null for absent) as zod reads them without their nulls', async () => {
    const codec = await createEventCodec()
    const random = seededRandom(7)
    let fastAccepted = 0
    for (let i = 0; i < 5000; i++) {
      const candidate = baseEvent(random)
      // Avro carries only typed values: mutate numbers and strings within their types.
      const fields = ['input_tokens', 'reasoning_tokens', 'latency_ms', 'user_id'] as const
      const field = fields[Math.floor(random() * fields.length)]!
      const pool = field === 'user_id' ? ['', 'u', 'a'.repeat(257), '\uD800'] : [-1, 0, 1e9 + 1, 7]
      if (random() < 0.5) candidate[field] = pool[Math.floor(random() * pool.length)]
      let record: Record<string, unknown>
      try {
        // A valid event's Avro form, then the mutation applied to the decoded record.
        const valid = llmCallSchema.parse({ ...candidate, [field]: undefined })
        record = await codec.decodeRecord(codec.encode(valid))
      } catch {
        continue
      }
      record[field] = candidate[field] ?? null
      const fast = fastCheckLlmCall(record, { nullIsAbsent: true })
      const zod = llmCallSchema.safeParse(fromAvroRecord(record))
      if (fast === undefined) continue
      fastAccepted++
      expect(zod.success).toBe(true)
      expect(defined(fast)).toStrictEqual(defined(zod.data!))
    }
    expect(fastAccepted).toBeGreaterThan(2000)
  })
})

import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../platform/errors.ts'
import { LIMITS, type LlmCallInput } from '../../schemas/llm-call.ts'
import { checkLlmCall, parseLlmCall } from '../../schemas/validate.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'

/** The paths of the fields an input is rejected for; [] when it is accepted. */
function rejectedPaths(input: unknown): string[] {
  const result = checkLlmCall(input)
  return result.ok ? [] : result.issues.map((issue) => issue.path)
}

function without(field: keyof LlmCallInput): Record<string, unknown> {
  const input: Record<string, unknown> = { ...makeLlmCallInput() }
  delete input[field]
  return input
}

describe('llm_call validation rejects a bad event, naming each bad field', () => {
  it.each<[string, Partial<LlmCallInput>, string[]]>([
    ['negative input tokens', { input_tokens: -1 }, ['input_tokens']],
    ['negative reasoning tokens', { reasoning_tokens: -5 }, ['reasoning_tokens']],
    ['fractional tokens', { output_tokens: 1.5 }, ['output_tokens']],
    ['tokens past a billion', { input_tokens: LIMITS.maxTokens + 1 }, ['input_tokens']],
    [
      'cache reads and writes above the input',
      { input_tokens: 100, cache_read_tokens: 80, cache_write_tokens: 21 },
      ['cache_read_tokens'],
    ],
    [
      'reasoning above the output',
      { output_tokens: 10, reasoning_tokens: 11 },
      ['reasoning_tokens'],
    ],
    ['an unknown status', { status: 'cancelled' as never }, ['status']],
    ['an unknown endpoint', { endpoint: 'streaming' as never }, ['endpoint']],
    ['an unparseable time', { occurred_at: 'yesterday at noon' }, ['occurred_at']],
    ['an impossible date', { occurred_at: '2026-02-30T10:00:00Z' }, ['occurred_at']],
    ['hour 24', { occurred_at: '2026-03-02T24:00:00Z' }, ['occurred_at']],
    ['a time without a zone', { occurred_at: '2026-03-02T10:00:00' }, ['occurred_at']],
    ['an absurd past year', { occurred_at: '1990-06-01T00:00:00Z' }, ['occurred_at']],
    ['an absurd future year', { occurred_at: '2200-06-01T00:00:00Z' }, ['occurred_at']],
    ['epoch seconds instead of ms', { occurred_at: 1772446500 }, ['occurred_at']],
    ['fractional epoch ms', { occurred_at: 1772446500000.5 }, ['occurred_at']],
    ['a start after the end', { started_at: '2026-03-02T10:15:01Z' }, ['started_at']],
    ['an oversized agent_id', { agent_id: 'a'.repeat(10_000) }, ['agent_id']],
    ['an empty agent_id', { agent_id: '' }, ['agent_id']],
    ['an oversized error_type', { error_type: 'e'.repeat(LIMITS.textLength + 1) }, ['error_type']],
    [
      'too many tags',
      { tags: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) },
      ['tags'],
    ],
    ['an oversized tag value', { tags: { team: 'x'.repeat(513) } }, ['tags.team']],
    ['too many tool calls', { tool_calls: Array<string>(257).fill('search') }, ['tool_calls']],
    ['a non-UUID event_id', { event_id: 'call-123' }, ['event_id']],
    [
      'a simhash that is not 16 hex digits',
      { content_simhash: 'ABCDEF0123456789' },
      ['content_simhash'],
    ],
    ['a short simhash', { content_simhash: 'abc' }, ['content_simhash']],
    ['a negative latency', { latency_ms: -1 }, ['latency_ms']],
    ['a negative reported cost', { provider_reported_cost: '-0.5' }, ['provider_reported_cost']],
    [
      'a fallback without a reason',
      { fallback: { from_model: 'x' } as never },
      ['fallback.reason'],
    ],
  ])('%s', (_name, overrides, paths) => {
    expect(rejectedPaths(makeLlmCallInput(overrides))).toEqual(paths)
  })

  it.each(['event_id', 'agent_id', 'model', 'status', 'occurred_at'] as const)(
    'a missing %s',
    (field) => {
      expect(rejectedPaths(without(field))).toEqual([field])
    },
  )

  it('reports several bad fields at once', () => {
    const paths = rejectedPaths(
      makeLlmCallInput({ input_tokens: -3, status: 'bad' as never, agent_id: '' }),
    )
    expect(paths.sort()).toEqual(['agent_id', 'input_tokens', 'status'])
  })

  it('throws a non-retriable ValidationError whose issues carry the paths', () => {
    let thrown: unknown
    try {
      parseLlmCall(makeLlmCallInput({ endpoint: 'x' as never, output_tokens: -1 }))
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ValidationError)
    const error = thrown as ValidationError
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', retriable: false })
    expect(error.issues.map((i) => i.path).sort()).toEqual(['endpoint', 'output_tokens'])
    expect(error.message).toMatch(/endpoint: /)
  })

  it('rejects what is not an object at all', () => {
    expect(checkLlmCall('{"event_id": 1}').ok).toBe(false)
    expect(checkLlmCall(null).ok).toBe(false)
  })
})

describe('llm_call validation accepts and normalises good events', () => {
  const tenFifteenUtc = Date.UTC(2026, 2, 2, 10, 15)

  it.each<[string, string | number]>([
    ['ISO with Z', '2026-03-02T10:15:00Z'],
    ['ISO with milliseconds', '2026-03-02T10:15:00.000Z'],
    ['ISO with a positive offset', '2026-03-02T11:15:00+01:00'],
    ['ISO with a negative offset', '2026-03-02T05:15:00-05:00'],
    ['ISO with an offset without colon', '2026-03-02T15:45:00+0530'],
    ['ISO without seconds', '2026-03-02T10:15Z'],
    ['epoch milliseconds', tenFifteenUtc],
  ])('occurred_at as %s becomes epoch ms', (_name, occurredAt) => {
    expect(parseLlmCall(makeLlmCallInput({ occurred_at: occurredAt })).occurred_at).toBe(
      tenFifteenUtc,
    )
  })

  it('keeps milliseconds and truncates finer fractions', () => {
    const at = (t: string) => parseLlmCall(makeLlmCallInput({ occurred_at: t })).occurred_at
    expect(at('2026-03-02T10:15:00.25Z')).toBe(tenFifteenUtc + 250)
    expect(at('2026-03-02T10:15:00.123456789Z')).toBe(tenFifteenUtc + 123)
  })

  it('accepts a leap day and the edges of the plausible range', () => {
    expect(rejectedPaths(makeLlmCallInput({ occurred_at: '2024-02-29T12:00:00Z' }))).toEqual([])
    expect(rejectedPaths(makeLlmCallInput({ occurred_at: '2015-01-01T00:00:00Z' }))).toEqual([])
    expect(rejectedPaths(makeLlmCallInput({ occurred_at: '2014-12-31T23:59:59Z' }))).toEqual([
      'occurred_at',
    ])
    // 00:30 on 2100-01-01 at +01:00 is 23:30 on 2099-12-31 UTC: inside the range
    expect(rejectedPaths(makeLlmCallInput({ occurred_at: '2100-01-01T00:30:00+01:00' }))).toEqual(
      [],
    )
  })

  it('fills the defaults: tenant default, realtime endpoint, zero tokens, no tags or tools', () => {
    const call = parseLlmCall({
      event_id: '6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f',
      occurred_at: tenFifteenUtc,
      agent_id: 'support-bot',
      model: 'gpt-4o-mini',
      status: 'blocked',
    })
    expect(call).toEqual({
      event_id: '6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f',
      occurred_at: tenFifteenUtc,
      tenant_id: 'default',
      agent_id: 'support-bot',
      model: 'gpt-4o-mini',
      status: 'blocked',
      endpoint: 'realtime',
      input_tokens: 0,
      output_tokens: 0,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tags: {},
      tool_calls: [],
      cache_write_1h_tokens: 0,
      usage_reported: true,
    })
  })

  it('accepts cache reads and writes that exactly make up the input', () => {
    expect(
      rejectedPaths(
        makeLlmCallInput({ input_tokens: 100, cache_read_tokens: 60, cache_write_tokens: 40 }),
      ),
    ).toEqual([])
  })

  it('drops fields that are not part of the contract', () => {
    const call = parseLlmCall({ ...makeLlmCallInput(), prompt: 'secret text' })
    expect(call).not.toHaveProperty('prompt')
  })

  it('lower-cases the event_id, so one call in two spellings is one call', () => {
    const call = parseLlmCall(
      makeLlmCallInput({ event_id: '5B0D7C1E-3A52-4C7E-9F0E-2F2D4B9A1C11' }),
    )
    expect(call.event_id).toBe('5b0d7c1e-3a52-4c7e-9f0e-2f2d4b9a1c11')
  })
})

describe('llm_call validation rejects what the audit store could not hold', () => {
  it.each([
    ['agent_id', { agent_id: 'bot-\ud800' }],
    ['tags.team', { tags: { team: 'a\udc00b' } }],
    ['tool_calls.0', { tool_calls: ['search\ud83d'] }],
  ])('a lone surrogate in %s', (path, overrides) => {
    expect(rejectedPaths({ ...makeLlmCallInput(), ...overrides })).toEqual([path])
  })

  it('accepts a well-formed astral character', () => {
    expect(rejectedPaths(makeLlmCallInput({ agent_id: 'bot-\ud83d\ude80' }))).toEqual([])
  })

  it('a provider_reported_cost beyond Decimal(38, 15)', () => {
    expect(rejectedPaths(makeLlmCallInput({ provider_reported_cost: '1'.repeat(24) }))).toEqual([
      'provider_reported_cost',
    ])
    expect(
      rejectedPaths(makeLlmCallInput({ provider_reported_cost: '9'.repeat(23) + '.5' })),
    ).toEqual([])
  })
})

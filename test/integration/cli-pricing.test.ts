import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { replayReportSchema } from '../../processors/replay/replay-report.ts'
import { runCli } from '../support/cli-process.ts'
import { formatUsd } from '../../platform/money.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'
import { CORPUS, expectedFemtos } from '../support/pricing-corpus.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-cli-pricing-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Calls as services send them, 100k input and 10k output tokens each, with what they cost. */
const CALLS = [
  // o3 before its price cut ($10 / $40) and after ($2 / $8).
  { model: 'o3', occurred_at: '2025-05-01T12:00:00Z', usd: '1.4' },
  { model: 'o3-2025-04-16', occurred_at: '2025-07-01T12:00:00Z', usd: '0.28' },
  // Groq's Llama 3.3 70B, $0.59 / $0.79, named by a gateway prefix.
  { model: 'groq/llama-3.3-70b-versatile', usd: '0.0669' },
  // Claude Sonnet 4 on Bedrock, $3 / $15.
  { model: 'us.anthropic.claude-sonnet-4-20250514-v1:0', usd: '0.45' },
  // Gemini 2.5 Flash through Vertex, $0.30 / $2.50.
  { model: 'vertex_ai/gemini-2.5-flash', usd: '0.055' },
  // A local Llama: free where it is self-hosted.
  { model: 'llama3-8b', provider: 'ollama', usd: '0' },
]

describe('spendguard pricing and replay with real model ids', () => {
  it('replay prices each call as its provider bills it', async () => {
    const file = join(work, 'calls.ndjson')
    const lines = CALLS.map(({ model, provider, occurred_at }) =>
      JSON.stringify(
        makeLlmCallInput({
          model,
          provider,
          occurred_at: occurred_at ?? '2026-11-01T12:00:00Z',
          input_tokens: 100_000,
          output_tokens: 10_000,
        }),
      ),
    )
    // The same Llama with no provider: unpriced with a reason, never $0.
    lines.push(
      JSON.stringify(
        makeLlmCallInput({
          model: 'llama-3.3-70b-versatile',
          provider: undefined,
          input_tokens: 100_000,
        }),
      ),
    )
    writeFileSync(file, lines.join('\n') + '\n')
    const result = await runCli(['replay', file, '--format', 'json'])
    expect(result.stderr).toBe('')
    const report = replayReportSchema.parse(JSON.parse(result.stdout))
    for (const call of CALLS) {
      expect({ model: call.model, usd: report.by_model[call.model]?.cost_usd }).toEqual({
        model: call.model,
        usd: call.usd,
      })
    }
    expect(report.cost_usd).toBe('2.2519')
    expect(report.events.unpriced).toBe(1)
    expect(report.unpriced_models[0]).toMatchObject({ model: 'llama-3.3-70b-versatile' })
    expect(report.unpriced_models[0]!.reason).toMatch(/set the event's provider/)
  })

  it('replay prices the whole corpus of real ids exactly as their providers bill them', async () => {
    const file = join(work, 'corpus.ndjson')
    const events = CORPUS.map((c) =>
      makeLlmCallInput({
        model: c.model,
        provider: c.provider,
        occurred_at: c.at ?? '2026-11-01T12:00:00Z',
        input_tokens: 54_321,
        output_tokens: 1_234,
      }),
    )
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    const result = await runCli(['replay', file, '--format', 'json'])
    const report = replayReportSchema.parse(JSON.parse(result.stdout))
    const expected = CORPUS.reduce((sum, c) => sum + expectedFemtos(c, 54_321, 1_234), 0n)
    expect(report.events).toMatchObject({ accepted: CORPUS.length, unpriced: 0 })
    expect(report.cost_usd).toBe(formatUsd(expected))
  })

  it('pricing shows the price in force at a date, and where it comes from', async () => {
    const before = await runCli(['pricing', 'o3', '--at', '2025-05-01'])
    const after = await runCli(['pricing', 'o3', '--at', '2025-07-01', '--format', 'json'])
    expect(before.code).toBe(0)
    expect(before.stdout).toMatch(/^input\s+10\s*$/m)
    expect(before.stdout).toMatch(/^output\s+40\s*$/m)
    expect(before.stdout).toMatch(/why: .*entry o3/)
    const json = JSON.parse(after.stdout) as {
      rates: { input: { usd_per_million: string } }
      period: string
    }
    expect(json.rates.input.usd_per_million).toBe('2')
    expect(json.period).toBe('2025-06-10')
    const tiers = await runCli(['pricing', 'gemini-2.5-pro', '--format', 'json'])
    expect(JSON.parse(tiers.stdout)).toMatchObject({
      source: 'genai-prices',
      rates: {
        input: {
          usd_per_million: '1.25',
          tiers: [{ above_input_tokens: 200_000, usd_per_million: '2.5' }],
        },
      },
    })
    const unknown = await runCli(['pricing', 'llama-3.3-70b-versatile'])
    expect(unknown.code).toBe(1)
    expect(unknown.stdout).toMatch(/UNPRICED/)
  })

  it('pricing check lists each distinct provider and model of a file with its entry or why not', async () => {
    const file = join(work, 'check.ndjson')
    const events = [
      makeLlmCallInput({ model: 'gpt-4o-mini', provider: 'openai' }),
      makeLlmCallInput({ model: 'gpt-4o-mini', provider: 'openai' }),
      makeLlmCallInput({ model: 'gpt-9-ultra', provider: 'openai' }),
      makeLlmCallInput({ model: 'llama3-8b', provider: 'ollama' }),
      // As the pricer: an unknown billed model falls back to the requested one.
      makeLlmCallInput({ model: 'gpt-4.1', response_model: 'gpt-4.1-turbo-x', provider: 'openai' }),
    ]
    writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n') + '\n')
    const result = await runCli(['pricing', 'check', file, '--format', 'json'])
    expect(result.code).toBe(0)
    const lines = JSON.parse(result.stdout) as Array<{
      model: string
      calls: number
      status: string
      detail: string
    }>
    expect(lines.map((l) => [l.model, l.calls, l.status])).toEqual([
      ['gpt-4o-mini', 2, 'priced'],
      ['gpt-9-ultra', 1, 'unpriced'],
      ['llama3-8b', 1, 'priced'],
      ['gpt-4.1', 1, 'priced'],
    ])
    expect(lines[1]!.detail).toMatch(/no price for "gpt-9-ultra" from openai/)
    const table = await runCli(['pricing', 'check', file])
    expect(table.stdout).toMatch(/4 models, 1 unpriced/)
  })
})

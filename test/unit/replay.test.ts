import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { testPricing } from '../support/pricing.ts'
import { replay } from '../../processors/replay/replay.ts'
import { replayReportSchema } from '../../processors/replay/replay-report.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'
import { badLines, gpt4IncidentLines } from '../support/replay-files.ts'

const { pricer } = await testPricing()
const run = (lines: string[]) =>
  replay(Readable.from([lines.join('\n') + '\n']), { pricer, allowedLatenessMs: 120_000 })

describe('replay', () => {
  it('prices 14,000 GPT-4 calls of 1,800 / 600 tokens at exactly $1,260', async () => {
    const report = await run(gpt4IncidentLines(14_000))
    expect(report.events).toMatchObject({
      read: 14_000,
      accepted: 14_000,
      rejected: 0,
      unpriced: 0,
    })
    expect(report.cost_usd).toBe('1260')
    expect(report.by_agent['bulk-summarizer']).toEqual({
      calls: 14_000,
      unpriced_calls: 0,
      cost_usd: '1260',
      input_tokens: 25_200_000,
      output_tokens: 8_400_000,
    })
    expect(report.by_model['gpt-4']?.cost_usd).toBe('1260')
    expect(replayReportSchema.parse(report)).toEqual(report)
  })

  it('reports each bad line by number with the bad field and prices each good event once', async () => {
    const bad = badLines()
    const good = gpt4IncidentLines(3)
    const lines = [good[0]!, ...bad.map((b) => b.text), good[1]!, '', good[2]!]
    const report = await run(lines)

    // 3 incident events + the first copy of the repeated event are good.
    expect(report.events.accepted).toBe(4)
    expect(report.events.read).toBe(lines.length - 1)
    expect(report.events.duplicates).toBe(1)
    const expectedRejected = bad
      .map((b, i) => ({ line: i + 2, field: b.field, text: b.text }))
      .filter((b, i) => i !== bad.length - 2)
    expect(report.rejected.map((r) => r.line)).toEqual(expectedRejected.map((b) => b.line))
    for (const expected of expectedRejected) {
      const entry = report.rejected.find((r) => r.line === expected.line)!
      expect(entry.errors.map((e) => e.path)).toContain(expected.field)
    }
    expect(report.rejected[0]!.errors[0]!.message).toMatch(/malformed JSON/)
    // Three GPT-4 calls at $0.09 plus the repeated gpt-4o-mini call (1,200 in / 300 out) once.
    expect(report.cost_usd).toBe('0.27036')
  })

  it('marks unknown models unpriced, never free, and lists them', async () => {
    const report = await run([
      JSON.stringify(
        makeLlmCallInput({ model: 'gpt-9-ultra', input_tokens: 1000, output_tokens: 10 }),
      ),
      JSON.stringify(makeLlmCallInput({ model: 'gpt-9-ultra' })),
    ])
    expect(report.events.unpriced).toBe(2)
    expect(report.cost_usd).toBe('0')
    expect(report.unpriced_models).toHaveLength(1)
    expect(report.unpriced_models[0]).toMatchObject({ model: 'gpt-9-ultra', calls: 2 })
    expect(report.unpriced_models[0]!.reason).toMatch(/no price for "gpt-9-ultra"/)
    expect(report.by_model['gpt-9-ultra']).toMatchObject({ calls: 2, unpriced_calls: 2 })
  })

  it('counts an event older than the watermark minus the allowed lateness as late', async () => {
    const at = (iso: string) => JSON.stringify(makeLlmCallInput({ occurred_at: iso }))
    const report = await run([
      at('2026-03-02T10:10:00Z'),
      at('2026-03-02T10:09:00Z'), // 1 minute behind: within the 2-minute lateness
      at('2026-03-02T10:05:00Z'), // 5 minutes behind: late
    ])
    expect(report.events).toMatchObject({ accepted: 3, late: 1 })
    expect(report.first_event_at).toBe('2026-03-02T10:05:00.000Z')
    expect(report.last_event_at).toBe('2026-03-02T10:10:00.000Z')
  })
})

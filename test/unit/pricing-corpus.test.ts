import { describe, expect, it } from 'vitest'
import { formatUsd } from '../../platform/money.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'
import { CORPUS, expectedFemtos, SELF_HOSTED } from '../support/pricing-corpus.ts'

/** The corpus (test/support/pricing-corpus.ts) priced by the pricer, each case alone. */

const INPUT = 123_457
const OUTPUT = 4_321

describe('a corpus of real model ids, priced as their providers bill them', async () => {
  const { pricer } = await testPricing()
  const outcomes = CORPUS.map((testCase) => {
    const call = makeLlmCall({
      model: testCase.model,
      provider: testCase.provider,
      occurred_at: testCase.at ?? '2026-11-01T12:00:00Z',
      input_tokens: INPUT,
      output_tokens: OUTPUT,
    })
    const expected = formatUsd(expectedFemtos(testCase, INPUT, OUTPUT))
    const result = pricer.price(call)
    const actual =
      result.status === 'priced' ? formatUsd(result.cost.total) : `unpriced: ${result.reason}`
    return { ...testCase, expected, actual, right: actual === expected }
  })

  it('holds at least 150 ids in the forms services send', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(150)
    expect(new Set(CORPUS.map((x) => `${x.provider ?? ''}|${x.model}|${x.at ?? ''}`)).size).toBe(
      CORPUS.length,
    )
  })

  it('prices at least 98 % of them exactly right', () => {
    const wrong = outcomes.filter((o) => !o.right)
    // Listed, so a failure says which ids and what they got.
    expect
      .soft(
        wrong.map(
          (o) => `${o.provider ?? '-'} ${o.model}: expected ${o.expected}, got ${o.actual}`,
        ),
      )
      .toEqual([])
    expect(outcomes.filter((o) => o.right).length / outcomes.length).toBeGreaterThanOrEqual(0.98)
  })

  it('prices none of them at $0 unless it is self-hosted', () => {
    const free = outcomes.filter((o) => o.actual === '0' && !SELF_HOSTED.has(o.provider ?? ''))
    expect(free).toEqual([])
  })
})

import { describe, expect, it } from 'vitest'
import { parseUsd } from '../../platform/money.ts'
import type { Pricer } from '../../processors/pricing/pricer.ts'
import { reprice, type AuditedCall } from '../../processors/pricing/reprice.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'

/** A pricer that prices every call at one fixed cost, under a given version. */
function fixedPricer(usd: string, version: string): Pricer {
  const total = parseUsd(usd)
  return {
    catalogVersion: version,
    price: () => ({
      status: 'priced',
      entry: { id: 'm', source: 'user', sourceVersion: version, periods: [] },
      pricedModelId: 'm',
      why: 'test',
      priceVersion: `${version}:m@always`,
      cost: { input: total, cacheRead: 0n, cacheWrite: 0n, output: 0n, reasoning: 0n, total },
    }),
  }
}

describe('reprice', () => {
  const call = makeLlmCall()
  const options = (pricer: Pricer) => ({ pricer, actor: 'test', now: 0 })

  it('adjusts an unpriced call and a changed price, and leaves an unchanged one alone', () => {
    const summary = reprice(
      [
        { call, unpricedReason: 'unknown model' },
        { call: makeLlmCall(), costUsd: '3', priceVersion: 'a:m@always' },
        { call: makeLlmCall(), costUsd: '2', priceVersion: 'b:m@always' },
      ],
      options(fixedPricer('2', 'b')),
    )
    expect(summary).toMatchObject({ examined: 3, adjusted: 2, newlyPriced: 1, deltaUsd: '1' })
    expect(summary.adjustments.map((a) => a.cost_delta_usd)).toEqual(['2', '-1'])
  })

  it('gives a price that changes back and forth (A, B, A, B) a new adjustment id each time', () => {
    let audited: AuditedCall = { call, costUsd: '1', priceVersion: 'a:m@always' }
    const ids: string[] = []
    for (const [usd, version] of [
      ['2', 'b'],
      ['1', 'a'],
      ['2', 'b'],
    ] as const) {
      const [adjustment] = reprice([audited], options(fixedPricer(usd, version))).adjustments
      ids.push(adjustment!.adjustment_id)
      audited = {
        call,
        costUsd: adjustment!.cost_usd,
        priceVersion: adjustment!.price_version,
        lastAdjustmentId: adjustment!.adjustment_id,
      }
    }
    expect(new Set(ids).size).toBe(3)
    // The same repricing again gives the same id, so it is not appended twice.
    const again = reprice(
      [{ call, costUsd: '1', priceVersion: 'a:m@always' }],
      options(fixedPricer('2', 'b')),
    )
    expect(again.adjustments[0]!.adjustment_id).toBe(ids[0])
  })
})

import { formatScaled } from '../../platform/money.ts'
import { periodAt, periodLabel, type TieredRate, type TokenRates } from './price-entry.ts'
import type { PriceResolver } from './price-resolver.ts'

/**
 * Why a model costs what it costs: the entry that prices it, its source and version, the rule
 * that matched, and the rates in force at a time. What `spendguard pricing` prints.
 */

export interface RateView {
  /** USD per 1M tokens. */
  usd_per_million: string
  /** Above these input tokens, the whole call at this rate. */
  tiers?: Array<{ above_input_tokens: number; usd_per_million: string }>
}

export type PriceExplanation =
  | {
      status: 'priced'
      model: string
      provider: string | null
      at: string
      entry: string
      source: string
      source_version: string
      why: string
      period: string
      rates: Record<
        'input' | 'output' | 'cache_read' | 'cache_write' | 'cache_write_1h' | 'reasoning',
        RateView
      >
      /** Fractions of these rates billed in other modes (batch, flex, priority). */
      multipliers: Record<string, string>
      comment?: string
    }
  | { status: 'unpriced'; model: string; provider: string | null; at: string; reason: string }

const usd = (nanos: bigint) => formatScaled(nanos, 9)

function view(rate: TieredRate): RateView {
  return {
    usd_per_million: usd(rate.base),
    ...(rate.tiers.length > 0
      ? {
          tiers: rate.tiers.map((tier) => ({
            above_input_tokens: tier.above,
            usd_per_million: usd(tier.rate),
          })),
        }
      : {}),
  }
}

function views(rates: TokenRates): Extract<PriceExplanation, { status: 'priced' }>['rates'] {
  return {
    input: view(rates.input),
    output: view(rates.output),
    cache_read: view(rates.cacheRead),
    cache_write: view(rates.cacheWrite),
    cache_write_1h: rates.cacheWrite1h
      ? view(rates.cacheWrite1h)
      : { usd_per_million: 'not priced (calls with 1-hour writes are unpriced)' },
    reasoning: view(rates.reasoning),
  }
}

export function explainPrice(
  resolver: PriceResolver,
  query: { model: string; provider?: string; atMs: number },
): PriceExplanation {
  const base = {
    model: query.model,
    provider: query.provider ?? null,
    at: new Date(query.atMs).toISOString(),
  }
  const resolution = resolver.resolve(query.provider, query.model)
  if (resolution.status === 'missing')
    return { status: 'unpriced', ...base, reason: resolution.reason }
  const { entry } = resolution
  const period = periodAt(entry, query.atMs)
  if (!period) {
    return {
      status: 'unpriced',
      ...base,
      reason: `no price of ${entry.id} in effect at ${base.at}`,
    }
  }
  return {
    status: 'priced',
    ...base,
    provider: resolution.provider ?? entry.provider ?? null,
    entry: entry.id,
    source: entry.source,
    source_version: entry.sourceVersion,
    why: resolution.why,
    period: periodLabel(period.when),
    rates: views(period.rates),
    multipliers: {
      ...entry.multipliers,
      ...Object.fromEntries(Object.keys(period.modes ?? {}).map((m) => [m, 'own rates'])),
    },
    ...(entry.comment ? { comment: entry.comment } : {}),
  }
}

import { numberToDecimalString, parseScaled } from '../../platform/money.ts'

/**
 * What a price source resolves a model to, whatever its origin (the curated genai-prices data,
 * SpendGuard's own entries, a user's catalog). Rates are integer nano-USD per 1M tokens, the
 * same number as femto-USD per token, so tokens x rate is an exact femto-USD cost.
 */

/** A rate that may rise with the size of the request (long-context tiers). */
export interface TieredRate {
  base: bigint
  /**
   * Ascending thresholds on the call's input_tokens: above `above` input tokens the whole kind
   * is billed at `rate` (how Anthropic and Google bill long context).
   */
  tiers: ReadonlyArray<{ above: number; rate: bigint }>
}

export interface TokenRates {
  /** Uncached input. */
  input: TieredRate
  output: TieredRate
  cacheRead: TieredRate
  /** 5-minute (default) cache writes. */
  cacheWrite: TieredRate
  /** 1-hour cache writes; absent when the source has no such price (such calls are unpriced). */
  cacheWrite1h?: TieredRate
  reasoning: TieredRate
}

/** When a period's rates apply. */
export type PeriodWhen =
  /** No condition: the only price, or the original one before dated changes (`label` says until when). */
  | { kind: 'always'; label?: string }
  /** From a UTC date on, until a later dated period starts. */
  | { kind: 'from'; at: number; date: string }
  /** Within a window of the UTC day, seconds since midnight; may wrap past midnight. */
  | { kind: 'time-of-day'; start: number; end: number; label: string }

export interface PricePeriod {
  when: PeriodWhen
  rates: TokenRates
  /** Rates of billing modes priced on their own (`batch`, `flex`, `priority`). */
  modes?: Readonly<Record<string, TokenRates>>
}

export type SourceName = 'user' | 'spendguard' | 'genai-prices'

export interface PriceEntry {
  /** The entry's own id in its source (`o3`, `claude-sonnet-4-0`). */
  id: string
  /** Provider id the entry belongs to, when the source says. */
  provider?: string
  source: SourceName
  /** Version of the source's data (`genai-prices@0.1.8`, a catalog version or content hash). */
  sourceVersion: string
  /**
   * In source order; the price at a time is found as genai-prices defines it: the last
   * period whose condition holds, else the first.
   */
  periods: readonly PricePeriod[]
  /** Fractions of the realtime rates for batch and service tiers, as decimal strings. */
  multipliers?: Readonly<Record<string, string>>
  /** Free-text notes of the source (why, tier remarks). */
  comment?: string
}

export const flat = (base: bigint): TieredRate => ({ base, tiers: [] })

/** A tiered rate times `numerator` / `denominator`, base and tiers; undefined when not exact. */
export function scaleRate(
  rate: TieredRate,
  numerator: bigint,
  denominator: bigint,
): TieredRate | undefined {
  const scale = (value: bigint) =>
    (value * numerator) % denominator === 0n ? (value * numerator) / denominator : undefined
  const base = scale(rate.base)
  const tiers = rate.tiers.map((tier) => ({ above: tier.above, rate: scale(tier.rate) }))
  if (base === undefined || tiers.some((tier) => tier.rate === undefined)) return undefined
  return { base, tiers: tiers.map((tier) => ({ above: tier.above, rate: tier.rate! })) }
}

/** The rate of a tiered rate for a call with `inputTokens` of input. */
export function rateFor(rate: TieredRate, inputTokens: number): bigint {
  let current = rate.base
  for (const tier of rate.tiers) if (inputTokens > tier.above) current = tier.rate
  return current
}

/**
 * USD per 1M tokens given as a JSON number (how curated data and public lists carry it) to
 * exact nano-USD per 1M tokens. Binary noise past 12 significant digits is dropped (0.30000000000000004
 * is 0.3); a rate still finer than a nano-USD per 1M tokens is refused (undefined).
 */
export function nanosPerMillion(usdPerMillion: number): bigint | undefined {
  if (!Number.isFinite(usdPerMillion) || usdPerMillion < 0) return undefined
  const cleaned = Number(usdPerMillion.toPrecision(12))
  try {
    return parseScaled(numberToDecimalString(cleaned), 9)
  } catch {
    return undefined
  }
}

/** Picks the period in force at `atMs` (event time). */
export function periodAt(entry: PriceEntry, atMs: number): PricePeriod | undefined {
  const { periods } = entry
  for (let i = periods.length - 1; i >= 0; i--) {
    const period = periods[i]!
    const when = period.when
    if (when.kind === 'always') return period
    if (when.kind === 'from' && atMs >= when.at) return period
    if (when.kind === 'time-of-day') {
      const day = new Date(atMs)
      const second =
        day.getUTCHours() * 3600 +
        day.getUTCMinutes() * 60 +
        day.getUTCSeconds() +
        day.getUTCMilliseconds() / 1000
      const inside =
        when.end < when.start
          ? second >= when.start || second < when.end
          : second >= when.start && second < when.end
      if (inside) return period
    }
  }
  // Before the first dated change: the first period (genai-prices lists the original price first).
  const first = periods[0]
  if (first && first.when.kind === 'from' && atMs < first.when.at) return undefined
  return first
}

/** A label of the period for the audit's price version. */
export function periodLabel(when: PeriodWhen): string {
  if (when.kind === 'from') return when.date
  if (when.kind === 'time-of-day') return when.label
  return when.label ?? 'always'
}

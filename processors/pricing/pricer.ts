import { parseScaled, type Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { periodAt, periodLabel, rateFor, type PriceEntry, type TokenRates } from './price-entry.ts'
import type { PriceResolver } from './price-resolver.ts'

/** Exact cost of one call, femto-USD per token kind. */
export interface CostBreakdown {
  /** Uncached input: input_tokens - cache_read_tokens - cache_write_tokens. */
  input: Femtos
  cacheRead: Femtos
  /** 5-minute and 1-hour cache writes together. */
  cacheWrite: Femtos
  /** Output other than reasoning. */
  output: Femtos
  reasoning: Femtos
  total: Femtos
}

export type PriceResult =
  | {
      status: 'priced'
      entry: PriceEntry
      /** Which id of the event was priced: response_model when the provider reported one. */
      pricedModelId: string
      /** Why this entry (layer, match rule, provider inference). */
      why: string
      /** `<source version>:<provider>/<entry>@<period>`, stored with every audit row. */
      priceVersion: string
      cost: CostBreakdown
    }
  | {
      status: 'unpriced'
      /** Why, in a few stable words (a metrics label); `reason` says it in full. */
      code: UnpricedCode
      /** Why: no entry, a provider the entry does not serve, no price in effect, a tier with no price. */
      reason: string
      pricedModelId: string
    }

/**
 * The kinds of unpriced call: no usage reported, a model no price source knows (or serves for
 * the call's provider), no price in effect at the event time, 1-hour cache writes without a
 * rate, a batch or service tier without a price (or whose multiplier gives no exact amount).
 */
export type UnpricedCode =
  'no_usage' | 'unknown_model' | 'no_price_at_time' | 'no_cache_write_1h_price' | 'no_tier_price'

/** The exact cost of a priced call; undefined for an unpriced one (never $0). */
export function pricedCost(price: PriceResult): Femtos | undefined {
  return price.status === 'priced' ? price.cost.total : undefined
}

export interface Pricer {
  /** The versions of the price sources, e.g. `user-1a2b3c+spendguard-2026-11+genai-prices@0.1.8`. */
  readonly catalogVersion: string
  price(call: LlmCall): PriceResult
}

const MULTIPLIER_DECIMALS = 6
const MULTIPLIER_SCALE = 10n ** BigInt(MULTIPLIER_DECIMALS)

/** Exact femto-USD cost of a call's tokens at the given rates (tiers chosen by input size). */
export function costOf(call: LlmCall, rates: TokenRates): CostBreakdown {
  const size = call.input_tokens
  const writes1h = Math.min(call.cache_write_1h_tokens ?? 0, call.cache_write_tokens)
  const uncached = BigInt(call.input_tokens - call.cache_read_tokens - call.cache_write_tokens)
  const input = uncached * rateFor(rates.input, size)
  const cacheRead = BigInt(call.cache_read_tokens) * rateFor(rates.cacheRead, size)
  const cacheWrite =
    BigInt(call.cache_write_tokens - writes1h) * rateFor(rates.cacheWrite, size) +
    (writes1h > 0 && rates.cacheWrite1h ? BigInt(writes1h) * rateFor(rates.cacheWrite1h, size) : 0n)
  const output = BigInt(call.output_tokens - call.reasoning_tokens) * rateFor(rates.output, size)
  const reasoning = BigInt(call.reasoning_tokens) * rateFor(rates.reasoning, size)
  return breakdown(input, cacheRead, cacheWrite, output, reasoning)
}

/** A breakdown from its parts and their sum. */
function breakdown(
  input: Femtos,
  cacheRead: Femtos,
  cacheWrite: Femtos,
  output: Femtos,
  reasoning: Femtos,
): CostBreakdown {
  return {
    input,
    cacheRead,
    cacheWrite,
    output,
    reasoning,
    total: input + cacheRead + cacheWrite + output + reasoning,
  }
}

/** Scales every part of a cost by an exact decimal fraction; undefined when not exact. */
function scaled(cost: CostBreakdown, fraction: string): CostBreakdown | undefined {
  const factor = parseScaled(fraction, MULTIPLIER_DECIMALS)
  const parts = [cost.input, cost.cacheRead, cost.cacheWrite, cost.output, cost.reasoning]
  if (parts.some((part) => (part * factor) % MULTIPLIER_SCALE !== 0n)) return undefined
  const [input, cacheRead, cacheWrite, output, reasoning] = parts.map(
    (part) => (part * factor) / MULTIPLIER_SCALE,
  ) as [bigint, bigint, bigint, bigint, bigint]
  return breakdown(input, cacheRead, cacheWrite, output, reasoning)
}

/** Names providers give their standard tier (OpenAI default/auto, Anthropic standard, Groq on_demand). */
const STANDARD_TIERS = new Set(['default', 'standard', 'auto', 'on_demand', 'on-demand'])

/** The billing mode of a call: `batch` for the batch endpoint, else its service tier. */
function billingMode(call: LlmCall): string | undefined {
  if (call.endpoint === 'batch') return 'batch'
  const tier = call.service_tier?.toLowerCase()
  return tier === undefined || STANDARD_TIERS.has(tier) ? undefined : tier
}

/**
 * Prices calls. The provider bills the model that answered, so `response_model` is tried
 * first and the requested `model` second. An unknown model, a provider an entry does not
 * serve, a time before any price, or a batch or service tier without a known price: the call
 * is unpriced with the reason, never priced as zero or at the wrong rate.
 */
export function createPricer(resolver: PriceResolver, catalogVersion: string): Pricer {
  return {
    catalogVersion,
    price(call) {
      if (!call.usage_reported) {
        return {
          status: 'unpriced',
          code: 'no_usage',
          pricedModelId: call.response_model ?? call.model,
          reason:
            'the provider reported no usage for this call: its token counts and cost are unknown, not zero',
        }
      }
      const candidates = call.response_model ? [call.response_model, call.model] : [call.model]
      const reasons: string[] = []
      for (const id of candidates) {
        const resolution = resolver.resolve(call.provider, id)
        if (resolution.status === 'missing') {
          reasons.push(resolution.reason)
          continue
        }
        const { entry } = resolution
        const period = periodAt(entry, call.occurred_at)
        if (!period) {
          return {
            status: 'unpriced',
            code: 'no_price_at_time',
            pricedModelId: id,
            reason: `no price of ${entry.id} in effect at ${new Date(call.occurred_at).toISOString()}`,
          }
        }
        const mode = billingMode(call)
        const modeRates = mode === undefined ? undefined : period.modes?.[mode]
        if ((call.cache_write_1h_tokens ?? 0) > 0 && !(modeRates ?? period.rates).cacheWrite1h) {
          return {
            status: 'unpriced',
            code: 'no_cache_write_1h_price',
            pricedModelId: id,
            reason: `${entry.id} (${entry.sourceVersion}) has no price for 1-hour cache writes, and this call made ${call.cache_write_1h_tokens}`,
          }
        }
        let cost = costOf(call, modeRates ?? period.rates)
        if (mode !== undefined && !modeRates) {
          const fraction = entry.multipliers?.[mode]
          const adjusted = fraction === undefined ? undefined : scaled(cost, fraction)
          if (!adjusted) {
            return {
              status: 'unpriced',
              code: 'no_tier_price',
              pricedModelId: id,
              reason:
                fraction === undefined
                  ? `no ${mode} price known for ${entry.id} (${entry.sourceVersion})`
                  : `${mode} price of ${entry.id} is not an exact amount for this call`,
            }
          }
          cost = adjusted
        }
        const provider = resolution.provider ?? entry.provider
        return {
          status: 'priced',
          entry,
          pricedModelId: id,
          why: resolution.why,
          priceVersion: `${entry.sourceVersion}:${provider ? `${provider}/` : ''}${entry.id}@${periodLabel(period.when)}${mode ? `+${mode}` : ''}`,
          cost,
        }
      }
      return {
        status: 'unpriced',
        code: 'unknown_model',
        pricedModelId: call.model,
        reason: [...new Set(reasons)].join('; '),
      }
    },
  }
}

import type { Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import type { CatalogModel, PriceCatalog, PricePeriod, Rates } from './price-catalog.ts'

/** Exact cost of one call, femto-USD per token kind. */
export interface CostBreakdown {
  /** Uncached input: input_tokens - cache_read_tokens - cache_write_tokens. */
  input: Femtos
  cacheRead: Femtos
  cacheWrite: Femtos
  /** Output other than reasoning. */
  output: Femtos
  reasoning: Femtos
  total: Femtos
}

export type PriceResult =
  | {
      status: 'priced'
      /** The catalog model that priced the call. */
      model: CatalogModel
      /** Which id of the event matched: response_model when the provider reported one. */
      pricedModelId: string
      matchedBy: 'exact' | 'prefix'
      /** `<catalog version>:<model id>@<effective_from>`, stored with every audit row. */
      priceVersion: string
      cost: CostBreakdown
    }
  | {
      status: 'unpriced'
      /**
       * Why: no catalog entry for the model, an entry limited to other providers, or no price
       * in effect at the event's time.
       */
      reason: string
      pricedModelId: string
    }

export interface Pricer {
  readonly catalogVersion: string
  price(call: LlmCall): PriceResult
}

function periodAt(model: CatalogModel, atMs: number): PricePeriod | undefined {
  let found: PricePeriod | undefined
  for (const period of model.periods) {
    if (period.effectiveFrom <= atMs) found = period
    else break
  }
  return found
}

/**
 * True when a catalog entry may price a call from this provider: the entry lists no providers,
 * the call names none, or the call's provider is one of the listed (any case).
 */
function servesProvider(model: CatalogModel, provider: string | undefined): boolean {
  if (!model.providers || provider === undefined) return true
  return model.providers.includes(provider.toLowerCase())
}

/** Exact femto-USD cost of a call's tokens at the given rates. */
export function costOf(call: LlmCall, rates: Rates): CostBreakdown {
  const uncached = BigInt(call.input_tokens - call.cache_read_tokens - call.cache_write_tokens)
  const input = uncached * rates.input
  const cacheRead = BigInt(call.cache_read_tokens) * rates.cacheRead
  const cacheWrite = BigInt(call.cache_write_tokens) * rates.cacheWrite
  const output = BigInt(call.output_tokens - call.reasoning_tokens) * rates.output
  const reasoning = BigInt(call.reasoning_tokens) * rates.reasoning
  return {
    input,
    cacheRead,
    cacheWrite,
    output,
    reasoning,
    total: input + cacheRead + cacheWrite + output + reasoning,
  }
}

/**
 * Prices calls against a catalog. The provider bills the model that answered, so the
 * `response_model` is tried first and the requested `model` second. An unknown model, or a
 * known one served by a provider its entry does not list, is reported as unpriced, never as
 * zero.
 */
export function createPricer(catalog: PriceCatalog): Pricer {
  return {
    catalogVersion: catalog.version,
    price(call) {
      const candidates = call.response_model ? [call.response_model, call.model] : [call.model]
      for (const id of candidates) {
        const match = catalog.resolve(id)
        if (!match) continue
        // Open-weight families ("llama", "mistral") are free only where we run them; the same
        // model from a paying host must not be priced at the self-hosted rate.
        if (!servesProvider(match.model, call.provider)) {
          return {
            status: 'unpriced',
            pricedModelId: id,
            reason: `${id} matches catalog entry ${match.model.id}, which does not price calls from provider ${call.provider}; it prices only ${match.model.providers?.join(', ')}`,
          }
        }
        const period = periodAt(match.model, call.occurred_at)
        if (!period) {
          return {
            status: 'unpriced',
            pricedModelId: id,
            reason: `no price for ${match.model.id} in effect at ${new Date(call.occurred_at).toISOString()}`,
          }
        }
        return {
          status: 'priced',
          model: match.model,
          pricedModelId: id,
          matchedBy: match.matchedBy,
          priceVersion: `${catalog.version}:${match.model.id}@${period.effectiveFromDate}`,
          cost: costOf(call, call.endpoint === 'batch' ? period.batch : period.realtime),
        }
      }
      return {
        status: 'unpriced',
        pricedModelId: call.model,
        reason: `model ${candidates.map((c) => `"${c}"`).join(' / ')} is not in price catalog ${catalog.version}`,
      }
    },
  }
}

import type { CuratedData, CuratedProvider } from './genai-prices-data.ts'
import { canonicalProvider, dashedDates, looksLikeBedrock, splitModelId } from './model-id.ts'
import type { PriceEntry } from './price-entry.ts'

/**
 * Resolves (provider, model id) to the price entry that bills it, through layers: the user's
 * catalog, then SpendGuard's own entries (corrections, legacy models, self-hosted), then the
 * curated data set. Results are cached per (provider, model), so the hot path pays a map
 * lookup. Time is not part of the key: the entry's periods are chosen per call.
 */

/** A source that knows models by id (SpendGuard's format, or the public JSON list). */
export interface EntryCatalog {
  /**
   * Finds the entry for a lower-cased model id, with how it matched: `exact` takes ids and
   * aliases only, `prefix` the longest id or alias that prefixes the model at a separator.
   */
  lookup(
    model: string,
    provider: string | undefined,
    mode: 'exact' | 'prefix',
    /** The id as sent, lower-cased, provider-looking prefix kept. */
    fullModel?: string,
  ): CatalogHit | CatalogRefusal | undefined
}

export interface CatalogHit {
  entry: PriceEntry
  /** `exact id`, `alias x`, `prefix x`. */
  rule: string
}

/** An entry matched but may not price this provider's calls. */
export interface CatalogRefusal {
  refused: string
}

export type Resolution =
  | {
      status: 'found'
      entry: PriceEntry
      /** The curated provider, or the provider the call named. */
      provider: string | undefined
      /** Why this entry: the layer, the match rule, the provider inference. */
      why: string
    }
  | { status: 'missing'; reason: string }

export interface ResolverOptions {
  user?: EntryCatalog
  own: EntryCatalog
  curated?: CuratedData
  /** Providers that run models on the operator's own hardware (lower-case). */
  selfHostedProviders: readonly string[]
  /**
   * The entry that prices a self-hosted call (zero, or a configured amortised rate), by the
   * model id as sent and without a provider-looking prefix (`openai/gpt-oss-120b` on vLLM).
   */
  selfHostedEntry: (fullModel: string, model: string) => PriceEntry
  cacheSize?: number
}

export interface PriceResolver {
  resolve(provider: string | undefined, modelId: string): Resolution
}

function findCuratedProvider(data: CuratedData, name: string): CuratedProvider | undefined {
  const canonical = canonicalProvider(name)
  return (
    data.providers.find((p) => p.id === canonical) ??
    data.providers.find(
      (p) => p.providerMatch?.(canonical) || p.providerMatch?.(name.toLowerCase()),
    )
  )
}

/** Open-weight families whose names look like a vendor's: served by many hosts, inferred by none. */
const OPEN_WEIGHT =
  /^(gpt-oss|llama|meta-llama|mistral-7b|mixtral|qwen|gemma|phi-|deepseek-r1-distill)/

function inferCuratedProvider(data: CuratedData, model: string): CuratedProvider | undefined {
  if (OPEN_WEIGHT.test(model)) return undefined
  if (looksLikeBedrock(model)) return data.providers.find((p) => p.id === 'aws')
  return data.providers.find((p) => p.modelMatch?.(model))
}

type Found = { entry: PriceEntry; via: string } | { unusable: string }

function foundIn(model: CuratedProvider['models'][number], via: string): Found {
  return model.entry
    ? { entry: model.entry, via }
    : {
        unusable: `its entry ${model.id} (${via}) cannot be used: ${model.unusable}`,
      }
}

function findModel(data: CuratedData, provider: CuratedProvider, model: string): Found | undefined {
  for (const candidate of new Set([model, dashedDates(model)])) {
    const own = provider.models.find((m) => m.matches(candidate))
    if (own) return foundIn(own, provider.id)
    for (const fallbackId of provider.fallbackProviders) {
      const fallback = data.providers.find((p) => p.id === fallbackId)
      const found = fallback?.models.find((m) => m.matches(candidate))
      if (found) return foundIn(found, `${provider.id}, priced as ${fallbackId}`)
    }
  }
  return undefined
}

export function createPriceResolver(options: ResolverOptions): PriceResolver {
  // Provider, then model id: no key string is built per call. An absent provider is ''.
  const cache = new Map<string, Map<string, Resolution>>()
  let cached = 0
  const cacheSize = options.cacheSize ?? 50_000
  const selfHosted = new Set(options.selfHostedProviders.map((p) => p.toLowerCase()))

  function resolveUncached(providerName: string | undefined, modelId: string): Resolution {
    const { model, prefixProvider } = splitModelId(modelId)
    const named = providerName?.trim().toLowerCase() || undefined
    const provider = named ? canonicalProvider(named) : prefixProvider
    const refusals: string[] = []
    const fullModel = modelId.trim().toLowerCase()
    const layers = [
      ['your catalog', options.user],
      ["SpendGuard's own entries", options.own],
    ] as const
    // Exact ids and aliases of the catalogs override the curated data; their prefixes only
    // price what the curated data does not know, so a sibling model (gpt-4o-mini beside
    // gpt-4o) is never absorbed by a shorter id.
    const fromCatalogs = (
      mode: 'exact' | 'prefix',
      which: ReadonlyArray<(typeof layers)[number]> = layers,
    ): Resolution | undefined => {
      for (const [layer, catalog] of which) {
        const hit = catalog?.lookup(model, provider, mode, fullModel)
        if (!hit) continue
        if ('refused' in hit) {
          refusals.push(hit.refused)
          continue
        }
        return { status: 'found', entry: hit.entry, provider, why: `${layer}: ${hit.rule}` }
      }
      return undefined
    }
    // Your catalog first, even for a self-hosted provider: it may price your own models.
    const yours = fromCatalogs('exact', [layers[0]])
    if (yours) return yours
    if (named && selfHosted.has(named)) {
      return {
        status: 'found',
        entry: options.selfHostedEntry(modelId.trim().toLowerCase(), model),
        provider: named,
        why: `provider "${named}" is configured as self-hosted (pricing.selfHosted.providers)`,
      }
    }
    const exact = fromCatalogs('exact', [layers[1]])
    if (exact) return exact
    const curated = fromCurated(model, fullModel, provider, refusals)
    if (curated) return curated
    const prefix = fromCatalogs('prefix')
    if (prefix) return prefix
    return {
      status: 'missing',
      reason: refusals.length > 0 ? refusals.join('; ') : `"${model}" is in no price source`,
    }
  }

  function fromCurated(
    model: string,
    fullModel: string,
    provider: string | undefined,
    refusals: string[],
  ): Resolution | undefined {
    const data = options.curated
    if (data) {
      const curatedProvider = provider
        ? findCuratedProvider(data, provider)
        : inferCuratedProvider(data, model)
      if (curatedProvider) {
        // A named provider's own ids may carry a vendor path (OpenRouter's
        // `anthropic/claude-sonnet-4`): try the id as sent before the one without its prefix.
        const found =
          (fullModel !== model ? findModel(data, curatedProvider, fullModel) : undefined) ??
          findModel(data, curatedProvider, model)
        if (found && 'unusable' in found) {
          refusals.push(
            `${data.version} knows "${model}" from ${curatedProvider.id}, but ${found.unusable}`,
          )
          return undefined
        }
        if (found) {
          const how = provider
            ? `provider ${provider}`
            : `provider ${curatedProvider.id} inferred from the model id`
          return {
            status: 'found',
            entry: found.entry,
            provider: curatedProvider.id,
            why: `${data.version} ${found.via === curatedProvider.id ? '' : `(${found.via}) `}${how}, entry ${found.entry.id}`,
          }
        }
        refusals.push(`${data.version} has no price for "${model}" from ${curatedProvider.id}`)
      } else if (provider) {
        refusals.push(`${data.version} does not know provider "${provider}"`)
      } else {
        refusals.push(
          `no provider given, and none could be inferred from "${model}": set the event's provider (open-weight models are priced by who serves them; list your own servers in pricing.selfHosted.providers)`,
        )
      }
    }
    return undefined
  }

  return {
    resolve(providerName, modelId) {
      let byModel = cache.get(providerName ?? '')
      const known = byModel?.get(modelId)
      if (known) return known
      const resolution = resolveUncached(providerName, modelId)
      if (cached >= cacheSize) {
        cache.clear()
        cached = 0
        byModel = undefined
      }
      if (!byModel) {
        byModel = new Map()
        cache.set(providerName ?? '', byModel)
      }
      byModel.set(modelId, resolution)
      cached++
      return resolution
    },
  }
}

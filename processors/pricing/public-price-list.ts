import { canonicalProvider, PROVIDER_ALIASES } from './model-id.ts'
import {
  nanosPerMillion,
  scaleRate,
  type PriceEntry,
  type TieredRate,
  type TokenRates,
} from './price-entry.ts'
import type { EntryCatalog } from './price-resolver.ts'

/**
 * The widely used public JSON price list (an object from model id to an entry with
 * `input_cost_per_token`, `output_cost_per_token`, ... in USD per token) as a layer of the
 * price resolver. Everything a bill has is read: cache reads, 5-minute and 1-hour cache
 * writes, reasoning, batch prices, flex and priority tiers, prices above 200k input tokens.
 * Provider-prefixed keys (`mistral/mistral-large-latest`) price calls from that provider.
 * Every entry is either loaded or reported with the reason it was not.
 */

interface PublicEntry {
  [key: string]: unknown
}

export interface PriceListReport {
  loaded: number
  skipped: Array<{ id: string; reason: string }>
}

export interface PublicPriceList extends EntryCatalog {
  report: PriceListReport
}

export function isPublicPriceList(document: unknown): document is Record<string, PublicEntry> {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return false
  if ('models' in document && Array.isArray(document.models)) return false
  return Object.values(document).some(
    (entry) => typeof entry === 'object' && entry !== null && 'input_cost_per_token' in entry,
  )
}

/** A rate of the list, USD per token, as nano-USD per 1M tokens; `false` when unusable. */
function perToken(entry: PublicEntry, key: string): bigint | undefined | false {
  const value = entry[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number') return false
  return nanosPerMillion(Number((value * 1_000_000).toPrecision(12))) ?? false
}

class Unusable extends Error {}

function rate(entry: PublicEntry, key: string): bigint | undefined {
  const value = perToken(entry, key)
  if (value === false)
    throw new Unusable(`${key} is not a non-negative cost with at most 15 decimals`)
  return value
}

/**
 * A rate with the long-context tiers the list gives for it (`<key>_above_200k_tokens`,
 * `_above_128k_tokens`, ...). `suffix` names a billing mode (`_batches`, `_flex`, `_priority`).
 */
function tiered(entry: PublicEntry, key: string, suffix = ''): TieredRate | undefined {
  const base = rate(entry, `${key}${suffix}`)
  if (base === undefined) return undefined
  const tiers = Object.keys(entry)
    .map((name) => new RegExp(`^${key}_above_(\\d+)k_tokens${suffix}$`).exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ above: Number(match[1]) * 1000, rate: rate(entry, match[0])! }))
    .sort((a, b) => a.above - b.above)
  return { base, tiers }
}

/**
 * A rate the list gives without the long-context tiers its sibling has (a batch input price, a
 * 1-hour write price) takes the sibling's tiers in proportion, or the entry is refused when
 * that is not exact: a call above the threshold must not be billed at the short-context rate.
 */
function withTiersOf(rate: TieredRate, sibling: TieredRate, what: string): TieredRate {
  if (rate.tiers.length > 0 || sibling.tiers.length === 0) return rate
  const followed = scaleRate(sibling, rate.base, sibling.base)
  if (!followed) throw new Unusable(`${what} has no long-context tier, and none follows exactly`)
  return followed
}

function standardRates(entry: PublicEntry): TokenRates | undefined {
  const input = tiered(entry, 'input_cost_per_token')
  const output = tiered(entry, 'output_cost_per_token')
  if (!input || !output) return undefined
  const cacheWrite = tiered(entry, 'cache_creation_input_token_cost') ?? input
  const listedOneHour = tiered(entry, 'cache_creation_input_token_cost_above_1hr')
  const oneHour =
    listedOneHour &&
    withTiersOf(listedOneHour, cacheWrite, 'cache_creation_input_token_cost_above_1hr')
  return {
    input,
    output,
    cacheRead: tiered(entry, 'cache_read_input_token_cost') ?? input,
    cacheWrite,
    ...(oneHour ? { cacheWrite1h: oneHour } : {}),
    reasoning: tiered(entry, 'output_cost_per_reasoning_token') ?? output,
  }
}

/**
 * The rates of a billing mode the list prices (`_batches`, `_flex`, `_priority`). Cache rates
 * the mode does not list follow its input discount (batch input at half: cache reads at half),
 * or the mode is refused when that would not be exact.
 */
function modeRates(
  entry: PublicEntry,
  suffix: string,
  standard: TokenRates,
): TokenRates | undefined {
  const listedInput = tiered(entry, 'input_cost_per_token', suffix)
  const listedOutput = tiered(entry, 'output_cost_per_token', suffix)
  if (!listedInput || !listedOutput) return undefined
  const input = withTiersOf(listedInput, standard.input, `input_cost_per_token${suffix}`)
  const output = withTiersOf(listedOutput, standard.output, `output_cost_per_token${suffix}`)
  const follow = (key: string, base: TieredRate | undefined): TieredRate | undefined => {
    const listed = tiered(entry, key, suffix)
    if (listed) return listed
    if (!base) return undefined
    const scaled = scaleRate(base, input.base, standard.input.base)
    if (!scaled)
      throw new Unusable(
        `${key}${suffix} is not listed and does not follow exactly from the input discount`,
      )
    return scaled
  }
  const cacheWrite1h = follow('cache_creation_input_token_cost_above_1hr', standard.cacheWrite1h)
  return {
    input,
    output,
    cacheRead: follow('cache_read_input_token_cost', standard.cacheRead)!,
    cacheWrite: follow('cache_creation_input_token_cost', standard.cacheWrite)!,
    ...(cacheWrite1h ? { cacheWrite1h } : {}),
    reasoning: tiered(entry, 'output_cost_per_reasoning_token', suffix) ?? output,
  }
}

/** Provider spellings that mean `canonical`, for provider-prefixed keys. */
function spellingsOf(canonical: string): string[] {
  return [
    canonical,
    ...Object.entries(PROVIDER_ALIASES)
      .filter(([, target]) => target === canonical)
      .map(([alias]) => alias),
  ]
}

export function fromPublicPriceList(
  list: Record<string, PublicEntry>,
  version: string,
): PublicPriceList {
  const byKey = new Map<string, PriceEntry>()
  const report: PriceListReport = { loaded: 0, skipped: [] }
  for (const [id, entry] of Object.entries(list)) {
    if (id === 'sample_spec') continue
    if (typeof entry !== 'object' || entry === null) {
      report.skipped.push({ id, reason: 'not an object' })
      continue
    }
    try {
      const rates = standardRates(entry)
      if (!rates) {
        report.skipped.push({
          id,
          reason: `no per-token input and output cost (mode ${typeof entry.mode === 'string' ? entry.mode : 'unknown'}): not billed per token`,
        })
        continue
      }
      const modes: Record<string, TokenRates> = {}
      for (const [mode, suffix] of [
        ['batch', '_batches'],
        ['flex', '_flex'],
        ['priority', '_priority'],
      ] as const) {
        const ofMode = modeRates(entry, suffix, rates)
        if (ofMode) modes[mode] = ofMode
      }
      const key = id.toLowerCase()
      if (byKey.has(key)) {
        report.skipped.push({ id, reason: 'repeats an earlier id (ids are compared lower-cased)' })
        continue
      }
      byKey.set(key, {
        id,
        ...(typeof entry.litellm_provider === 'string' ? { provider: entry.litellm_provider } : {}),
        source: 'user',
        sourceVersion: version,
        periods: [
          {
            when: { kind: 'always' },
            rates,
            ...(Object.keys(modes).length > 0 ? { modes } : {}),
          },
        ],
      })
      report.loaded++
    } catch (error) {
      if (!(error instanceof Unusable)) throw error
      report.skipped.push({ id, reason: error.message })
    }
  }
  return {
    report,
    lookup(model, provider, mode, fullModel = model) {
      if (mode !== 'exact') return undefined
      // Keyed by provider (`openrouter/openai/gpt-4o`, `mistral/mistral-large`) first, with the
      // id as sent and without its provider-looking prefix; then the bare id, which prices only
      // its own provider's calls when the list names one.
      const ids = [...new Set([fullModel, model])]
      const keyed = provider
        ? spellingsOf(provider).flatMap((name) => ids.map((id) => `${name}/${id}`))
        : []
      for (const key of keyed) {
        const entry = byKey.get(key)
        if (entry) return { entry, rule: `price-list key "${entry.id}"` }
      }
      for (const id of ids) {
        const entry = byKey.get(id)
        if (!entry) continue
        const owner = entry.provider ? canonicalProvider(entry.provider) : undefined
        if (owner && provider !== undefined && owner !== provider) continue
        return { entry, rule: `price-list key "${entry.id}"` }
      }
      return undefined
    },
  }
}

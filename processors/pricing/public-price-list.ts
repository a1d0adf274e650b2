import { PROVIDER_ALIASES } from './model-id.ts'
import {
  flat,
  nanosPerMillion,
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

/** A rate with its 200k-token tier when the list gives one. */
function tiered(entry: PublicEntry, key: string, fallback: TieredRate): TieredRate {
  const base = rate(entry, key)
  const above = rate(entry, `${key}_above_200k_tokens`)
  if (base === undefined) return fallback
  return above === undefined ? flat(base) : { base, tiers: [{ above: 200_000, rate: above }] }
}

function ratesOf(entry: PublicEntry, suffix = ''): TokenRates | undefined {
  const input = rate(entry, `input_cost_per_token${suffix}`)
  const output = rate(entry, `output_cost_per_token${suffix}`)
  if (input === undefined || output === undefined) return undefined
  const inputRate = suffix ? flat(input) : tiered(entry, 'input_cost_per_token', flat(input))
  const outputRate = suffix ? flat(output) : tiered(entry, 'output_cost_per_token', flat(output))
  const cacheWrite = suffix
    ? inputRate
    : tiered(entry, 'cache_creation_input_token_cost', inputRate)
  const oneHour = suffix ? undefined : rate(entry, 'cache_creation_input_token_cost_above_1hr')
  return {
    input: inputRate,
    output: outputRate,
    cacheRead: suffix ? inputRate : tiered(entry, 'cache_read_input_token_cost', inputRate),
    cacheWrite,
    cacheWrite1h: oneHour === undefined ? cacheWrite : flat(oneHour),
    reasoning: suffix ? outputRate : tiered(entry, 'output_cost_per_reasoning_token', outputRate),
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
      const rates = ratesOf(entry)
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
        const modeRates = ratesOf(entry, suffix)
        if (modeRates) modes[mode] = modeRates
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
    lookup(model, provider, mode) {
      if (mode !== 'exact') return undefined
      const keys = [
        ...(provider ? spellingsOf(provider).map((name) => `${name}/${model}`) : []),
        model,
      ]
      for (const key of keys) {
        const entry = byKey.get(key)
        if (entry) return { entry, rule: `price-list key "${entry.id}"` }
      }
      return undefined
    },
  }
}

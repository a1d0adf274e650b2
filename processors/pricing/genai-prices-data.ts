import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { waitForUpdate } from '@pydantic/genai-prices'
import {
  flat,
  nanosPerMillion,
  scaleRate,
  type PriceEntry,
  type PricePeriod,
  type PeriodWhen,
  type TieredRate,
  type TokenRates,
} from './price-entry.ts'

/**
 * The curated price data of `@pydantic/genai-prices` (MIT): providers with match rules, models
 * with match rules, dated and time-of-day prices, long-context tiers. Only its data is used;
 * costs are computed by SpendGuard in exact integers. Upgrading is `npm update` plus a test
 * run; the package version is part of every price version it gives.
 */

/** A match rule of the data set, applied to a lower-cased id. */
export type MatchRule =
  | { equals: string }
  | { starts_with: string }
  | { ends_with: string }
  | { contains: string }
  | { regex: string }
  | { or: MatchRule[] }
  | { and: MatchRule[] }

interface DataModel {
  id: string
  match: MatchRule
  prices:
    | Record<string, unknown>
    | Array<{ constraint?: Record<string, string>; prices: Record<string, unknown> }>
  price_comments?: string
}

interface DataProvider {
  id: string
  provider_match?: MatchRule
  model_match?: MatchRule
  fallback_model_providers?: string[]
  models: DataModel[]
}

export interface CuratedProvider {
  id: string
  providerMatch?: (id: string) => boolean
  modelMatch?: (id: string) => boolean
  fallbackProviders: readonly string[]
  /**
   * In the data's order. A model whose prices could not be converted keeps its place with the
   * reason, so its ids are reported unpriced instead of falling through to another entry.
   */
  models: ReadonlyArray<
    | { entry: PriceEntry; matches: (id: string) => boolean }
    | { entry?: undefined; id: string; unusable: string; matches: (id: string) => boolean }
  >
}

export interface CuratedData {
  version: string
  providers: readonly CuratedProvider[]
  /** Models whose prices could not be represented exactly, with the reason. */
  skipped: ReadonlyArray<{ provider: string; model: string; reason: string }>
}

/** Compiles a match rule to a predicate over a lower-cased id. */
export function compileMatch(rule: MatchRule): (id: string) => boolean {
  if ('or' in rule) {
    const parts = rule.or.map(compileMatch)
    return (id) => parts.some((part) => part(id))
  }
  if ('and' in rule) {
    const parts = rule.and.map(compileMatch)
    return (id) => parts.every((part) => part(id))
  }
  if ('equals' in rule) {
    const value = rule.equals.toLowerCase()
    return (id) => id === value
  }
  if ('starts_with' in rule) {
    const value = rule.starts_with.toLowerCase()
    return (id) => id.startsWith(value)
  }
  if ('ends_with' in rule) {
    const value = rule.ends_with.toLowerCase()
    return (id) => id.endsWith(value)
  }
  if ('contains' in rule) {
    const value = rule.contains.toLowerCase()
    return (id) => id.includes(value)
  }
  const pattern = new RegExp(rule.regex)
  return (id) => pattern.test(id)
}

/** Thrown while converting one model: the model is skipped and reported, not priced wrongly. */
class Unrepresentable extends Error {}

function tiered(value: unknown, key: string): TieredRate | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') {
    const base = nanosPerMillion(value)
    if (base === undefined) throw new Unrepresentable(`${key} ${value} is not an exact rate`)
    return flat(base)
  }
  const { base, tiers } = value as { base: number; tiers: Array<{ start: number; price: number }> }
  const baseRate = nanosPerMillion(base)
  if (baseRate === undefined) throw new Unrepresentable(`${key} base ${base} is not an exact rate`)
  return {
    base: baseRate,
    tiers: [...tiers]
      .sort((a, b) => a.start - b.start)
      .map((tier) => {
        const rate = nanosPerMillion(tier.price)
        if (rate === undefined)
          throw new Unrepresentable(`${key} tier ${tier.start} is not an exact rate`)
        return { above: tier.start, rate }
      }),
  }
}

/**
 * Price keys this data set uses for text tokens; others (audio, images, searches) are not
 * billed by SpendGuard yet. A Claude model without a 1-hour cache write price gets Anthropic's
 * rule (2x input, on every host); any other model without one prices no 1-hour writes.
 */
function tokenRates(prices: Record<string, unknown>, modelId: string): TokenRates {
  const input = tiered(prices.input_mtok, 'input_mtok')
  const output = tiered(prices.output_mtok, 'output_mtok')
  if (!input || !output) throw new Unrepresentable('no input or output price per token')
  const cacheWrite = tiered(prices.cache_write_mtok, 'cache_write_mtok') ?? input
  return {
    input,
    output,
    cacheRead: tiered(prices.cache_read_mtok, 'cache_read_mtok') ?? input,
    cacheWrite,
    ...optional(
      'cacheWrite1h',
      tiered(prices.cache_write_1h_mtok, 'cache_write_1h_mtok') ??
        (/claude/.test(modelId.toLowerCase()) ? scaleRate(input, 2n, 1n) : undefined),
    ),
    reasoning: tiered(prices.output_reasoning_mtok, 'output_reasoning_mtok') ?? output,
  }
}

/** `16:30:00Z` -> seconds since UTC midnight. */
function secondsOfDay(text: string): number {
  const [h = '0', m = '0', s = '0'] = text.replace(/Z$/i, '').split(':')
  return Number(h) * 3600 + Number(m) * 60 + Number(s)
}

function periodWhen(constraint: Record<string, string> | undefined): PeriodWhen {
  if (!constraint) return { kind: 'always' }
  if (constraint.type === 'start_date' && constraint.start_date) {
    const date = constraint.start_date
    return { kind: 'from', at: Date.parse(`${date.slice(0, 10)}T00:00:00Z`), date }
  }
  if (constraint.type === 'time_of_date' && constraint.start_time && constraint.end_time) {
    return {
      kind: 'time-of-day',
      start: secondsOfDay(constraint.start_time),
      end: secondsOfDay(constraint.end_time),
      label: `${constraint.start_time.replace(/Z$/i, '')}-${constraint.end_time.replace(/Z$/i, '')}UTC`,
    }
  }
  throw new Unrepresentable(`unknown price constraint ${JSON.stringify(constraint)}`)
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

function periodsOf(model: DataModel): PricePeriod[] {
  if (!Array.isArray(model.prices))
    return [{ when: { kind: 'always' }, rates: tokenRates(model.prices, model.id) }]
  const periods = model.prices.map((period) => ({
    when: periodWhen(period.constraint),
    rates: tokenRates(period.prices, model.id),
  }))
  // The unconditioned original price is labelled by the first dated change that ended it.
  const firstChange = periods.find((p) => p.when.kind === 'from')?.when
  return periods.map((period) =>
    period.when.kind === 'always' && firstChange?.kind === 'from'
      ? { ...period, when: { kind: 'always', label: `until-${firstChange.date}` } }
      : period,
  )
}

/** The installed package's version: part of every price version from this data. */
function packageVersion(): string {
  // The package exports no package.json; it sits two levels above its entry point.
  const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices')
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string
  }
  return pkg.version
}

/** Converts the data set; models whose text-token prices cannot be represented are reported. */
export function convertCuratedData(
  providers: readonly DataProvider[],
  version: string,
): CuratedData {
  const skipped: Array<{ provider: string; model: string; reason: string }> = []
  const converted = providers.map((provider): CuratedProvider => ({
    id: provider.id,
    ...(provider.provider_match ? { providerMatch: compileMatch(provider.provider_match) } : {}),
    ...(provider.model_match ? { modelMatch: compileMatch(provider.model_match) } : {}),
    fallbackProviders: provider.fallback_model_providers ?? [],
    models: provider.models.flatMap((model): CuratedProvider['models'][number][] => {
      try {
        const entry: PriceEntry = {
          id: model.id,
          provider: provider.id,
          source: 'genai-prices',
          sourceVersion: version,
          periods: periodsOf(model),
          ...(model.price_comments ? { comment: model.price_comments } : {}),
        }
        return [{ entry, matches: compileMatch(model.match) }]
      } catch (error) {
        if (!(error instanceof Unrepresentable)) throw error
        skipped.push({ provider: provider.id, model: model.id, reason: error.message })
        return [{ id: model.id, unusable: error.message, matches: compileMatch(model.match) }]
      }
    }),
  }))
  return { version, providers: converted, skipped }
}

/** Loads the installed package's data. */
export async function loadCuratedData(): Promise<CuratedData> {
  const providers = (await waitForUpdate()) as unknown as DataProvider[] | null
  if (!providers) throw new Error('@pydantic/genai-prices returned no provider data')
  return convertCuratedData(providers, `genai-prices@${packageVersion()}`)
}

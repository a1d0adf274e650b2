import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { z } from 'zod'
import { PricingError } from '../../platform/errors.ts'
import { parseScaled } from '../../platform/money.ts'
import { toFieldIssues } from '../../schemas/validate.ts'

/**
 * The versioned price catalog. Rates are held as integer nano-USD per million tokens, which
 * is the same number as femto-USD per token: tokens x rate is an exact femto-USD cost.
 */

/** Rates of one price period, femto-USD per token. */
export interface Rates {
  input: bigint
  output: bigint
  cacheRead: bigint
  cacheWrite: bigint
  /** Undefined when the catalog gives no 1-hour write price. */
  cacheWrite1h?: bigint
  reasoning: bigint
}

export interface CatalogPeriod {
  /** Epoch ms (UTC midnight) from which these rates apply. */
  effectiveFrom: number
  /** The `effective_from` date as written in the catalog, for the audit's price version. */
  effectiveFromDate: string
  realtime: Rates
  batch: Rates
  /** Long-context tiers: above `above` input tokens, `rates` bill the whole call. */
  tiers: Array<{ above: number; rates: Rates }>
}

export interface CatalogModel {
  id: string
  provider?: string
  /**
   * Lower-cased providers this entry may price. Undefined means any provider; when set, a call
   * from another provider is left unpriced (a call that names no provider still matches).
   */
  providers?: readonly string[]
  /** Marks a premium model, for the model-policy rules. */
  premium: boolean
  aliases: string[]
  /** Fraction taken off every rate on the batch endpoint, e.g. "0.5". */
  batchDiscount: string
  /** Sorted by effectiveFrom, oldest first. */
  periods: CatalogPeriod[]
}

export interface PriceCatalog {
  version: string
  models: readonly CatalogModel[]
  /** Provider id -> billing mode -> fraction of the standard price. */
  providerMultipliers: Readonly<Record<string, Readonly<Record<string, string>>>>
  /**
   * Finds the catalog model for a model id: exact id or alias first, then the longest id or
   * alias that is a prefix of it ending at a separator (`claude-sonnet-4-20250514` ->
   * `claude-sonnet-4`). Undefined when nothing matches.
   */
  resolve(modelId: string): { model: CatalogModel; matchedBy: 'exact' | 'prefix' } | undefined
}

const usdPerMillion = z
  .string()
  .regex(/^\d+(\.\d{1,9})?$/, 'must be a decimal USD string per 1M tokens with at most 9 decimals')

const tierSchema = z.object({
  /** Above this many input tokens the whole call is billed at this tier's rates. */
  above_input_tokens: z.int().positive(),
  input: usdPerMillion,
  output: usdPerMillion,
  cache_read: usdPerMillion.optional(),
  cache_write: usdPerMillion.optional(),
  cache_write_1h: usdPerMillion.optional(),
})

const periodSchema = z.object({
  effective_from: z.iso.date({ message: 'must be a YYYY-MM-DD date' }),
  input: usdPerMillion,
  output: usdPerMillion,
  cache_read: usdPerMillion.optional(),
  /** 5-minute cache writes; 1-hour writes when cache_write_1h is not given. */
  cache_write: usdPerMillion.optional(),
  cache_write_1h: usdPerMillion.optional(),
  reasoning: usdPerMillion.optional(),
  /** Long-context tiers, ascending. */
  tiers: z.array(tierSchema).default([]),
})

const modelSchema = z.object({
  id: z.string().min(1),
  provider: z.string().optional(),
  providers: z
    .array(z.string().min(1))
    .min(1, 'list at least one provider, or leave it out')
    .optional(),
  premium: z.boolean().default(false),
  /** Replaced by the configuration's pricing.selfHosted; refused so it is not silently ignored. */
  self_hosted: z
    .never({
      error:
        'is no longer read: list the providers that run on your own hardware in pricing.selfHosted.providers of the configuration',
    })
    .optional(),
  aliases: z.array(z.string().min(1)).default([]),
  batch_discount: z
    .string()
    .regex(
      /^(0(\.\d{1,6})?|1(\.0{1,6})?)$/,
      'must be a fraction between 0 and 1 with at most 6 decimals, e.g. "0.5"',
    )
    .default('0'),
  prices: z
    .array(periodSchema)
    .min(1, 'needs at least one price period')
    .superRefine((periods, ctx) => {
      // Two periods from the same day would make the price at that day depend on file order.
      const seen = new Set<string>()
      periods.forEach((period, index) => {
        if (seen.has(period.effective_from)) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'effective_from'],
            message: `${period.effective_from} is the start of another price period of this model`,
          })
        }
        seen.add(period.effective_from)
      })
    }),
})

const fraction = z
  .string()
  .regex(/^\d+(\.\d{1,6})?$/, 'must be a decimal fraction with at most 6 decimals, e.g. "0.5"')

export const catalogFileSchema = z.object({
  version: z.string().min(1),
  description: z.string().optional(),
  models: z.array(modelSchema).default([]),
  /**
   * Per provider, the fraction of the standard price billed in a mode: `batch` (the batch
   * endpoint), `flex`, `priority` (service tiers). Applied to curated prices, which have none.
   */
  provider_multipliers: z.record(z.string(), z.record(z.string(), fraction)).default({}),
})

export type CatalogFile = z.input<typeof catalogFileSchema>

const SEPARATORS = new Set(['-', '_', ':', '@', '.', '/'])
const DISCOUNT_DECIMALS = 6
const DIGIT = /\d/

/**
 * True when a prefix may end before `id[at]`. A dot between digits is part of a version
 * number, not a suffix: `gpt-4.5-preview` is not a `gpt-4`, while `gpt-4-0613` is.
 */
function isBoundary(id: string, at: number): boolean {
  const char = id[at]!
  if (!SEPARATORS.has(char)) return false
  return !(char === '.' && DIGIT.test(id[at - 1] ?? '') && DIGIT.test(id[at + 1] ?? ''))
}

function rate(usd: string): bigint {
  return parseScaled(usd, 9)
}

function discounted(rates: Rates, discount: bigint, path: string): Rates {
  const keep = 10n ** BigInt(DISCOUNT_DECIMALS) - discount
  const scale = 10n ** BigInt(DISCOUNT_DECIMALS)
  const apply = (value: bigint, field: string): bigint => {
    if ((value * keep) % scale !== 0n) {
      throw new PricingError(
        `${path}: batch rate for ${field} is not a whole nano-USD per 1M tokens; give a discount that divides it exactly`,
      )
    }
    return (value * keep) / scale
  }
  return {
    input: apply(rates.input, 'input'),
    output: apply(rates.output, 'output'),
    cacheRead: apply(rates.cacheRead, 'cache_read'),
    cacheWrite: apply(rates.cacheWrite, 'cache_write'),
    ...(rates.cacheWrite1h === undefined
      ? {}
      : { cacheWrite1h: apply(rates.cacheWrite1h, 'cache_write_1h') }),
    reasoning: apply(rates.reasoning, 'reasoning'),
  }
}

function ratesOf(period: {
  input: string
  output: string
  cache_read?: string | undefined
  cache_write?: string | undefined
  cache_write_1h?: string | undefined
  reasoning?: string | undefined
}): Rates {
  const input = rate(period.input)
  const output = rate(period.output)
  const cacheWrite = period.cache_write === undefined ? input : rate(period.cache_write)
  return {
    input,
    output,
    cacheRead: period.cache_read === undefined ? input : rate(period.cache_read),
    cacheWrite,
    ...(period.cache_write_1h === undefined ? {} : { cacheWrite1h: rate(period.cache_write_1h) }),
    reasoning: period.reasoning === undefined ? output : rate(period.reasoning),
  }
}

/** Validates a catalog document (this project's format) and builds the lookup structure. */
export function parseCatalog(document: unknown): PriceCatalog {
  const parsed = catalogFileSchema.safeParse(document)
  if (!parsed.success) {
    const detail = toFieldIssues(parsed.error)
      .map((issue) => `${issue.path}: ${issue.message}`)
      .join('; ')
    throw new PricingError(`invalid price catalog: ${detail}`)
  }
  const seen = new Map<string, string>()
  const models = parsed.data.models.map((entry, index): CatalogModel => {
    const names = [entry.id, ...entry.aliases].map((name) => name.toLowerCase())
    for (const name of names) {
      const owner = seen.get(name)
      if (owner)
        throw new PricingError(
          `invalid price catalog: models.${index}: "${name}" is already used by ${owner}`,
        )
      seen.set(name, entry.id)
    }
    const discount = parseScaled(entry.batch_discount, DISCOUNT_DECIMALS)
    const periods = entry.prices
      .map((period, p): CatalogPeriod => {
        const realtime = ratesOf(period)
        return {
          effectiveFrom: Date.parse(`${period.effective_from}T00:00:00Z`),
          effectiveFromDate: period.effective_from,
          realtime,
          batch: discounted(realtime, discount, `models.${index}.prices.${p}`),
          tiers: [...period.tiers]
            .sort((a, b) => a.above_input_tokens - b.above_input_tokens)
            .map((tier) => ({ above: tier.above_input_tokens, rates: ratesOf({ ...tier }) })),
        }
      })
      .sort((a, b) => a.effectiveFrom - b.effectiveFrom)
    return {
      id: entry.id,
      provider: entry.provider,
      providers: entry.providers?.map((name) => name.toLowerCase()),
      premium: entry.premium,
      aliases: entry.aliases,
      batchDiscount: entry.batch_discount,
      periods,
    }
  })
  return buildCatalog(parsed.data.version, models, parsed.data.provider_multipliers)
}

function buildCatalog(
  version: string,
  models: CatalogModel[],
  providerMultipliers: Record<string, Record<string, string>>,
): PriceCatalog {
  const byName = new Map<string, CatalogModel>()
  for (const model of models) {
    for (const name of [model.id, ...model.aliases]) byName.set(name.toLowerCase(), model)
  }
  const cache = new Map<string, { model: CatalogModel; matchedBy: 'exact' | 'prefix' } | null>()

  function lookup(id: string): { model: CatalogModel; matchedBy: 'exact' | 'prefix' } | undefined {
    const exact = byName.get(id)
    if (exact) return { model: exact, matchedBy: 'exact' }
    for (let end = id.length - 1; end > 0; end--) {
      if (!isBoundary(id, end)) continue
      const model = byName.get(id.slice(0, end))
      if (model) return { model, matchedBy: 'prefix' }
    }
    return undefined
  }

  return {
    version,
    models,
    providerMultipliers,
    resolve(modelId) {
      const key = modelId.toLowerCase()
      const cached = cache.get(key)
      if (cached !== undefined) return cached ?? undefined
      // "openai/gpt-4o" or "models/gemini-2.5-pro": try the id after the last slash too.
      const slash = key.lastIndexOf('/')
      const found = lookup(key) ?? (slash >= 0 ? lookup(key.slice(slash + 1)) : undefined)
      if (cache.size < 10_000) cache.set(key, found ?? null)
      return found
    },
  }
}

export const DEFAULT_CATALOG_PATH = new URL('./catalog.json', import.meta.url)

/** Reads a JSON document of a price file, with errors that name the file. */
export function readPriceFile(path: string | URL): { text: string; document: unknown } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (cause) {
    throw new PricingError(`cannot read price catalog ${String(path)}`, cause)
  }
  let document: unknown
  try {
    document = JSON.parse(text)
  } catch (cause) {
    throw new PricingError(`price catalog ${String(path)} is not valid JSON`, cause)
  }
  return { text, document }
}

/** Loads a catalog file in SpendGuard's format (SpendGuard's own by default). */
export function loadCatalog(path: string | URL = DEFAULT_CATALOG_PATH): PriceCatalog {
  return parseCatalog(readPriceFile(path).document)
}

/** A short content hash, the version of a file that carries none. */
export function contentVersion(prefix: string, text: string): string {
  return `${prefix}-${createHash('sha256').update(text).digest('hex').slice(0, 12)}`
}

import { formatScaled, numberToDecimalString, parseScaled } from '../../platform/money.ts'
import type { CatalogFile } from './price-catalog.ts'

/**
 * Converts the public JSON price-list format (an object from model id to an entry with
 * `input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
 * `cache_creation_input_token_cost` in USD per token) into this project's catalog format.
 * Entries without both input and output costs (image, audio, embedding-only models) are
 * skipped, and so are entries with a cost that is negative or finer than a femto-USD per
 * token (their calls are then reported unpriced rather than priced wrongly). The list has no
 * dates, so its prices apply from 2015-01-01.
 */

interface PublicEntry {
  input_cost_per_token?: unknown
  output_cost_per_token?: unknown
  cache_read_input_token_cost?: unknown
  cache_creation_input_token_cost?: unknown
  output_cost_per_reasoning_token?: unknown
  litellm_provider?: unknown
}

export function isPublicPriceList(document: unknown): document is Record<string, PublicEntry> {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) return false
  if ('models' in document && Array.isArray(document.models)) return false
  return Object.values(document).some(
    (entry) => typeof entry === 'object' && entry !== null && 'input_cost_per_token' in entry,
  )
}

/**
 * USD per token (a JSON number) to USD per 1M tokens (an exact decimal string). A per-token
 * cost with 15 decimals is a whole number of femto-USD per token, which is the catalog's
 * nano-USD per 1M tokens. Costs finer than that are refused (undefined).
 */
function perMillion(value: unknown): string | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined
  const text = numberToDecimalString(value)
  if (/\.\d{16,}$/.test(text.replace(/0+$/, ''))) return undefined
  return formatScaled(parseScaled(text, 15), 9)
}

export function fromPublicPriceList(
  list: Record<string, PublicEntry>,
  version: string,
): CatalogFile {
  const models: CatalogFile['models'] = []
  const seen = new Set<string>()
  for (const [id, entry] of Object.entries(list)) {
    if (id === 'sample_spec' || typeof entry !== 'object' || entry === null) continue
    const input = perMillion(entry.input_cost_per_token)
    const output = perMillion(entry.output_cost_per_token)
    if (input === undefined || output === undefined) continue
    const cacheRead = perMillion(entry.cache_read_input_token_cost)
    const cacheWrite = perMillion(entry.cache_creation_input_token_cost)
    const reasoning = perMillion(entry.output_cost_per_reasoning_token)
    // A cost that is given but cannot be used must not fall back to the input or output
    // rate (that would misprice silently): skip the model, so its calls show up unpriced.
    const unusable = (raw: unknown, rate: string | undefined): boolean =>
      raw !== undefined && raw !== null && rate === undefined
    if (
      unusable(entry.cache_read_input_token_cost, cacheRead) ||
      unusable(entry.cache_creation_input_token_cost, cacheWrite) ||
      unusable(entry.output_cost_per_reasoning_token, reasoning)
    ) {
      continue
    }
    if (seen.has(id.toLowerCase())) continue
    seen.add(id.toLowerCase())
    models.push({
      id,
      provider: typeof entry.litellm_provider === 'string' ? entry.litellm_provider : undefined,
      prices: [
        {
          effective_from: '2015-01-01',
          input,
          output,
          ...(cacheRead === undefined ? {} : { cache_read: cacheRead }),
          ...(cacheWrite === undefined ? {} : { cache_write: cacheWrite }),
          ...(reasoning === undefined ? {} : { reasoning }),
        },
      ],
    })
  }
  return { version, models }
}

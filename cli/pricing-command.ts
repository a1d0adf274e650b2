import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import type { Config } from '../platform/config.ts'
import { ConfigError } from '../platform/errors.ts'
import { explainPrice, type PriceExplanation } from '../processors/pricing/price-explain.ts'
import { createPricing } from '../processors/pricing/pricing-setup.ts'
import { renderTable } from './text-table.ts'

const ISO_DATE_OR_TIME =
  /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * `--at 2025-05-01` or an ISO-8601 time; now by default. A date is UTC midnight and a time
 * without a zone is UTC, never the machine's local time; anything else is refused.
 */
export function parseAt(raw: string | undefined, now: number): number {
  if (raw === undefined) return now
  const match = ISO_DATE_OR_TIME.exec(raw.trim())
  if (!match) {
    throw new ConfigError(
      `"${raw}" is not a date (YYYY-MM-DD) or an ISO-8601 time (YYYY-MM-DDThh:mm[:ss][Z|±hh:mm])`,
    )
  }
  const text = !match[1] ? `${raw.trim()}T00:00:00Z` : match[4] ? raw.trim() : `${raw.trim()}Z`
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new ConfigError(`"${raw}" is not a valid date or time`)
  return ms
}

/** `spendguard pricing MODEL`: which entry prices a model, from which source, at which rates, and why. */
export async function runPricing(
  config: Config,
  query: { model: string; provider?: string; atMs: number },
): Promise<PriceExplanation> {
  const { resolver } = await createPricing(config.pricing)
  return explainPrice(resolver, query)
}

export function formatExplanation(explanation: PriceExplanation): string {
  const who = `${explanation.model}${explanation.provider ? ` (provider ${explanation.provider})` : ''} at ${explanation.at}`
  if (explanation.status === 'unpriced') return `${who}: UNPRICED\n  ${explanation.reason}\n`
  const rows = Object.entries(explanation.rates).map(([kind, rate]) => [
    kind,
    rate.usd_per_million,
    (rate.tiers ?? [])
      .map((t) => `${t.usd_per_million} above ${t.above_input_tokens} input tokens`)
      .join('; '),
  ])
  const modes = Object.entries(explanation.multipliers)
    .map(([mode, fraction]) => `${mode} ${fraction}`)
    .join(', ')
  return (
    `${who}\n` +
    `  entry:   ${explanation.entry} (${explanation.source}, ${explanation.source_version}), period ${explanation.period}\n` +
    `  why:     ${explanation.why}\n` +
    (modes ? `  modes:   ${modes} (fraction of these rates)\n` : '') +
    `\n` +
    renderTable(['tokens', 'USD per 1M', 'long-context tiers'], rows)
  )
}

export interface PricingCheckLine {
  provider: string | null
  model: string
  calls: number
  status: 'priced' | 'unpriced'
  /** Entry, source and version, or why it is unpriced. */
  detail: string
}

/**
 * `spendguard pricing check FILE`: each distinct (provider, model) of a JSON-lines file of
 * events, with the entry it resolves to or why it is unpriced. The billed model
 * (`response_model`) is the one checked when an event has it.
 */
export async function runPricingCheck(
  config: Config,
  file: string,
  stdin: Readable,
  now: number,
): Promise<PricingCheckLine[]> {
  const { resolver } = await createPricing(config.pricing)
  const seen = new Map<
    string,
    { provider?: string; billed?: string; model: string; calls: number; atMs: number }
  >()
  const lines = createInterface({
    input: file === '-' ? stdin : createReadStream(file),
    crlfDelay: Infinity,
  })
  for await (const line of lines) {
    if (line.trim() === '') continue
    let event: Record<string, unknown>
    try {
      event = JSON.parse(line) as Record<string, unknown>
    } catch {
      continue
    }
    if (typeof event.model !== 'string') continue
    const model = event.model
    // As the pricer: the billed model (response_model) first, the requested one second.
    const billed = typeof event.response_model === 'string' ? event.response_model : undefined
    const provider = typeof event.provider === 'string' ? event.provider : undefined
    const at = event.occurred_at
    const atMs = typeof at === 'number' ? at : typeof at === 'string' ? Date.parse(at) : now
    const key = `${provider ?? ''}\u0000${billed ?? ''}\u0000${model}`
    const entry = seen.get(key) ?? {
      ...(provider ? { provider } : {}),
      ...(billed ? { billed } : {}),
      model,
      calls: 0,
      atMs,
    }
    entry.calls++
    if (!Number.isNaN(atMs)) entry.atMs = Math.max(entry.atMs, atMs)
    seen.set(key, entry)
  }
  return [...seen.values()]
    .sort((a, b) => b.calls - a.calls)
    .map((item) => {
      const query = { ...(item.provider ? { provider: item.provider } : {}), atMs: item.atMs }
      const asBilled = item.billed
        ? explainPrice(resolver, { ...query, model: item.billed })
        : undefined
      const explanation =
        asBilled?.status === 'priced'
          ? asBilled
          : explainPrice(resolver, { ...query, model: item.model })
      return {
        provider: item.provider ?? null,
        model: item.billed && asBilled?.status === 'priced' ? item.billed : item.model,
        calls: item.calls,
        status: explanation.status,
        detail:
          explanation.status === 'priced'
            ? `${explanation.entry} (${explanation.source_version}, ${explanation.period})`
            : explanation.reason,
      }
    })
}

export function formatPricingCheck(lines: PricingCheckLine[]): string {
  const unpriced = lines.filter((l) => l.status === 'unpriced').length
  return (
    renderTable(
      ['provider', 'model', 'calls', 'status', 'priced by / why not'],
      lines.map((l) => [l.provider ?? '-', l.model, l.calls, l.status, l.detail]),
    ) + `\n${lines.length} models, ${unpriced} unpriced\n`
  )
}

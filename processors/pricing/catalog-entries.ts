import { formatScaled, parseScaled } from '../../platform/money.ts'
import { flat, type PriceEntry, type SourceName } from './price-entry.ts'
import type { CatalogModel, PriceCatalog, Rates } from './price-catalog.ts'
import type { EntryCatalog } from './price-resolver.ts'

/**
 * A catalog in SpendGuard's format as a layer of the price resolver: exact id or alias first,
 * then the longest id or alias that prefixes the model at a separator. An entry that lists
 * `providers` prices only calls from those providers (or that name none).
 */

function tokenRates(rates: Rates) {
  return {
    input: flat(rates.input),
    output: flat(rates.output),
    cacheRead: flat(rates.cacheRead),
    cacheWrite: flat(rates.cacheWrite),
    cacheWrite1h: flat(rates.cacheWrite),
    reasoning: flat(rates.reasoning),
  }
}

function toEntry(model: CatalogModel, source: SourceName, version: string): PriceEntry {
  const keep = formatScaled(10n ** 6n - parseScaled(model.batchDiscount, 6), 6)
  return {
    id: model.id,
    ...(model.provider ? { provider: model.provider } : {}),
    source,
    sourceVersion: version,
    periods: model.periods.map((period) => ({
      when: { kind: 'from', at: period.effectiveFrom, date: period.effectiveFromDate },
      rates: tokenRates(period.realtime),
    })),
    ...(model.batchDiscount === '0' ? {} : { multipliers: { batch: keep } }),
  }
}

export function catalogEntries(catalog: PriceCatalog, source: SourceName): EntryCatalog {
  const entries = new Map(
    catalog.models.map((model) => [model, toEntry(model, source, catalog.version)]),
  )
  return {
    lookup(model, provider, mode) {
      const match = catalog.resolve(model)
      if (!match || (mode === 'exact') !== (match.matchedBy === 'exact')) return undefined
      const { providers } = match.model
      if (providers && provider !== undefined && !providers.includes(provider)) {
        return {
          refused: `${catalog.version} entry ${match.model.id} prices only ${providers.join(', ')}, not ${provider}`,
        }
      }
      const rule =
        match.matchedBy === 'exact'
          ? `entry ${match.model.id} (exact id or alias)`
          : `entry ${match.model.id} (longest prefix of "${model}")`
      return { entry: entries.get(match.model)!, rule }
    },
  }
}

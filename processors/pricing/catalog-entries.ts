import { formatScaled, parseScaled } from '../../platform/money.ts'
import { canonicalProvider } from './model-id.ts'
import type { PriceEntry, SourceName, TieredRate, TokenRates } from './price-entry.ts'
import type { CatalogModel, PriceCatalog, CatalogPeriod, Rates } from './price-catalog.ts'
import type { EntryCatalog } from './price-resolver.ts'

/**
 * A catalog in SpendGuard's format as a layer of the price resolver: exact id or alias first,
 * then the longest id or alias that prefixes the model at a separator. An entry that lists
 * `providers` prices only calls from those providers (or that name none).
 */

function tokenRates(rates: Rates, tiers: CatalogPeriod['tiers']): TokenRates {
  const kind = (key: Exclude<keyof Rates, 'cacheWrite1h'>): TieredRate => ({
    base: rates[key],
    tiers: tiers.map((tier) => ({ above: tier.above, rate: tier.rates[key] })),
  })
  const oneHour = rates.cacheWrite1h
  const oneHourTiers = tiers.map((tier) => ({ above: tier.above, rate: tier.rates.cacheWrite1h }))
  return {
    input: kind('input'),
    output: kind('output'),
    cacheRead: kind('cacheRead'),
    cacheWrite: kind('cacheWrite'),
    ...(oneHour === undefined || oneHourTiers.some((tier) => tier.rate === undefined)
      ? {}
      : {
          cacheWrite1h: {
            base: oneHour,
            tiers: oneHourTiers.map((tier) => ({ above: tier.above, rate: tier.rate! })),
          },
        }),
    reasoning: kind('reasoning'),
  }
}

function toEntry(
  model: CatalogModel,
  source: SourceName,
  version: string,
  providerMultipliers: PriceCatalog['providerMultipliers'],
): PriceEntry {
  const keep = formatScaled(10n ** 6n - parseScaled(model.batchDiscount, 6), 6)
  const fromProvider = model.provider
    ? providerMultipliers[canonicalProvider(model.provider)]
    : undefined
  const multipliers = {
    ...fromProvider,
    ...(model.batchDiscount === '0' ? {} : { batch: keep }),
  }
  return {
    id: model.id,
    ...(model.provider ? { provider: model.provider } : {}),
    source,
    sourceVersion: version,
    periods: model.periods.map((period) => ({
      when: { kind: 'from', at: period.effectiveFrom, date: period.effectiveFromDate },
      rates: tokenRates(period.realtime, period.tiers),
    })),
    ...(Object.keys(multipliers).length > 0 ? { multipliers } : {}),
  }
}

/**
 * `providerMultipliers`: batch and service-tier fractions per provider (SpendGuard's own), for
 * entries that name their provider; an entry's own batch discount wins.
 */
export function catalogEntries(
  catalog: PriceCatalog,
  source: SourceName,
  providerMultipliers: PriceCatalog['providerMultipliers'] = catalog.providerMultipliers,
): EntryCatalog {
  const entries = new Map(
    catalog.models.map((model) => [
      model,
      toEntry(model, source, catalog.version, providerMultipliers),
    ]),
  )
  return {
    lookup(model, provider, mode) {
      const match = catalog.resolve(model)
      if (!match || (mode === 'exact') !== (match.matchedBy === 'exact')) return undefined
      const { providers } = match.model
      // An entry of one provider does not price another provider's calls of the same id: that
      // provider's own prices (OpenRouter's, Azure's) come from the curated data.
      const owner = match.model.provider ? canonicalProvider(match.model.provider) : undefined
      if (owner && provider !== undefined && !providers && provider !== owner) return undefined
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

import { resolve } from 'node:path'
import type { Config } from '../../platform/config.ts'
import { PricingError } from '../../platform/errors.ts'
import { parseScaled } from '../../platform/money.ts'
import { catalogEntries } from './catalog-entries.ts'
import { loadCuratedData, type CuratedData } from './genai-prices-data.ts'
import {
  contentVersion,
  loadCatalog,
  parseCatalog,
  readPriceFile,
  type PriceCatalog,
} from './price-catalog.ts'
import { flat, type PriceEntry } from './price-entry.ts'
import { createPriceResolver, type EntryCatalog, type PriceResolver } from './price-resolver.ts'
import { createPricer, type Pricer } from './pricer.ts'
import {
  fromPublicPriceList,
  isPublicPriceList,
  type PriceListReport,
} from './public-price-list.ts'

/**
 * Builds the pricer from the configuration: the user's catalog (SpendGuard's format or the
 * public JSON list) over SpendGuard's own entries over the curated genai-prices data, with
 * self-hosted providers priced at zero or their configured amortised rate.
 */

export interface Pricing {
  pricer: Pricer
  resolver: PriceResolver
  /** For a public-list user catalog: what was loaded and what was not, with reasons. */
  userListReport?: PriceListReport
  curated: CuratedData
}

/** Curated entries get their provider's batch and service-tier fractions. */
function withMultipliers(data: CuratedData, own: PriceCatalog): CuratedData {
  return {
    ...data,
    providers: data.providers.map((provider) => {
      const multipliers = own.providerMultipliers[provider.id]
      if (!multipliers) return provider
      return {
        ...provider,
        models: provider.models.map((model) =>
          model.entry
            ? {
                ...model,
                entry: {
                  ...model.entry,
                  multipliers: { ...multipliers, ...model.entry.multipliers },
                },
              }
            : model,
        ),
      }
    }),
  }
}

function loadUserCatalog(
  file: string,
  own: PriceCatalog,
): {
  catalog: EntryCatalog
  version: string
  report?: PriceListReport
} {
  const path = resolve(file)
  const { text, document } = readPriceFile(path)
  if (isPublicPriceList(document)) {
    const version = contentVersion('price-list', text)
    const list = fromPublicPriceList(document, version)
    return { catalog: list, version, report: list.report }
  }
  const catalog = parseCatalog(document)
  return {
    catalog: catalogEntries(catalog, 'user', {
      ...own.providerMultipliers,
      ...catalog.providerMultipliers,
    }),
    version: catalog.version,
  }
}

function selfHostedEntries(
  config: Config['pricing']['selfHosted'],
): (fullModel: string, model: string) => PriceEntry {
  const cache = new Map<string, PriceEntry>()
  const rates = new Map(Object.entries(config.models).map(([id, r]) => [id.toLowerCase(), r]))
  return (fullModel, model) => {
    const cached = cache.get(fullModel)
    if (cached) return cached
    const rate = rates.get(fullModel) ?? rates.get(model) ?? config.default
    const input = parseScaled(rate.input, 9)
    const output = parseScaled(rate.output, 9)
    const entry: PriceEntry = {
      id: rates.has(fullModel)
        ? `self-hosted:${fullModel}`
        : rates.has(model)
          ? `self-hosted:${model}`
          : 'self-hosted',
      source: 'spendguard',
      sourceVersion: 'config',
      periods: [
        {
          when: { kind: 'always' },
          rates: {
            input: flat(input),
            output: flat(output),
            cacheRead: flat(input),
            cacheWrite: flat(input),
            cacheWrite1h: flat(input),
            reasoning: flat(output),
          },
        },
      ],
      // Batch and tiers cost the same on one's own hardware.
      multipliers: { batch: '1', flex: '1', priority: '1' },
    }
    cache.set(fullModel, entry)
    return entry
  }
}

export async function createPricing(config: Config['pricing']): Promise<Pricing> {
  const own = loadCatalog()
  let curated: CuratedData
  try {
    curated = withMultipliers(await loadCuratedData(), own)
  } catch (cause) {
    throw new PricingError('cannot load the curated price data of @pydantic/genai-prices', cause)
  }
  const user = config.catalogFile ? loadUserCatalog(config.catalogFile, own) : undefined
  const resolver = createPriceResolver({
    ...(user ? { user: user.catalog } : {}),
    own: catalogEntries(own, 'spendguard'),
    curated,
    selfHostedProviders: config.selfHosted.providers,
    selfHostedEntry: selfHostedEntries(config.selfHosted),
  })
  const version = [user?.version, own.version, curated.version].filter(Boolean).join('+')
  return {
    pricer: createPricer(resolver, version),
    resolver,
    curated,
    ...(user?.report ? { userListReport: user.report } : {}),
  }
}

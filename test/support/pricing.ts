import { parseConfig, type ConfigInput } from '../../platform/config.ts'
import { createPricing, type Pricing } from '../../processors/pricing/pricing-setup.ts'

/** The pricing a default configuration builds (curated data, SpendGuard's own entries). */
export function testPricing(pricing: ConfigInput['pricing'] = {}): Promise<Pricing> {
  return createPricing(parseConfig({ pricing }).pricing)
}

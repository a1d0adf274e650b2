import { parseUsd, formatUsd, numberToDecimalString, parseScaled, formatScaled } from '../platform/money.ts'
import { parseCatalog, loadCatalog } from '../processors/pricing/price-catalog.ts'
import { fromPublicPriceList } from '../processors/pricing/public-price-list.ts'
const t = (f: () => unknown) => { try { return f() } catch (e) { return 'ERR ' + (e as Error).name + ': ' + (e as Error).message } }
for (const v of [2.5e-6, 1e21, 1e-7, 1.25e-6, 3.75e-8, 0.1, 123.456, -2.5e-6, 1.7976931348623157e308, 5e-324, 0, -0, 1e-15, 1.23e-16, 12345678901234567890, 1.5e21, 1e100])
  console.log(v, t(() => numberToDecimalString(v)))
for (const s of ['1260', '0.0000375', '1260.00', '00012', '-0', '-2.5', ' 3 ', '1e3', '.5', '5.', '0x10', '1,5', '', '0.0000000000000001', '0.000000000000001', '0.0000000000000010', '١٢', '+1', 'Infinity', '1_000'])
  console.log(JSON.stringify(s), t(() => { const v = parseUsd(s); return [v, formatUsd(v)] }))
console.log(formatUsd(1n), formatUsd(-1n), formatUsd(0n), formatUsd(-1500000000000000n), formatScaled(5n, 0), formatScaled(-5n, 0))
console.log(t(() => parseScaled('1.5', 0)))
console.log(t(() => parseCatalog({ version: 'x', models: [{ id: 'm', prices: [{ effective_from: '2025-01-01', input: 1.5, output: '2' }] }] })))
console.log(t(() => parseCatalog({ version: 'x', models: [{ id: 'm', batch_discount: '0.3', prices: [{ effective_from: '2025-01-01', input: '0.000000001', output: '2' }] }] })))
console.log(t(() => parseCatalog({ version: 'x', models: [{ id: 'm', prices: [{ effective_from: '2025-02-30', input: '1', output: '2' }] }] })))
console.log(t(() => parseCatalog({ version: 'x', models: [{ id: 'm', prices: [{ effective_from: '2025-02-01', input: '1', output: '2' },{ effective_from: '2025-02-01', input: '3', output: '2' }] }] })))
console.log(t(() => parseCatalog({ version: 'x', models: [{ id: 'm', batch_discount: '1.0', prices: [{ effective_from: '2025-02-01', input: '1', output: '2' }] }] })))
console.log(JSON.stringify(fromPublicPriceList({ 'gpt-x': { input_cost_per_token: 2.5e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.25e-6, litellm_provider: 'openai' }, 'tiny': { input_cost_per_token: 1e-16, output_cost_per_token: 1e-5 }, 'cr': { input_cost_per_token: 1e-6, output_cost_per_token: 1e-5, cache_read_input_token_cost: 1.234567e-16 }, 'big': { input_cost_per_token: 1e-6, output_cost_per_token: 0.0001234567891234567 }, 'int': { input_cost_per_token: 0, output_cost_per_token: 1 }} as any, 'v')))

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PricingError } from '../../platform/errors.ts'
import { formatUsd } from '../../platform/money.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { parseCatalog, type CatalogFile } from '../../processors/pricing/price-catalog.ts'
import type { Pricer, PriceResult } from '../../processors/pricing/pricer.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'

const { pricer } = await testPricing()

function price(overrides: Partial<LlmCallInput>, using: Pricer = pricer): PriceResult {
  return using.price(makeLlmCall({ provider: undefined, ...overrides }))
}

function priced(result: PriceResult): Extract<PriceResult, { status: 'priced' }> {
  if (result.status !== 'priced') throw new Error(`expected a price, got: ${result.reason}`)
  return result
}

/** Total cost of a call as a decimal USD string. */
function usd(overrides: Partial<LlmCallInput>, using: Pricer = pricer): string {
  return formatUsd(priced(price(overrides, using)).cost.total)
}

/** The cost of `input` uncached input and `output` output tokens at USD-per-1M rates, as text. */
const MILLION = 1_000_000

function expectPricingError(run: () => unknown, pattern: RegExp): void {
  let thrown: unknown
  try {
    run()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(PricingError)
  expect(thrown).toMatchObject({ code: 'PRICING_INVALID', retriable: false })
  expect((thrown as Error).message).toMatch(pattern)
}

function catalogOf(models: CatalogFile['models']): CatalogFile {
  return { version: 'test-1', models }
}

const dir = mkdtempSync(join(tmpdir(), 'spendguard-prices-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function writeFile(document: unknown): string {
  const path = join(dir, `prices-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(path, JSON.stringify(document))
  return path
}

describe('exact money', () => {
  it('prices 14,000 GPT-4 calls of 1,800 in / 600 out at $0.03 / $0.06 per 1K at exactly $1,260', () => {
    let total = 0n
    for (let i = 0; i < 14_000; i++) {
      total += priced(price({ model: 'gpt-4', input_tokens: 1_800, output_tokens: 600 })).cost.total
    }
    expect(formatUsd(total)).toBe('1260')
    // Floats drift on the same sum: this is why money is integer femto-USD.
    let float = 0
    for (let i = 0; i < 14_000; i++) float += 1_800 * 0.00003 + 600 * 0.00006
    expect(float).not.toBe(1260)
  })
})

describe('resolution: curated data, with exact overrides and no sibling absorbed', () => {
  it('prices dated and sibling ids as their own models, not as a shorter prefix', () => {
    // gpt-4o-mini $0.15 / $0.60, not gpt-4o; Claude Opus 4.5 $5 / $25, not Opus 4's $15 / $75.
    expect(usd({ model: 'gpt-4o-mini-2024-07-18', input_tokens: MILLION, output_tokens: 0 })).toBe(
      '0.15',
    )
    expect(
      usd({ model: 'claude-opus-4-5-20251101', input_tokens: MILLION, output_tokens: MILLION }),
    ).toBe('30')
    expect(usd({ model: 'o3-pro', input_tokens: MILLION, output_tokens: MILLION })).toBe('100')
    expect(
      usd({ model: 'gemini-2.5-flash-lite', input_tokens: MILLION, output_tokens: MILLION }),
    ).toBe('0.5')
    expect(usd({ model: 'gpt-3.5-turbo-16k', input_tokens: MILLION, output_tokens: MILLION })).toBe(
      '7',
    )
    expect(
      usd({ model: 'claude-sonnet-4-20250514', input_tokens: 100_000, output_tokens: 0 }),
    ).toBe('0.3')
  })

  it("lets SpendGuard's own exact entry win: gpt-4o cost $5 / $15 until the alias moved on 2024-10-02", () => {
    const call = { model: 'gpt-4o', input_tokens: MILLION, output_tokens: MILLION }
    expect(usd({ ...call, occurred_at: '2024-09-30T12:00:00Z' })).toBe('20')
    expect(usd({ ...call, occurred_at: '2024-10-02T00:00:00Z' })).toBe('12.5')
    const result = priced(price({ ...call, occurred_at: '2024-09-30T12:00:00Z' }))
    expect(result.priceVersion).toBe('spendguard-2026-11:openai/gpt-4o@2024-05-13')
    expect(result.why).toMatch(/SpendGuard's own entries: entry gpt-4o/)
  })

  it('names the source and its version in the price version', () => {
    const result = priced(price({ model: 'gpt-4.1' }))
    expect(result.priceVersion).toMatch(/^genai-prices@\d+\.\d+\.\d+:openai\/gpt-4\.1@always$/)
    expect(result.why).toMatch(/provider openai inferred from the model id/)
  })

  it('prefers the response_model, the one the provider bills, over the requested model', () => {
    const result = priced(
      price({
        model: 'gpt-4o-mini',
        response_model: 'gpt-4.1-2025-04-14',
        input_tokens: MILLION,
        output_tokens: 0,
      }),
    )
    expect(result.pricedModelId).toBe('gpt-4.1-2025-04-14')
    expect(formatUsd(result.cost.total)).toBe('2')
  })

  it('reads provider prefixes, Bedrock, Vertex and OpenRouter ids', () => {
    const million = { input_tokens: MILLION, output_tokens: MILLION }
    // Groq's Llama 3.3 70B: $0.59 / $0.79.
    expect(usd({ model: 'groq/llama-3.3-70b-versatile', ...million })).toBe('1.38')
    expect(usd({ model: 'us.anthropic.claude-sonnet-4-20250514-v1:0', ...million })).toBe('18')
    expect(
      usd({
        model: 'claude-sonnet-4@20250514',
        provider: 'vertex_ai',
        input_tokens: 100_000,
        output_tokens: 100_000,
      }),
    ).toBe('1.8')
    // OpenRouter prices its own ids, here without a long-context tier.
    expect(usd({ model: 'anthropic/claude-sonnet-4', provider: 'openrouter', ...million })).toBe(
      '18',
    )
    expect(usd({ model: 'azure/gpt-4o-mini', ...million })).toBe('0.75')
  })
})

describe('rates by kind of token', () => {
  it('prices cached input at the cached rate', () => {
    // gpt-4.1: $2 input, $0.50 cached
    const result = priced(
      price({ model: 'gpt-4.1', input_tokens: 10_000, cache_read_tokens: 4_000, output_tokens: 0 }),
    )
    expect(formatUsd(result.cost.input)).toBe('0.012')
    expect(formatUsd(result.cost.cacheRead)).toBe('0.002')
  })

  it('prices Anthropic 5-minute cache writes at 1.25x and 1-hour writes at 2x input', () => {
    // Claude Sonnet 4: $3 input, $3.75 5-minute write, $6 1-hour write.
    const result = priced(
      price({
        model: 'claude-sonnet-4-20250514',
        input_tokens: 150_000,
        cache_write_tokens: 100_000,
        cache_write_1h_tokens: 50_000,
        output_tokens: 0,
      }),
    )
    expect(formatUsd(result.cost.input)).toBe('0.15')
    expect(formatUsd(result.cost.cacheWrite)).toBe('0.4875')
  })

  it('prices reasoning tokens as output when no separate rate exists', () => {
    const result = priced(
      price({
        model: 'o4-mini',
        input_tokens: 0,
        output_tokens: MILLION,
        reasoning_tokens: 600_000,
      }),
    )
    expect(formatUsd(result.cost.reasoning)).toBe('2.64')
    expect(formatUsd(result.cost.output)).toBe('1.76')
  })

  it('bills the whole call at the long-context tier once input passes the threshold', () => {
    // Gemini 2.5 Pro: $1.25 / $10 up to 200k input tokens, $2.50 / $15 above.
    const at = (input: number) =>
      usd({ model: 'gemini-2.5-pro', input_tokens: input, output_tokens: 100_000 })
    expect(at(200_000)).toBe('1.25')
    expect(at(200_001)).toBe('2.0000025')
    // Claude Sonnet 4.5: $3 / $15, above 200k $6 / $22.50.
    expect(usd({ model: 'claude-sonnet-4-5', input_tokens: 300_000, output_tokens: 10_000 })).toBe(
      '2.025',
    )
  })
})

describe('batch and service tiers', () => {
  it('prices the batch endpoint and the flex tier at half, the fraction its provider bills', () => {
    const call = { model: 'gpt-4.1', input_tokens: MILLION, output_tokens: MILLION }
    expect(usd(call)).toBe('10')
    expect(usd({ ...call, endpoint: 'batch' })).toBe('5')
    expect(usd({ ...call, service_tier: 'flex' })).toBe('5')
    expect(usd({ ...call, service_tier: 'default' })).toBe('10')
    expect(priced(price({ ...call, endpoint: 'batch' })).priceVersion).toMatch(/\+batch$/)
  })

  it('leaves a tier with no known price unpriced, with the reason, rather than guess', () => {
    const result = price({ model: 'gpt-4.1', service_tier: 'priority' })
    expect(result.status).toBe('unpriced')
    expect(result.status === 'unpriced' && result.reason).toMatch(
      /no priority price known for gpt-4\.1/,
    )
    // Google bills priority at 1.8x.
    expect(
      usd({
        model: 'gemini-2.5-flash',
        service_tier: 'priority',
        input_tokens: MILLION,
        output_tokens: 0,
      }),
    ).toBe('0.54')
  })
})

describe('price history', () => {
  it('prices o3 at $10 / $40 until 2025-06-10 and at $2 / $8 from then on', () => {
    const call = { model: 'o3', input_tokens: MILLION, output_tokens: MILLION }
    const before = priced(price({ ...call, occurred_at: '2025-05-01T00:00:00Z' }))
    const after = priced(price({ ...call, occurred_at: '2025-07-01T00:00:00Z' }))
    expect(formatUsd(before.cost.total)).toBe('50')
    expect(formatUsd(after.cost.total)).toBe('10')
    expect(before.priceVersion).toBe('spendguard-2026-11:openai/o3@2025-04-16')
    // Cached input: $2.50 before the cut (SpendGuard's correction), $0.50 after.
    const cached = (at: string) =>
      usd({
        model: 'o3',
        occurred_at: at,
        input_tokens: MILLION,
        cache_read_tokens: MILLION,
        output_tokens: 0,
      })
    expect(cached('2025-05-01T00:00:00Z')).toBe('2.5')
    expect(cached('2025-07-01T00:00:00Z')).toBe('0.5')
    expect(after.priceVersion).toBe('spendguard-2026-11:openai/o3@2025-06-10')
  })
})

describe('unknown, hosted and self-hosted models', () => {
  it('marks an unknown model unpriced with a reason, never a zero cost', () => {
    const result = price({ model: 'gpt-9-ultra' })
    expect(result).toMatchObject({ status: 'unpriced', pricedModelId: 'gpt-9-ultra' })
    expect(result.status === 'unpriced' && result.reason).toMatch(
      /no price for "gpt-9-ultra" from openai/,
    )
  })

  it('never prices a hosted open-weight model at $0: without a provider it is unpriced', () => {
    const result = price({ model: 'llama-3.3-70b-versatile' })
    expect(result.status).toBe('unpriced')
    expect(result.status === 'unpriced' && result.reason).toMatch(/set the event's provider/)
    expect(
      usd({
        model: 'llama-3.3-70b-versatile',
        provider: 'groq',
        input_tokens: MILLION,
        output_tokens: 0,
      }),
    ).toBe('0.59')
  })

  it('prices a self-hosted provider at zero, or at the configured amortised rate', async () => {
    const call = {
      model: 'llama3-8b',
      provider: 'ollama',
      input_tokens: MILLION,
      output_tokens: MILLION,
    }
    expect(usd(call)).toBe('0')
    expect(usd({ ...call, provider: 'vllm', endpoint: 'batch' })).toBe('0')
    const amortised = await testPricing({
      selfHosted: {
        providers: ['ollama', 'gpu-farm'],
        default: { input: '0.05', output: '0.10' },
        models: { 'llama3-70b': { input: '0.40', output: '0.80' } },
      },
    })
    expect(usd({ ...call, provider: 'gpu-farm' }, amortised.pricer)).toBe('0.15')
    expect(usd({ ...call, model: 'llama3-70b' }, amortised.pricer)).toBe('1.2')
    // vllm is not in this configuration's list: its calls are not free.
    expect(price({ ...call, provider: 'vllm' }, amortised.pricer).status).toBe('unpriced')
  })

  it('does not price a call whose provider reported no usage: unknown is not zero', () => {
    const result = price({
      model: 'gpt-4.1',
      usage_reported: false,
      input_tokens: 0,
      output_tokens: 0,
    })
    expect(result.status).toBe('unpriced')
    expect(result.status === 'unpriced' && result.reason).toMatch(/reported no usage/)
  })
})

describe('your catalog', () => {
  it('overrides per model and leaves every other model to the curated data', async () => {
    const path = writeFile(
      catalogOf([
        {
          id: 'gpt-4o-mini',
          prices: [{ effective_from: '2024-01-01', input: '0.10', output: '0.40' }],
        },
        {
          id: 'in-house-7b',
          prices: [{ effective_from: '2024-01-01', input: '0.02', output: '0.02' }],
        },
      ]),
    )
    const mine = await testPricing({ catalogFile: path })
    const million = { input_tokens: MILLION, output_tokens: MILLION }
    expect(usd({ model: 'gpt-4o-mini', ...million }, mine.pricer)).toBe('0.5')
    expect(usd({ model: 'in-house-7b', ...million }, mine.pricer)).toBe('0.04')
    expect(usd({ model: 'gpt-4.1', ...million }, mine.pricer)).toBe('10')
    expect(mine.pricer.catalogVersion).toMatch(/^test-1\+spendguard-2026-11\+genai-prices@/)
  })
})

describe('catalog documents', () => {
  it('refuses an invalid catalog with a PricingError naming the bad field', () => {
    const bad = {
      version: 'x',
      models: [{ id: 'm', prices: [{ effective_from: '2025-01-01', input: 1.5, output: '2' }] }],
    }
    expectPricingError(() => parseCatalog(bad), /models\.0\.prices\.0\.input/)
    expectPricingError(
      () =>
        parseCatalog(
          catalogOf([
            { id: 'm', prices: [{ effective_from: '2025-02-30', input: '1', output: '2' }] },
          ]),
        ),
      /models\.0\.prices\.0\.effective_from/,
    )
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', batch_discount: '1.5', prices: [] }])),
      /models\.0\.batch_discount.*models\.0\.prices/,
    )
  })

  it('refuses two price periods of one model starting the same day, and an id used twice', () => {
    const periods = [
      { effective_from: '2025-01-01', input: '1', output: '2' },
      { effective_from: '2025-01-01', input: '3', output: '4' },
    ]
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', prices: periods }])),
      /models\.0\.prices\.1\.effective_from/,
    )
    const prices = [{ effective_from: '2025-01-01', input: '1', output: '2' }]
    expectPricingError(
      () =>
        parseCatalog(
          catalogOf([
            { id: 'm', prices },
            { id: 'n', aliases: ['M'], prices },
          ]),
        ),
      /models\.1: "m" is already used by m/,
    )
  })

  it('refuses the old self_hosted flag, pointing to the configuration that replaced it', () => {
    const prices = [{ effective_from: '2025-01-01', input: '0', output: '0' }]
    expectPricingError(
      () => parseCatalog({ version: 'x', models: [{ id: 'llama', self_hosted: true, prices }] }),
      /models\.0\.self_hosted: is no longer read: .*pricing\.selfHosted\.providers/,
    )
  })

  it('refuses a batch discount that would make a rate a fraction of a nano-USD per 1M', () => {
    const cheap = [{ effective_from: '2025-01-01', input: '0.000000001', output: '1' }]
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', batch_discount: '0.5', prices: cheap }])),
      /models\.0\.prices\.0: batch rate for input is not a whole nano-USD/,
    )
  })

  it('reports a file that is missing or not JSON as a PricingError', async () => {
    await expect(testPricing({ catalogFile: join(dir, 'missing.json') })).rejects.toThrow(
      /cannot read price catalog/,
    )
    const path = join(dir, 'broken.json')
    writeFileSync(path, '{ not json')
    await expect(testPricing({ catalogFile: path })).rejects.toThrow(/is not valid JSON/)
  })
})

describe('the public JSON price list as your catalog', () => {
  const list = {
    sample_spec: { input_cost_per_token: 0, output_cost_per_token: 0 },
    'acme-4o': {
      input_cost_per_token: 2.5e-6,
      output_cost_per_token: 1e-5,
      cache_read_input_token_cost: 1.25e-6,
      input_cost_per_token_batches: 1.25e-6,
      output_cost_per_token_batches: 5e-6,
      litellm_provider: 'openai',
    },
    'acme-pro': {
      input_cost_per_token: 1.25e-6,
      output_cost_per_token: 1e-5,
      input_cost_per_token_above_200k_tokens: 2.5e-6,
      output_cost_per_token_above_200k_tokens: 1.5e-5,
    },
    'acme-sonnet': {
      input_cost_per_token: 3e-6,
      output_cost_per_token: 1.5e-5,
      cache_creation_input_token_cost: 3.75e-6,
      cache_creation_input_token_cost_above_1hr: 6e-6,
    },
    'mistral/acme-large': {
      input_cost_per_token: 2e-6,
      output_cost_per_token: 6e-6,
      litellm_provider: 'mistral',
    },
    // Binary noise of a float-built list: 0.3 / 1M written as 3.0000000000000004e-7.
    'noisy-model': { input_cost_per_token: (0.1 + 0.2) * 1e-6, output_cost_per_token: 6e-7 },
    'dall-e-3': {
      output_cost_per_image: 0.04,
      litellm_provider: 'openai',
      mode: 'image_generation',
    },
    'broken-model': { input_cost_per_token: 'free', output_cost_per_token: 1e-6 },
  }

  it('loads every entry or reports why not, and uses batch, tier, 1-hour and provider-keyed prices', async () => {
    const mine = await testPricing({ catalogFile: writeFile(list) })
    expect(mine.userListReport).toEqual({
      loaded: 5,
      skipped: [
        {
          id: 'dall-e-3',
          reason: expect.stringMatching(
            /no per-token input and output cost \(mode image_generation\)/,
          ) as unknown,
        },
        {
          id: 'broken-model',
          reason: expect.stringMatching(/input_cost_per_token is not/) as unknown,
        },
      ],
    })
    const using = mine.pricer
    const call = (model: string, extra: Partial<LlmCallInput> = {}) =>
      usd({ model, input_tokens: MILLION, output_tokens: MILLION, ...extra }, using)
    expect(call('acme-4o')).toBe('12.5')
    expect(call('acme-4o', { endpoint: 'batch' })).toBe('6.25')
    expect(call('acme-pro')).toBe('17.5')
    expect(call('acme-pro', { input_tokens: 100_000 })).toBe('10.125')
    expect(
      call('acme-sonnet', { cache_write_tokens: MILLION, cache_write_1h_tokens: MILLION }),
    ).toBe('21')
    expect(call('acme-large', { provider: 'mistral' })).toBe('8')
    expect(call('noisy-model')).toBe('0.9')
    expect(priced(price({ model: 'acme-4o' }, using)).priceVersion).toMatch(
      /^price-list-[0-9a-f]{12}:openai\/acme-4o@always$/,
    )
  })
})

describe('review cases', () => {
  const million = { input_tokens: MILLION, output_tokens: 0 }

  it('reports a curated model whose price cannot be used as unpriced, not as another entry', () => {
    const result = price({ model: 'davinci', provider: 'azure', ...million })
    expect(result.status).toBe('unpriced')
    expect(result.status === 'unpriced' && result.reason).toMatch(
      /entry davinci \(azure\) cannot be used/,
    )
  })

  it('leaves 1-hour cache writes unpriced where no price exists, and uses 2x input for Claude on any host', () => {
    const oneHour = {
      input_tokens: 100_000,
      cache_write_tokens: 100_000,
      cache_write_1h_tokens: 100_000,
      output_tokens: 0,
    }
    const gpt = price({ model: 'gpt-4.1', ...oneHour })
    expect(gpt.status === 'unpriced' && gpt.reason).toMatch(/no price for 1-hour cache writes/)
    // Claude Sonnet 4 on Vertex AI: $3 input, so 1-hour writes at $6.
    expect(usd({ model: 'claude-sonnet-4@20250514', provider: 'vertex_ai', ...oneHour })).toBe(
      '0.6',
    )
    expect(usd({ model: 'us.anthropic.claude-3-7-sonnet-20250219-v1:0', ...oneHour })).toBe('0.6')
  })

  it('applies the Claude Sonnet 4 long-context correction on Vertex AI too', () => {
    expect(
      usd({
        model: 'claude-sonnet-4@20250514',
        provider: 'vertex_ai',
        input_tokens: 300_000,
        output_tokens: 0,
      }),
    ).toBe('1.8')
  })

  it('does not infer a vendor for an open-weight model: gpt-oss without a provider is unpriced', () => {
    expect(price({ model: 'gpt-oss-120b', ...million }).status).toBe('unpriced')
  })

  it('reads service tier names as providers spell them', () => {
    expect(usd({ model: 'gpt-4.1', service_tier: 'on_demand', ...million })).toBe('2')
    expect(usd({ model: 'gpt-4.1', service_tier: 'Flex', ...million })).toBe('1')
  })

  it('lets your catalog price a self-hosted model, and matches configured rates on the id as sent', async () => {
    const mine = await testPricing({
      catalogFile: writeFile(
        catalogOf([
          {
            id: 'in-house-7b',
            prices: [{ effective_from: '2024-01-01', input: '0.10', output: '0.10' }],
          },
        ]),
      ),
      selfHosted: {
        providers: ['vllm'],
        models: { 'openai/gpt-oss-120b': { input: '0.05', output: '0.05' } },
      },
    })
    expect(usd({ model: 'in-house-7b', provider: 'vllm', ...million }, mine.pricer)).toBe('0.1')
    expect(usd({ model: 'openai/gpt-oss-120b', provider: 'vllm', ...million }, mine.pricer)).toBe(
      '0.05',
    )
  })

  it("prices a public list's modes with cache rates following their input discount, all tiers, and vendor-path keys", async () => {
    const list = {
      'acme-5': {
        input_cost_per_token: 1.25e-6,
        output_cost_per_token: 1e-5,
        cache_read_input_token_cost: 1.25e-7,
        input_cost_per_token_flex: 6.25e-7,
        output_cost_per_token_flex: 5e-6,
        litellm_provider: 'openai',
      },
      'acme-long': {
        input_cost_per_token: 1.25e-6,
        output_cost_per_token: 5e-6,
        input_cost_per_token_above_128k_tokens: 2.5e-6,
        cache_creation_input_token_cost: 1.5e-6,
        cache_creation_input_token_cost_above_1hr: 2.5e-6,
        cache_creation_input_token_cost_above_1hr_above_200k_tokens: 5e-6,
      },
      'acme-tiered': {
        input_cost_per_token: 1.5e-6,
        input_cost_per_token_above_200k_tokens: 3e-6,
        output_cost_per_token: 1e-5,
        input_cost_per_token_batches: 7.5e-7,
        output_cost_per_token_batches: 5e-6,
        cache_creation_input_token_cost: 3.75e-6,
        cache_creation_input_token_cost_above_200k_tokens: 7.5e-6,
        cache_creation_input_token_cost_above_1hr: 6e-6,
      },
      'openrouter/openai/gpt-4o': {
        input_cost_per_token: 2.6e-6,
        output_cost_per_token: 1e-5,
        litellm_provider: 'openrouter',
      },
      'gpt-4o-mini': {
        input_cost_per_token: 1e-7,
        output_cost_per_token: 1e-7,
        litellm_provider: 'openai',
      },
    }
    const mine = (await testPricing({ catalogFile: writeFile(list) })).pricer
    // Flex at half: 1M cached tokens cost $0.0625, not the flex input rate.
    expect(
      usd(
        {
          model: 'acme-5',
          service_tier: 'flex',
          input_tokens: MILLION,
          cache_read_tokens: MILLION,
          output_tokens: 0,
        },
        mine,
      ),
    ).toBe('0.0625')
    expect(usd({ model: 'acme-long', input_tokens: 200_000, output_tokens: 0 }, mine)).toBe('0.5')
    expect(
      usd(
        {
          model: 'acme-long',
          input_tokens: 300_000,
          cache_write_tokens: 100_000,
          cache_write_1h_tokens: 100_000,
          output_tokens: 0,
        },
        mine,
      ),
    ).toBe('1')
    expect(usd({ model: 'openai/gpt-4o', provider: 'openrouter', ...million }, mine)).toBe('2.6')
    // Rates the list gives without tiers follow their sibling's tier: batch input above 200k at
    // half of $3, 1-hour writes above 200k at $6 x 7.5 / 3.75.
    expect(
      usd(
        { model: 'acme-tiered', endpoint: 'batch', input_tokens: 300_000, output_tokens: 0 },
        mine,
      ),
    ).toBe('0.45')
    expect(
      usd(
        {
          model: 'acme-tiered',
          input_tokens: 300_000,
          cache_write_tokens: 100_000,
          cache_write_1h_tokens: 100_000,
          output_tokens: 0,
        },
        mine,
      ),
    ).toBe('1.8')
    // The list's gpt-4o-mini is OpenAI's: a Groq call of that id is not priced by it.
    expect(usd({ model: 'gpt-4o-mini', provider: 'openai', ...million }, mine)).toBe('0.1')
    expect(price({ model: 'gpt-4o-mini', provider: 'groq', ...million }, mine).status).toBe(
      'unpriced',
    )
  })
})

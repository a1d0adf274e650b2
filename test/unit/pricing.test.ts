import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PricingError } from '../../platform/errors.ts'
import { formatUsd } from '../../platform/money.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import {
  loadCatalog,
  parseCatalog,
  type CatalogFile,
} from '../../processors/pricing/price-catalog.ts'
import { createPricer, type PriceResult } from '../../processors/pricing/pricer.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'

const pricer = createPricer(loadCatalog())

function price(overrides: Partial<LlmCallInput>): PriceResult {
  return pricer.price(makeLlmCall(overrides))
}

function priced(result: PriceResult): Extract<PriceResult, { status: 'priced' }> {
  if (result.status !== 'priced') throw new Error(`expected a price, got: ${result.reason}`)
  return result
}

/** Total cost of a call as a decimal USD string. */
function usd(overrides: Partial<LlmCallInput>): string {
  return formatUsd(priced(price(overrides)).cost.total)
}

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

describe('model resolution', () => {
  it('prices a dated gpt-4o-mini as gpt-4o-mini, not as gpt-4o', () => {
    const result = priced(
      price({ model: 'gpt-4o-mini-2024-07-18', input_tokens: MILLION, output_tokens: MILLION }),
    )
    expect(result.model.id).toBe('gpt-4o-mini')
    expect(result.matchedBy).toBe('prefix')
    expect(formatUsd(result.cost.total)).toBe('0.75') // 0.15 + 0.60; gpt-4o would be 12.5
    expect(usd({ model: 'gpt-4o', input_tokens: MILLION, output_tokens: MILLION })).toBe('12.5')
  })

  it('prices claude-sonnet-4-20250514 as claude-sonnet-4', () => {
    const result = priced(
      price({ model: 'claude-sonnet-4-20250514', input_tokens: MILLION, output_tokens: MILLION }),
    )
    expect(result.model.id).toBe('claude-sonnet-4')
    expect(formatUsd(result.cost.total)).toBe('18') // 3 + 15
  })

  it('lets an exact entry win over a prefix: gpt-4o-2024-05-13 kept its launch price', () => {
    const snapshot = priced(
      price({ model: 'gpt-4o-2024-05-13', input_tokens: MILLION, output_tokens: 0 }),
    )
    expect([snapshot.model.id, snapshot.matchedBy]).toEqual(['gpt-4o-2024-05-13', 'exact'])
    expect(formatUsd(snapshot.cost.total)).toBe('5')
    const later = priced(
      price({ model: 'gpt-4o-2024-08-06', input_tokens: MILLION, output_tokens: 0 }),
    )
    expect([later.model.id, later.matchedBy]).toEqual(['gpt-4o', 'prefix'])
    expect(formatUsd(later.cost.total)).toBe('2.5')
  })

  it('matches aliases exactly and ignores case and a provider path', () => {
    expect(priced(price({ model: 'gpt-4-0613' }))).toMatchObject({
      matchedBy: 'exact',
      model: { id: 'gpt-4' },
    })
    expect(priced(price({ model: 'GPT-4o' })).model.id).toBe('gpt-4o')
    expect(priced(price({ model: 'openai/gpt-4o-mini' })).model.id).toBe('gpt-4o-mini')
  })

  it('does not read a version number as a suffix: gpt-4.5-preview is not gpt-4', () => {
    expect(price({ model: 'gpt-4.5-preview' }).status).toBe('unpriced')
    expect(priced(price({ model: 'gpt-4.1-2025-04-14' })).model.id).toBe('gpt-4.1')
  })

  it('prefers the response_model, the one the provider bills, over the requested model', () => {
    const result = priced(
      price({
        model: 'gpt-4o',
        response_model: 'gpt-4o-mini',
        input_tokens: MILLION,
        output_tokens: 0,
      }),
    )
    expect([result.model.id, result.pricedModelId]).toEqual(['gpt-4o-mini', 'gpt-4o-mini'])
    expect(formatUsd(result.cost.total)).toBe('0.15')
    // A response_model the catalog does not know falls back to the requested model.
    expect(
      priced(price({ model: 'gpt-4o', response_model: 'gpt-4o-experimental-xyz' })).model.id,
    ).toBe('gpt-4o')
  })
})

describe('rates by kind of token', () => {
  it('prices cached input at the cached rate', () => {
    // GPT-4o: 2,000 uncached x $2.50 + 8,000 cached x $1.25 + 500 out x $10, per 1M
    const { cost } = priced(
      price({
        model: 'gpt-4o',
        input_tokens: 10_000,
        cache_read_tokens: 8_000,
        output_tokens: 500,
      }),
    )
    expect(formatUsd(cost.input)).toBe('0.005')
    expect(formatUsd(cost.cacheRead)).toBe('0.01')
    expect(formatUsd(cost.output)).toBe('0.005')
    expect(formatUsd(cost.total)).toBe('0.02')
  })

  it('prices Anthropic cache writes at the write rate', () => {
    // Sonnet 4: 1,000 uncached x $3 + 4,000 written x $3.75 + 5,000 read x $0.30 + 1,000 out x $15
    const { cost } = priced(
      price({
        model: 'claude-sonnet-4-20250514',
        provider: 'anthropic',
        input_tokens: 10_000,
        cache_write_tokens: 4_000,
        cache_read_tokens: 5_000,
        output_tokens: 1_000,
      }),
    )
    expect(formatUsd(cost.cacheWrite)).toBe('0.015')
    expect(formatUsd(cost.cacheRead)).toBe('0.0015')
    expect(formatUsd(cost.total)).toBe('0.0345') // 0.003 + 0.015 + 0.0015 + 0.015
  })

  it('prices reasoning tokens as output when the catalog does not price them apart', () => {
    // o3: 1,000 output tokens, 800 of them reasoning, all at $40 per 1M
    const { cost } = priced(
      price({ model: 'o3', input_tokens: 0, output_tokens: 1_000, reasoning_tokens: 800 }),
    )
    expect(formatUsd(cost.output)).toBe('0.008')
    expect(formatUsd(cost.reasoning)).toBe('0.032')
    expect(formatUsd(cost.total)).toBe('0.04')
  })

  it('prices reasoning tokens at their own rate when the catalog has one', () => {
    const own = createPricer(
      parseCatalog(
        catalogOf([
          {
            id: 'thinker',
            prices: [{ effective_from: '2025-01-01', input: '1', output: '40', reasoning: '60' }],
          },
        ]),
      ),
    )
    const result = own.price(
      makeLlmCall({
        model: 'thinker',
        input_tokens: 0,
        output_tokens: 1_000,
        reasoning_tokens: 800,
      }),
    )
    expect(formatUsd(priced(result).cost.total)).toBe('0.056') // 200 x $40 + 800 x $60, per 1M
  })

  it('prices the batch endpoint at the discounted rate', () => {
    expect(
      usd({ model: 'gpt-4o', endpoint: 'batch', input_tokens: MILLION, output_tokens: MILLION }),
    ).toBe('6.25') // half of 2.50 + 10.00
    expect(
      usd({
        model: 'gemini-2.5-flash',
        endpoint: 'batch',
        input_tokens: MILLION,
        cache_read_tokens: MILLION,
        output_tokens: 0,
      }),
    ).toBe('0.01875') // half of $0.0375: finer than a nano-dollar per token, still exact
  })
})

describe('price history', () => {
  it('prices GPT-4o at $5 / $15 before 2024-10-02 and at $2.50 / $10 from then on', () => {
    const call = { model: 'gpt-4o', input_tokens: MILLION, output_tokens: MILLION }
    const before = priced(price({ ...call, occurred_at: '2024-10-01T23:59:59.999Z' }))
    const after = priced(price({ ...call, occurred_at: '2024-10-02T00:00:00Z' }))
    expect(formatUsd(before.cost.total)).toBe('20')
    expect(before.priceVersion).toBe('2026-03:gpt-4o@2024-05-13')
    expect(formatUsd(after.cost.total)).toBe('12.5')
    expect(after.priceVersion).toBe('2026-03:gpt-4o@2024-10-02')
  })

  it('leaves an event from before the first price unpriced', () => {
    const result = price({ model: 'gpt-4.1', occurred_at: '2025-01-01T00:00:00Z' })
    expect(result).toMatchObject({ status: 'unpriced', pricedModelId: 'gpt-4.1' })
    expect(result.status === 'unpriced' && result.reason).toMatch(/no price for gpt-4.1 in effect/)
  })
})

describe('unknown and self-hosted models', () => {
  it('marks an unknown model unpriced with a reason, never a zero cost', () => {
    const result = price({ model: 'acme-llm-9', input_tokens: 1_000, output_tokens: 1_000 })
    expect(result.status).toBe('unpriced')
    expect(result).not.toHaveProperty('cost')
    expect(result).toMatchObject({ pricedModelId: 'acme-llm-9' })
    expect(result.status === 'unpriced' && result.reason).toMatch(
      /"acme-llm-9" is not in price catalog 2026-03/,
    )
  })

  it.each([
    ['llama3.1-70b', 'self-hosted'],
    ['llama3.1-70b', undefined],
    ['meta-llama/Llama-3.3-70B-Instruct', 'vLLM'],
    ['mistral-7b-instruct', 'self-hosted'],
    ['mistral-7b', 'ollama'],
    ['mixtral', undefined],
  ])('prices self-hosted %s from provider %s at exactly 0, as priced', (model, provider) => {
    const result = priced(price({ model, provider, input_tokens: MILLION, output_tokens: MILLION }))
    expect(result.model.selfHosted).toBe(true)
    expect(result.cost.total).toBe(0n)
  })

  it.each([
    ['mistral-large-latest', 'mistral'],
    ['llama-3.3-70b-versatile', 'groq'],
    ['llama3.1-8b', 'together'],
  ])('does not price %s from provider %s as a free self-hosted model', (model, provider) => {
    const result = price({ model, provider, input_tokens: MILLION, output_tokens: MILLION })
    expect(result.status).toBe('unpriced')
    expect(result.status === 'unpriced' && result.reason).toContain(`provider ${provider}`)
  })

  it('restricts an entry to its listed providers, ignoring case, and lets others match any', () => {
    const prices = [{ effective_from: '2025-01-01', input: '1', output: '2' }]
    const own = createPricer(
      parseCatalog(
        catalogOf([
          { id: 'house-model', providers: ['Acme-Cloud'], prices },
          { id: 'open-model', prices },
        ]),
      ),
    )
    const at = (model: string, provider: string | undefined): string =>
      own.price(makeLlmCall({ model, provider })).status
    expect(at('house-model', 'acme-cloud')).toBe('priced')
    expect(at('house-model', undefined)).toBe('priced')
    expect(at('house-model', 'other-cloud')).toBe('unpriced')
    expect(at('open-model', 'other-cloud')).toBe('priced')
    const refused = own.price(makeLlmCall({ model: 'house-model', provider: 'other-cloud' }))
    expect(refused.status === 'unpriced' && refused.reason).toMatch(
      /provider other-cloud.*only acme-cloud/,
    )
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

  it('refuses a providers list that is empty or not a list of names', () => {
    const prices = [{ effective_from: '2025-01-01', input: '1', output: '2' }]
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', providers: [], prices }])),
      /models\.0\.providers: list at least one provider/,
    )
    expectPricingError(
      () => parseCatalog({ version: 'x', models: [{ id: 'm', providers: 'ollama', prices }] }),
      /models\.0\.providers/,
    )
  })

  it('refuses two price periods of one model starting the same day', () => {
    const periods = [
      { effective_from: '2025-01-01', input: '1', output: '2' },
      { effective_from: '2025-01-01', input: '3', output: '4' },
    ]
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', prices: periods }])),
      /models\.0\.prices\.1\.effective_from/,
    )
  })

  it('refuses a model id used twice', () => {
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

  it('refuses a batch discount that would make a rate a fraction of a nano-USD per 1M', () => {
    const cheap = [{ effective_from: '2025-01-01', input: '0.000000001', output: '1' }]
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', batch_discount: '0.5', prices: cheap }])),
      /models\.0\.prices\.0: batch rate for input is not a whole nano-USD/,
    )
    // $0.0375 per 1M is 37,500,000 nano-USD; keeping 66.6667 % of it leaves half a nano-USD
    const odd = [
      { effective_from: '2025-01-01', input: '0.15', output: '0.60', cache_read: '0.0375' },
    ]
    expectPricingError(
      () => parseCatalog(catalogOf([{ id: 'm', batch_discount: '0.333333', prices: odd }])),
      /batch rate for cache_read/,
    )
  })
})

describe('a public JSON price list', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spendguard-prices-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  function writeList(list: unknown): string {
    const path = join(dir, `list-${Math.random().toString(36).slice(2)}.json`)
    writeFileSync(path, JSON.stringify(list))
    return path
  }

  it('loads through loadCatalog and prices exactly', () => {
    const path = writeList({
      sample_spec: { input_cost_per_token: 0, output_cost_per_token: 0 },
      'acme-4o': {
        input_cost_per_token: 2.5e-6,
        output_cost_per_token: 1e-5,
        cache_read_input_token_cost: 1.25e-6,
        litellm_provider: 'openai',
      },
      'dall-e-3': { output_cost_per_image: 0.04, litellm_provider: 'openai' },
    })
    const catalog = loadCatalog(path)
    expect(catalog.version).toMatch(/^public-[0-9a-f]{12}$/)
    expect(catalog.models.map((m) => m.id)).toEqual(['acme-4o'])
    const result = priced(
      createPricer(catalog).price(
        makeLlmCall({
          model: 'acme-4o-2026-01-01',
          input_tokens: 10_000,
          cache_read_tokens: 4_000,
          output_tokens: 1_000,
        }),
      ),
    )
    expect(result.model.provider).toBe('openai')
    // 6,000 x 2.5e-6 + 4,000 x 1.25e-6 + 1,000 x 1e-5
    expect(formatUsd(result.cost.input)).toBe('0.015')
    expect(formatUsd(result.cost.cacheRead)).toBe('0.005')
    expect(formatUsd(result.cost.total)).toBe('0.03')
  })

  it('skips an entry whose cache cost cannot be held exactly instead of pricing it wrongly', () => {
    const path = writeList({
      'fine-model': { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 },
      'odd-model': {
        input_cost_per_token: 1e-6,
        output_cost_per_token: 2e-6,
        cache_read_input_token_cost: 1.234e-17,
      },
    })
    const own = createPricer(loadCatalog(path))
    expect(own.price(makeLlmCall({ model: 'odd-model' })).status).toBe('unpriced')
    expect(own.price(makeLlmCall({ model: 'fine-model' })).status).toBe('priced')
  })

  it('reports a file that is missing or not JSON as a PricingError', () => {
    expectPricingError(() => loadCatalog(join(dir, 'missing.json')), /cannot read price catalog/)
    const path = join(dir, 'broken.json')
    writeFileSync(path, '{ not json')
    expectPricingError(() => loadCatalog(path), /is not valid JSON/)
  })
})
